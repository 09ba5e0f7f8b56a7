"""Assignment pages: what is due when, what the group handed in, and the hand-in form.

Syllabus, "Late policy": "3 total slack days … At most one slack day may be applied to any
single assignment. Slack days extend the deadline by 24 hours." A late hand-in within 24 h
spends a slack day only when the submitter ticks the confirmation (issue 3), in the same
transaction as the submission — ``course.service.submissions.submit`` decides, this page
shows the deadline that applied. Every hand-in carries the academic-integrity statement.
Files are kept content-addressed under ``<data_dir>/uploads`` and the submission stores the
link to them; only the group and staff can open them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload
from starlette.datastructures import UploadFile

from scalable_ai.course.links import is_upload_link
from scalable_ai.course.policy.integrity import STATEMENT_FIELDS
from scalable_ai.course.policy.schedule import released_at
from scalable_ai.course.service import grading_jobs
from scalable_ai.course.service import submissions as submission_service
from scalable_ai.course.service.actors import Actor, current_group_id, require_member_or_staff
from scalable_ai.course.service.course import assignment_by_key, due_at, settings_of
from scalable_ai.course.service.slack import slack_balance
from scalable_ai.course.tables import Assignment, GradingJob, Group, Submission, WrittenAnswer
from scalable_ai.course.upload_limits import HAND_IN_FILE_BYTES, UPLOAD_ROUTE_BYTES
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import NotFound, UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
CHUNK_BYTES = 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
INTEGRITY_LABELS = {
    "external_code": "External code used (repositories, snippets) — or 'none'",
    "sources": "Sources used (papers, posts, docs) — or 'none'",
    "ai_assistance": "AI assistance used (which tool, for what) — or 'none'",
}


@router.get("/assignments")
def assignment_list(visit: VisitDep) -> Response:
    """Each assignment with the deadline that applies to the student (an exception's, or
    24 hours later once a slack day is applied) and the group's latest hand-in."""
    me = visit.person()
    actor = visit.actor()
    settings = settings_of(visit.db)
    if not me.is_staff:
        rows = [
            (s.assignment, s.due, s.deadline, s.submission)
            for s in submission_service.assignment_statuses(visit.db, actor, me.id)
        ]
    else:
        assignments = visit.db.scalars(select(Assignment).order_by(Assignment.due_on)).all()
        rows = [(a, due_at(a, settings), due_at(a, settings), None) for a in assignments]
    # an assignment is "open" only from its release (A4/A5 read "open" before it, issue 13)
    opens_at = {a.key: released_at(a.released_on, settings) for a, *_ in rows}
    return visit.page(
        "assignments.html", title="Assignments", active="/assignments", rows=rows, opens_at=opens_at
    )


#: Hand-ins an assignment page lists before "Show every hand-in".
HAND_INS_SHOWN = 10


@router.get("/assignments/{key}")
def assignment_page(visit: VisitDep, key: str, every: bool = False) -> Response:
    """The assignment: dates, the hand-in form, the slack-day choice, and the newest
    hand-ins (``?every=1``: all of them; staff grade from ``/staff/assignments/{key}``)."""
    me = visit.person()
    actor = visit.actor()
    settings = settings_of(visit.db)
    assignment = assignment_by_key(visit.db, key)
    due = due_at(assignment, settings)
    handed_in = submission_service.list_submissions(
        visit.db, actor, assignment=assignment.key, newest=None if every else HAND_INS_SHOWN + 1
    )
    earlier = not every and len(handed_in) > HAND_INS_SHOWN
    handed_in = handed_in[1:] if earlier else handed_in
    balance = None if me.is_staff else slack_balance(visit.db, actor, me.id)
    status = (
        None
        if me.is_staff
        else next(
            s
            for s in submission_service.assignment_statuses(visit.db, actor, me.id)
            if s.assignment.id == assignment.id
        )
    )
    slack_used_here = balance is not None and any(
        e.assignment_id == assignment.id and e.revoked_at is None for e in balance.entries
    )
    return visit.page(
        "assignment.html",
        title=f"{assignment.key}: {assignment.title}",
        active="/assignments",
        assignment=assignment,
        due=due,
        slack_end=due + timedelta(hours=settings.slack_day_hours),
        late_now=visit.now > due,
        handed_in=list(reversed(handed_in)),
        earlier_hand_ins=earlier,
        every_hand_in=every,
        balance=balance,
        slack_used_here=slack_used_here,
        status=status,
        group=None if me.is_staff else _own_group(visit.db, me.id),
        integrity_labels=INTEGRITY_LABELS,
        slack_day_hours=settings.slack_day_hours,
        opens_at=released_at(assignment.released_on, settings),
        grading=_grading(visit.db, actor, assignment.key),
        has_questions=_has_questions(assignment.key),
        group_names=(
            {g.id: g.name for g in visit.db.scalars(select(Group))} if me.is_staff else {}
        ),
    )


def _grading(db: Session, actor: Actor, key: str) -> list[tuple[GradingJob, dict | None]]:
    """The autograder's jobs for this assignment (the group's own, or all for staff), each
    with what the viewer may see of its results (students: visible tests only)."""
    jobs = grading_jobs.list_jobs(db, actor, assignment=key)
    return [(job, grading_jobs.visible_results(job, actor)) for job in jobs]


def _has_questions(key: str) -> bool:
    """Whether the assignment's kit has conceptual questions to answer on the platform."""
    from scalable_ai.kits.kit import kits_root

    return (kits_root() / key / "questions.yaml").is_file()


_GROUP_WITHOUT_MEMBERS = (
    select(Group).where(Group.id == bindparam("group_id")).options(lazyload(Group.memberships))
)


def _own_group(db: Session, person_id: int) -> Group | None:
    """The student's group for the hand-in form, which shows only its name: without the
    member list (``my_group`` loads it for the dashboard), one query fewer per page view."""
    group_id = current_group_id(db, person_id)
    if group_id is None:
        return None
    return db.scalar(_GROUP_WITHOUT_MEMBERS, {"group_id": group_id})


@dataclass(frozen=True)
class HeldUpload:
    """A file a hand-in carries, read once (its size and SHA-256) but not yet kept: it is
    written to ``uploads/`` only after the hand-in is accepted (``keep``)."""

    upload: UploadFile
    digest: str
    name: str
    size: int

    @property
    def link(self) -> str:
        return f"/uploads/{self.digest}/{self.name}"

    def keep(self, data_dir: Path) -> None:
        """Copy the file into ``<data_dir>/uploads/<sha256>/<name>`` (atomically: a reader
        never sees half a file; the same content is kept once)."""
        folder = data_dir / "uploads" / self.digest
        target = folder / self.name
        if target.is_file() and target.stat().st_size == self.size:
            return
        folder.mkdir(parents=True, exist_ok=True)
        self.upload.file.seek(0)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, prefix=".part-") as out:
            shutil.copyfileobj(self.upload.file, out, CHUNK_BYTES)
        os.replace(out.name, target)


def hold_upload(upload: UploadFile) -> HeldUpload:
    """Hash the uploaded file chunk by chunk, refusing it past the hand-in limit (the route's
    body limit already stopped the request from growing further)."""
    digest, size = hashlib.sha256(), 0
    upload.file.seek(0)
    while chunk := upload.file.read(CHUNK_BYTES):
        size += len(chunk)
        if size > HAND_IN_FILE_BYTES:
            raise UserError(
                f"files are limited to {HAND_IN_FILE_BYTES // 2**20} MiB; hand in a link instead",
                field="file",
            )
        digest.update(chunk)
    name = SAFE_NAME.sub("_", Path(upload.filename or "submission").name)[:120] or "submission"
    return HeldUpload(upload, digest.hexdigest(), name, size)


def group_upload_bytes(db: Session, data_dir: Path, group_id: int) -> int:
    """Bytes the group's handed-in files take (each distinct file once)."""
    links = set(
        db.scalars(
            select(Submission.link).where(
                Submission.group_id == group_id, Submission.link.like("/uploads/%")
            )
        )
    )
    total = 0
    for link in links:
        path = data_dir / link.removeprefix("/")
        if is_upload_link(link) and path.is_file():
            total += path.stat().st_size
    return total


@router.post("/assignments/{key}/submit", max_body_size=UPLOAD_ROUTE_BYTES["hand_in"])
def submit(visit: VisitDep, form: FormDep, key: str) -> Response:
    """Hand in a link or a file. The file is kept only once the hand-in is accepted (a
    refused late hand-in leaves nothing behind) and while the group is under its quota."""
    visit.person()
    back = f"/assignments/{key}"
    upload = form.get("file")
    link = str(form.get("link") or "").strip() or None
    data_dir = Path(visit.state.settings.data_dir)

    def use_case() -> Submission:
        held = None
        if isinstance(upload, UploadFile) and upload.filename:
            held = hold_upload(upload)
        elif not link:
            raise UserError("hand in a file or a link", field="link")
        row = submission_service.submit(
            visit.db,
            visit.actor(),
            assignment=key.upper(),
            integrity={
                name: form.get(f"integrity_{name}") or form.get("integrity_statement")
                for name in STATEMENT_FIELDS
            },
            confirm_slack_day=bool(form.get("confirm_slack_day")),
            link=None if held else link,
            upload=held.link if held else None,
            clock=visit.state.clock,
        )
        if held is not None:
            quota = visit.state.limits.group_upload_quota_bytes
            used = group_upload_bytes(visit.db, data_dir, row.group_id or 0)
            if used + held.size > quota:
                raise UserError(
                    f"your group's files would take more than {quota // 2**20} MiB; "
                    "hand in a link instead",
                    field="file",
                )
            held.keep(data_dir)
        return row

    return visit.act(
        use_case,
        back=back,
        ok=lambda row: f"Submitted {key.upper()} ({row.deadline_reason}).",
        keep=form,
    )


@router.post("/staff/assignments/{key}/regrade")
def regrade(visit: VisitDep, form: FormDep, key: str) -> Response:
    """Staff, after fixing a kit's autograder: grade every group's latest graded hand-in of
    the assignment again (the button on the assignment page's Autograder card; the worker
    does the grading, and the old and new scores both stay in the audit log)."""
    visit.person()
    return visit.act(
        lambda: grading_jobs.regrade_assignment(
            visit.db, visit.actor(), key.upper(), clock=visit.state.clock
        ),
        back=f"/assignments/{key.upper()}#h-grading",
        ok=lambda jobs: f"Queued {len(jobs)} hand-in(s) of {key.upper()} for grading again.",
    )


@router.get("/uploads/{digest}/{name}")
def uploaded_file(visit: VisitDep, digest: str, name: str) -> Response:
    """A handed-in file (a hand-in's, or a written answer's PDF): its group's members and
    staff only."""
    visit.person()
    link = f"/uploads/{digest}/{name}"
    row: Submission | WrittenAnswer | None = visit.db.scalar(
        select(Submission).where(Submission.link == link).limit(1)
    ) or visit.db.scalar(select(WrittenAnswer).where(WrittenAnswer.pdf_link == link).limit(1))
    if row is None or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise NotFound("no such handed-in file", field="file")
    # A written answer's PDF, like a group's hand-in: its members' and staff's.
    if isinstance(row, WrittenAnswer) or row.group_id is not None:
        require_member_or_staff(visit.db, visit.actor(), row.group_id, "open this file")
    elif not visit.actor().is_staff and row.person_id != visit.actor().person_id:
        raise NotFound("no such handed-in file", field="file")
    path = Path(visit.state.settings.data_dir) / "uploads" / digest / name
    if not path.is_file():
        raise NotFound("the file is no longer stored", field="file")
    return FileResponse(path, filename=name)

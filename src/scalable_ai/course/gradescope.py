"""Importing a Gradescope gradebook export, with the late policy applied to its lateness.

The syllabus's submission platform is Gradescope. Its gradebook CSV has one row per student:
``SID``, ``Name`` (or ``First Name`` and ``Last Name``), ``Email``, optionally
``section_name``, then four columns per assignment (``<Assignment>`` the score,
``<Assignment> - Max Points``, ``<Assignment> - Submission Time``, ``<Assignment> - Lateness
(H:M:S)``) and a final ``Total Lateness (H:M:S)``. (gradelib's Gradescope reader documents
the same layout.)

``--map 'Assignment 1=A1'`` names which Gradescope assignment is which course item
(``A1`` means ``A1.code``; ``A1.written`` or a course item such as ``scribing`` may be
named). For assignments the late rules apply to the reported lateness, measured from the
course deadline: on time; up to 24 hours late a slack day is spent for the student's group
(if every member has one left, or one is already applied); later only with an approved
exception; otherwise the score is not recorded, and the report says which rule refused it.
The import runs as a dry run first: the same work inside a SAVEPOINT that is rolled back.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock, FixedClock
from scalable_ai.course.policy import late as rules
from scalable_ai.course.service.actors import Actor, current_group_id, require_staff
from scalable_ai.course.service.course import assignment_by_key, due_at, settings_of
from scalable_ai.course.service.grades import record_score, score_items
from scalable_ai.course.service.groups import lock_group
from scalable_ai.course.service.slack import lock_people, spend_for_group
from scalable_ai.course.service.submissions import judge_hand_in
from scalable_ai.course.tables import Person, Submission
from scalable_ai.errors import UserError

LATENESS = re.compile(r"^\s*(\d+):([0-5]\d):([0-5]\d)\s*$")
DECLARED = {
    "external_code": "declared on Gradescope",
    "sources": "declared on Gradescope",
    "ai_assistance": "declared on Gradescope",
}


@dataclass(frozen=True)
class GradebookEntry:
    """One student's result for one Gradescope assignment."""

    sid: str
    name: str
    email: str
    assignment: str
    score: float | None
    max_points: float | None
    submitted: str
    lateness: timedelta


#: Each outcome of an imported row, in the words the report prints (issue 13: a hand-in
#: accepted under an exception was labelled ``late_within_slack_day``).
OUTCOME_WORDS = {
    "recorded": "recorded",
    "late_slack_day": "late, a slack day spent",
    "late_within_slack_day": "late, within a slack day already spent",
    "late_under_exception": "late, under an approved exception",
    "refused": "refused",
    "unknown": "not on the roster",
    "missing": "missing",
}


@dataclass
class ImportLine:
    email: str
    item: str
    outcome: str  # a key of OUTCOME_WORDS
    message: str


@dataclass
class ImportReport:
    applied: bool
    lines: list[ImportLine] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    def text(self) -> str:
        head = "Applied" if self.applied else "Dry run (nothing stored; add --apply)"
        summary = ", ".join(f"{self.count(o)} {words}" for o, words in OUTCOME_WORDS.items())
        rows = [
            f"  {OUTCOME_WORDS[line.outcome]:<34} {line.email:<36} {line.item:<10} {line.message}"
            for line in self.lines
        ]
        return "\n".join([f"{head}: {summary}", *rows]) + "\n"


def parse_lateness(text: str, *, where: str) -> timedelta:
    """Gradescope's ``H:M:S`` (hours may exceed 24); empty means not late."""
    if not text.strip():
        return timedelta(0)
    match = LATENESS.match(text)
    if match is None:
        raise UserError(f"lateness must be H:M:S, got {text!r}", field=where)
    hours, minutes, seconds = (int(g) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _number(text: str, where: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"not a number: {text!r}", field=where) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UserError(f"not a number: {text!r}", field=where)
    return value


def read_gradebook(text: str) -> list[GradebookEntry]:
    """Parse the CSV; errors name the row and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    for required in ("SID", "Email"):
        if required not in header:
            raise UserError(f"the gradebook has no {required!r} column", field="file")
    if "Name" not in header and not {"First Name", "Last Name"} <= set(header):
        raise UserError(
            "the gradebook has neither 'Name' nor 'First Name'/'Last Name'", field="file"
        )
    names = [h[: -len(" - Max Points")] for h in header if h.endswith(" - Max Points")]
    for name in names:
        for column in (name, f"{name} - Submission Time", f"{name} - Lateness (H:M:S)"):
            if column not in header:
                raise UserError(f"missing column {column!r}", field="file")
    entries = []
    for line, row in enumerate(reader, start=2):
        full = row.get("Name") or f"{row.get('First Name', '')} {row.get('Last Name', '')}"
        for name in names:
            where = f"row {line}, {name}"
            entries.append(
                GradebookEntry(
                    sid=(row.get("SID") or "").strip(),
                    name=full.strip(),
                    email=(row.get("Email") or "").strip().lower(),
                    assignment=name,
                    score=_number(row.get(name) or "", where),
                    max_points=_number(row.get(f"{name} - Max Points") or "", where),
                    submitted=(row.get(f"{name} - Submission Time") or "").strip(),
                    lateness=parse_lateness(
                        row.get(f"{name} - Lateness (H:M:S)") or "", where=where
                    ),
                )
            )
    return entries


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``['Assignment 1=A1', ...]`` → {Gradescope name: course item}."""
    mapping = {}
    for pair in pairs:
        name, sep, item = pair.rpartition("=")
        if not sep or not name.strip() or not item.strip():
            raise UserError(f"a mapping is 'Gradescope name=A1', got {pair!r}", field="map")
        item = item.strip()
        mapping[name.strip()] = f"{item.upper()}.code" if re.fullmatch(r"[Aa]\d+", item) else item
    return mapping


def import_gradebook(
    session: Session,
    actor: Actor,
    text: str,
    mapping: Mapping[str, str],
    *,
    apply: bool,
    clock: Clock,
) -> ImportReport:
    """Load scores (and apply the late rules); with ``apply=False`` nothing is stored."""
    require_staff(actor, "import grades")
    entries = read_gradebook(text)
    known = {e.assignment for e in entries}
    for name in mapping:
        if name not in known:
            raise UserError(
                f"the gradebook has no assignment {name!r} (it has "
                + ", ".join(sorted(known))
                + ")",
                field="map",
            )
    items = set(score_items(session))
    for item in mapping.values():
        if item not in items:
            raise UserError(f"unknown score item {item!r}", field="map")
    report = ImportReport(applied=apply)
    savepoint = session.begin_nested()
    try:
        for entry in entries:
            if entry.assignment in mapping:
                report.lines.append(
                    _import_one(session, actor, entry, mapping[entry.assignment], clock)
                )
        session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    if apply:
        savepoint.commit()
    else:
        savepoint.rollback()
    return report


def _student(session: Session, entry: GradebookEntry) -> Person | None:
    if entry.sid:
        person = session.scalar(select(Person).where(Person.sid == entry.sid))
        if person is not None:
            return person
    return session.scalar(select(Person).where(func.lower(Person.email) == entry.email))


def _import_one(
    session: Session, actor: Actor, entry: GradebookEntry, item: str, clock: Clock
) -> ImportLine:
    person = _student(session, entry)
    who = entry.email or entry.sid or entry.name
    if person is None or person.role != "student":
        return ImportLine(who, item, "unknown", "no student with this SID or email: skipped")
    if entry.score is None:
        return ImportLine(person.email, item, "missing", "no score in the gradebook")
    max_points = entry.max_points or 100.0
    outcome, message = "recorded", "on time"
    key = item.split(".")[0]
    if re.fullmatch(r"A\d+", key) and entry.lateness > timedelta(0):
        outcome, message = _late(session, actor, person, key, entry, clock)
        if outcome == "refused":
            return ImportLine(person.email, item, outcome, message)
    record_score(
        session,
        actor,
        person_id=person.id,
        item=item,
        points=min(max(entry.score, 0.0), max_points),
        max_points=max_points,
        comment=f"Gradescope: {entry.assignment}",
        source="gradescope",
        clock=clock,
    )
    return ImportLine(person.email, item, outcome, f"{entry.score:g}/{max_points:g}; {message}")


def _late(
    session: Session, actor: Actor, person: Person, key: str, entry: GradebookEntry, clock: Clock
) -> tuple[str, str]:
    """Judge a late submission by the course rules; spend a slack day when they allow it."""
    assignment = assignment_by_key(session, key)
    settings = settings_of(session)
    due = due_at(assignment, settings)
    submitted_at = due + entry.lateness
    group_id = current_group_id(session, person.id)
    group = lock_group(session, group_id) if group_id is not None else None
    members = lock_people(session, [p.id for p in group.members] if group else [person.id])
    verdict = judge_hand_in(
        session,
        person,
        group,
        members,
        key,
        due,
        submitted_at,
        is_assignment=True,
        confirm_slack_day=True,
        settings=settings,
    )
    hms = _hms(entry.lateness)
    if not verdict.accepted:
        return "refused", f"{hms} late: {verdict.message}; score not recorded"
    submission = Submission(
        assignment_id=assignment.id,
        group_id=group.id if group else None,
        person_id=person.id,
        submitted_at=submitted_at,
        deadline_applied=verdict.applied_deadline,
        deadline_reason=verdict.message,
        slack_day_used=verdict.verdict is rules.Verdict.ACCEPTED_WITH_SLACK_DAY,
        integrity=DECLARED,
        source="gradescope",
    )
    session.add(submission)
    session.flush()
    if verdict.spends_slack_day:
        spend_for_group(
            session,
            actor,
            group,
            assignment,
            members=members,
            clock=FixedClock(clock.now()),
            submission_id=submission.id,
        )
        return "late_slack_day", f"{hms} late: a slack day is spent"
    if verdict.verdict is rules.Verdict.ACCEPTED_BY_EXCEPTION:
        return "late_under_exception", f"{hms} late: {verdict.message}"
    return "late_within_slack_day", f"{hms} late: {verdict.message}"


def _hms(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

"""The community part of the demo course: the questionnaire answered and finalized, research
directions and the groups' choices, Q&A with announcements, endorsed answers, a private and
an anonymous question, infrastructure tickets, comments on lecture notes, scribe notes in
every review state, attendance, enhancements and project deliverables.

``sai up`` calls :func:`seed_community_demo` after the core demo (``course.demo.seed_demo``)
on the same session. As there, each thing happens through the service layer at the moment
it would have happened, and only if that moment is before the clock's now, so a demo at any
``SAI_NOW`` is consistent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import BERKELEY, Clock, FixedClock
from scalable_ai.course.community.questions import DEFAULT_QUESTIONS
from scalable_ai.course.community.service import forum, notes, participation, project
from scalable_ai.course.community.service import questionnaire as onboarding
from scalable_ai.course.service import Actor
from scalable_ai.course.tables import Group, Lecture, Person, ScribeAssignment

GPU = DEFAULT_QUESTIONS[1].options
TIME = DEFAULT_QUESTIONS[3].options
DIRECTIONS = (
    (
        "Muon at scale",
        "Does Muon keep its edge over AdamW past 1B parameters on one 8×H100 "
        "node, and what does it cost in communication?",
    ),
    (
        "FP8 KV cache for long context",
        "Quantize the KV cache to FP8 in a paged-attention "
        "server and measure quality against memory and throughput.",
    ),
    (
        "Verifiable-reward RL environments",
        "Build a small suite of verifiable tasks and study GRPO's sample efficiency on them. "
        "Start from `sai grpo --env arithmetic` and docs/post-training.md (adding an environment).",
    ),
    (
        "Which GRPO? DAPO, Dr. GRPO, RLOO and asynchronous rollouts",
        "Compare the variants of one GRPO loop on the arithmetic environment by reward against "
        "steps and against wall-clock, and find where off-policy (async) rollouts stop paying. "
        "Start from `sai grpo --variant dapo` (also dr_grpo, rloo, async; docs/greenfields.md).",
    ),
    (
        "Diffusion LMs vs autoregressive decoding",
        "Compare a masked diffusion LM with an "
        "autoregressive model of the same size on quality per GPU-second. Start from "
        "`sai train --preset tiny --objective diffusion` and `python bench/diffusion.py` "
        "(docs/greenfields.md).",
    ),
)


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> FixedClock:
    return FixedClock(datetime(2026, month, day, hour, minute, tzinfo=BERKELEY))


def seed_community_demo(session: Session, clock: Clock) -> dict[str, int]:
    """Fill the community side of the demo course up to ``clock``'s now; returns counts."""
    demo = _CommunityDemo(session, clock.now())
    students = list(
        session.scalars(select(Person).where(Person.role == "student").order_by(Person.id))
    )
    staff = session.scalars(select(Person).where(Person.role == "staff").order_by(Person.id)).all()
    demo.staff_person = staff[2] if len(staff) > 2 else (staff[0] if staff else None)
    teams = list(session.scalars(select(Group).order_by(Group.id)))
    demo.questionnaire(students)
    demo.directions(teams)
    threads = demo.forum(students, teams)
    demo.notes(students)
    demo.attendance(students)
    demo.project(teams)
    session.flush()
    return {"threads": threads}


class _CommunityDemo:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now
        self.tool = Actor.local_staff("demo seed")
        self.staff_person: Person | None = None

    @property
    def staff(self) -> Actor:
        return Actor.of(self.staff_person) if self.staff_person else self.tool

    def happened(self, moment: FixedClock) -> bool:
        return moment.now() <= self.now

    def questionnaire(self, students: list[Person]) -> None:
        onboarding.install_default_questions(self.session, self.tool, clock=at(1, 19, 9))
        if not self.happened(at(1, 20, 11)):
            return
        onboarding.release(self.session, self.staff, clock=at(1, 20, 11))
        for i, person in enumerate(students):
            moment = at(1, 21 + i % 6, 9 + i % 8)
            if not self.happened(moment):
                continue
            teammate = students[i + 1 if i % 5 == 0 else i - 1] if i % 5 in (0, 1) else None
            onboarding.submit_answers(
                self.session,
                Actor.of(person),
                {
                    "background": f"{'EECS PhD' if i % 3 == 0 else 'EECS MEng'}, year {1 + i % 4}",
                    "gpu_experience": GPU[i % 4],
                    "preferred_teammates": teammate.email if teammate else "",
                    "time_commitments": TIME[2 if i == 7 else i % 2],
                },
                clock=moment,
            )
        if self.happened(at(1, 29, 18)):
            onboarding.finalize_enrollment(self.session, self.staff, clock=at(1, 29, 18))

    def directions(self, teams: list[Group]) -> None:
        posted = at(1, 22, 8)
        if not self.happened(posted):
            return
        rows = [
            project.post_direction(
                self.session, self.staff, title=title, summary=summary, clock=posted
            )
            for title, summary in DIRECTIONS
        ]
        self.session.flush()
        for g, team in enumerate(teams):
            moment = at(2, 2 + g % 4, 15)
            if not self.happened(moment):
                continue
            member = Actor.of(team.members[0])
            if g == 3:
                project.choose_direction(
                    self.session,
                    member,
                    team.id,
                    own_title="Paged attention on CPU and H100",
                    own_summary="Port our paged KV cache to the H100 and "
                    "compare scheduler policies.",
                    clock=moment,
                )
            else:
                project.choose_direction(
                    self.session, member, team.id, direction_id=rows[g % len(rows)].id, clock=moment
                )
            reviewed = at(2, 6, 10)
            if self.happened(reviewed) and g != 6:
                project.review_direction(
                    self.session,
                    self.staff,
                    team.id,
                    decision="accepted",
                    feedback="Approved: good scope.",
                    clock=reviewed,
                )

    def forum(self, students: list[Person], teams: list[Group]) -> int:
        count = 0
        if self.happened(at(1, 20, 12)):
            forum.post_announcement(
                self.session,
                self.staff,
                title="Welcome: questionnaire is out",
                body="Please answer the **onboarding questionnaire** by Jan 27; we finalize "
                "enrollment and groups on Jan 29.",
                clock=at(1, 20, 12),
            )
            count += 1
        if self.happened(at(1, 27, 10)):
            forum.post_announcement(
                self.session,
                self.staff,
                category="A1",
                title="A1 released",
                body="The Parallelism Assignment is out; checkoff slots open soon.",
                clock=at(1, 27, 10),
            )
            count += 1
        if self.happened(at(2, 3, 14)):
            ask = Actor.of(students[0])
            thread = forum.post_question(
                self.session,
                ask,
                category="A1",
                title="FSDP2 vs DDP memory on 8 GPUs",
                body="With `fully_shard` per block I see **higher** peak memory than DDP at "
                "batch 8. Is that expected?",
                clock=at(2, 3, 14),
            )
            self.session.flush()
            reply = forum.answer(
                self.session,
                Actor.of(students[6]),
                thread.id,
                body="Check that you also shard the root module; otherwise "
                "the embeddings stay replicated.",
                clock=at(2, 3, 16),
            )
            self.session.flush()
            if self.happened(at(2, 4, 9)):
                forum.endorse(self.session, self.staff, reply.id, clock=at(2, 4, 9))
            forum.post_question(
                self.session,
                Actor.of(students[3]),
                category="lecture",
                title="RoPE base in L3",
                body="Why 10000 as the base?",
                anonymous=True,
                lecture_key="L3",
                clock=at(2, 4, 20),
            )
            forum.post_question(
                self.session,
                Actor.of(students[1]),
                category="project",
                title="Extension for a family emergency",
                body="Can we talk about the hypothesis deadline?",
                private=True,
                clock=at(2, 5, 8),
            )
            count += 3
        if teams and self.happened(at(2, 21, 23)):
            team = teams[7]
            ticket = forum.file_ticket(
                self.session,
                Actor.of(team.members[0]),
                title="node-8 unreachable over SSH",
                node_id=team.node_id or 1,
                occurred_at=at(2, 21, 22, 40).now(),
                job_ids="torchrun rdzv a2-sweep-17",
                logs="ssh: connect to host port 22: Connection timed out",
                repro="ssh student@<node-8 IP> from two networks",
                clock=at(2, 21, 23),
            )
            self.session.flush()
            for status, moment in (("acknowledged", at(2, 22, 8)), ("resolved", at(2, 23, 9))):
                if self.happened(moment):
                    forum.set_ticket_status(
                        self.session, self.staff, ticket.id, status, clock=moment
                    )
            count += 1
        if teams and self.happened(at(3, 4, 16)):
            team = teams[2]
            forum.file_ticket(
                self.session,
                Actor.of(team.members[1]),
                title="NCCL timeout in all-reduce",
                node_id=team.node_id or 1,
                occurred_at=at(3, 4, 15, 5).now(),
                job_ids="torchrun rdzv a3-dpo-4",
                logs="NCCL WARN Timeout waiting for collective ALLREDUCE after 1800000 ms",
                repro="torchrun --nproc-per-node 8 post/dpo.py --config a3.toml",
                clock=at(3, 4, 16),
            )
            count += 1
        return count

    def notes(self, students: list[Person]) -> None:
        lectures = {lec.key: lec for lec in self.session.scalars(select(Lecture))}
        for i, key in enumerate(k for k in ("L2", "L3", "L6", "L9") if k in lectures):
            moment = FixedClock(
                datetime.combine(lectures[key].held_on, datetime.min.time(), BERKELEY)
                + timedelta(hours=15)
            )
            if self.happened(moment):
                notes.comment_on_notes(
                    self.session,
                    Actor.of(students[(i * 7) % len(students)]),
                    key,
                    body="Slide 14: the bandwidth figure should be GB/s, not Gb/s.",
                    clock=moment,
                )
        assignments = self.session.scalars(
            select(ScribeAssignment).order_by(
                ScribeAssignment.lecture_id, ScribeAssignment.person_id
            )
        ).all()
        for n, row in enumerate(assignments[:6]):
            lecture = self.session.get(Lecture, row.lecture_id)
            assert lecture is not None
            handed = FixedClock(
                datetime.combine(lecture.held_on, datetime.min.time(), BERKELEY)
                + timedelta(days=4, hours=20)
            )
            if not self.happened(handed):
                continue
            person = self.session.get(Person, row.person_id)
            assert person is not None
            note = notes.submit_scribe_note(
                self.session,
                Actor.of(person),
                lecture.key,
                format="markdown",
                body=f"# {lecture.key}. {lecture.title}\n\nScribe notes: key ideas, "
                "equations and the figures discussed in class.",
                sources_statement="Drafted from my notes with an LLM; checked against the "
                "slides and the lecture recording.",
                clock=handed,
            )
            reviewed = FixedClock(handed.now() + timedelta(days=2))
            if n % 3 != 2 and self.happened(reviewed):
                self.session.flush()
                notes.review_scribe_note(
                    self.session,
                    self.staff,
                    note.id,
                    decision="accepted" if n % 3 == 0 else "returned",
                    feedback="" if n % 3 == 0 else "Add the derivation of the roofline bound.",
                    clock=reviewed,
                )

    def attendance(self, students: list[Person]) -> None:
        held = participation.lectures_held(self.session, FixedClock(self.now))
        for n, lecture in enumerate(held):
            moment = FixedClock(
                datetime.combine(lecture.held_on, datetime.min.time(), BERKELEY)
                + timedelta(hours=10, minutes=50)
            )
            if not self.happened(moment):
                continue
            present = [p.id for i, p in enumerate(students) if (i + n) % 9 != 0]
            participation.mark_attendance(
                self.session, self.staff, lecture.key, present, clock=moment
            )

    def project(self, teams: list[Group]) -> None:
        for g, team in enumerate(teams):
            member = Actor.of(team.members[1])
            for kind, moment in (("hypothesis", at(2, 12, 17)), ("proposal", at(2, 26, 19))):
                if not self.happened(moment):
                    continue
                row = project.submit_deliverable(
                    self.session,
                    member,
                    team.id,
                    kind=kind,
                    link=f"https://docs.example.edu/group-{g + 1}/{kind}.pdf",
                    integrity_statement="none",
                    clock=moment,
                )
                reviewed = FixedClock(moment.now() + timedelta(days=3))
                if self.happened(reviewed):
                    self.session.flush()
                    project.review_deliverable(
                        self.session, self.staff, row.id, decision="accepted", clock=reviewed
                    )
            proposed = at(2, 14, 11)
            if g % 3 == 0 and self.happened(proposed):
                enhancement = project.propose_enhancement(
                    self.session,
                    member,
                    team.id,
                    assignment_key="A1",
                    kind="added_questions" if g == 0 else "harder_programmatic",
                    title="Pipeline bubble accounting",
                    description="Two questions that "
                    "ask for the bubble fraction of GPipe vs 1F1B, measured and predicted.",
                    clock=proposed,
                )
                if self.happened(at(2, 20, 12)):
                    self.session.flush()
                    project.review_enhancement(
                        self.session,
                        self.staff,
                        enhancement.id,
                        decision="accepted",
                        score=90,
                        clock=at(2, 20, 12),
                    )

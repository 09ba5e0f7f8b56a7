"""A deterministic demo of the Spring 2026 course: 40 students in 8 groups of 5, the staff
from the syllabus, SSH keys, submissions (some late with a slack day, one under an approved
exception), scores, scribes, peer reviews, checkoff slots and multi-node reservations.

``sai up`` calls :func:`seed_demo` on an empty database with the course clock pinned
mid-semester; everything here happens through the service layer at the time it would have
happened, and only what lies before the clock's "now" is done, so a demo at any ``SAI_NOW``
is consistent (nothing is submitted before its assignment is released).
"""

from __future__ import annotations

import hashlib
import struct
from base64 import b64encode
from datetime import datetime, timedelta

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import BERKELEY, Clock, FixedClock
from scalable_ai.course.service import Actor, activities, credentials, grades, groups, nodes
from scalable_ai.course.service import people as people_service
from scalable_ai.course.service import slack as slack_service
from scalable_ai.course.service.setup import init_course
from scalable_ai.course.service.submissions import submit
from scalable_ai.course.spec import default_spec_path
from scalable_ai.course.tables import CourseRecord, Group, Person

FIRST = [
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Dana",
    "Edsger",
    "Fei",
    "Grace",
    "Hedy",
    "Ian",
    "John",
    "Katherine",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Olga",
    "Peter",
    "Radia",
    "Shafi",
    "Tim",
    "Ursula",
    "Vint",
    "Whitfield",
    "Xiaoyun",
    "Yann",
    "Zhang",
    "Andrew",
    "Bjarne",
    "Cynthia",
    "Donald",
    "Erik",
    "Frances",
    "Guido",
    "Hal",
    "Ilya",
    "Jeff",
    "Ken",
    "Lynn",
    "Manuela",
    "Noam",
]
LAST = [
    "Ng",
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Scott",
    "Dijkstra",
    "Li",
    "Hopper",
    "Lamarr",
    "Goodfellow",
    "McCarthy",
    "Johnson",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Russakovsky",
    "Norvig",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
    "Franklin",
    "Cerf",
    "Diffie",
    "Wang",
    "LeCun",
    "Yi",
    "Stroustrup",
    "Dwork",
    "Knuth",
    "Demaine",
    "Allen",
    "Rossum",
    "Abelson",
    "Sutskever",
    "Dean",
    "Thompson",
    "Conway",
    "Veloso",
    "Shazeer",
]
GROUP_NAMES = (
    "Tensor Titans",
    "Gradient Gang",
    "Mixture of Experts",
    "KV Cachers",
    "Pipeline Bubbles",
    "Muon Mavericks",
    "Sparse Attention",
    "Speculative Decoders",
)
DEMO_PASSWORDS = {"staff": "staff-demo", "student": "student-demo"}
NONE_USED = {"external_code": "none", "sources": "course readings", "ai_assistance": "none"}
USED_AI = {
    "external_code": "nanoGPT training loop (MIT), cited in README",
    "sources": "PyTorch FSDP2 docs",
    "ai_assistance": "Copilot for plotting code",
}

DEMO_CREDENTIALS: list[tuple[str, str, str]] = [
    ("staff", "haocheng.xi@example.edu", DEMO_PASSWORDS["staff"]),
    ("student", "ada.ng@example.edu", DEMO_PASSWORDS["student"]),
    ("student", "alan.lovelace@example.edu", DEMO_PASSWORDS["student"]),
]


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> FixedClock:
    return FixedClock(datetime(2026, month, day, hour, minute, tzinfo=BERKELEY))


def demo_key(email: str) -> str:
    """A well-formed (not usable) ed25519 public key line, derived from the email."""
    kind = b"ssh-ed25519"
    body = hashlib.sha256(email.encode()).digest()
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", len(body)) + body
    return f"ssh-ed25519 {b64encode(blob).decode()} {email.split('@')[0]}@laptop"


def _mark(group: int, assignment: int, part: int) -> float:
    """A deterministic score between 70 and 100."""
    digest = hashlib.sha256(f"{group}-{assignment}-{part}".encode()).digest()
    return 70.0 + digest[0] % 31


def seed_demo(session: Session, clock: Clock) -> dict[str, int]:
    """Fill an empty database with the demo course up to the clock's now; returns counts."""
    staff = Actor.local_staff("demo seed")
    if session.scalar(select(CourseRecord.id)) is None:
        data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
        init_course(session, staff, data, clock=at(1, 5, 9))
    demo = _Demo(session, staff, clock.now())
    students = demo.roster()
    teams = demo.groups(students)
    _passwords(session)
    demo.assignments(teams)
    demo.grading(teams)
    demo.activities(teams)
    session.flush()
    return {"students": len(students), "groups": len(teams)}


class _Demo:
    """Does each thing at the moment it would have happened, if that is before ``now``."""

    def __init__(self, session: Session, staff: Actor, now: datetime) -> None:
        self.session, self.staff, self.now = session, staff, now

    def happened(self, moment: FixedClock) -> bool:
        return moment.now() <= self.now

    def roster(self) -> list[Person]:
        students = []
        for i, (first, last) in enumerate(zip(FIRST, LAST, strict=True)):
            email = f"{first.lower()}.{last.lower()}@example.edu"
            person = people_service.add_person(
                self.session,
                self.staff,
                name=f"{first} {last}",
                email=email,
                sid=f"3036{i:05d}",
                clock=at(1, 20, 8),
            )
            self.session.flush()
            credentials.add_ssh_key(
                self.session,
                Actor.of(person),
                person_id=person.id,
                public_key=demo_key(email),
                clock=at(1, 21, 8),
            )
            students.append(person)
        return students

    def groups(self, students: list[Person]) -> list[Group]:
        teams = []
        for g, name in enumerate(GROUP_NAMES):
            members = students[g * 5 : (g + 1) * 5]
            team = groups.propose_group(
                self.session,
                self.staff,
                name=name,
                member_ids=[p.id for p in members],
                clock=at(1, 28, 16),
            )
            groups.confirm_group(self.session, self.staff, team.id, clock=at(1, 29, 17))
            teams.append(team)
        return teams

    def hand_in(self, team: Group, member: int, moment: FixedClock, **what: object) -> None:
        """A hand-in with the link a group would give (its repository's commit, or the
        milestone's document), so the staff hand-ins page shows what was handed in."""
        if self.happened(moment):
            slug = team.name.lower().replace(" ", "-")
            target = str(what.get("assignment") or what.get("milestone") or "work").lower()
            commit = hashlib.sha1(f"{slug}/{target}".encode()).hexdigest()[:7]
            link = f"https://github.com/{slug}/{target}/commit/{commit}"
            submit(
                self.session,
                Actor.of(team.members[member % 5]),
                clock=moment,
                link=link,
                **what,  # type: ignore[arg-type]
            )

    def assignments(self, teams: list[Group]) -> None:
        for g, team in enumerate(teams):
            late = g in (2, 5)  # two groups spend a slack day on A1
            self.hand_in(
                team,
                g,
                at(2, 11, 9) if late else at(2, 10, 20),
                assignment="A1",
                integrity=USED_AI if g % 2 else NONE_USED,
                confirm_slack_day=late,
            )
            self.hand_in(team, g, at(2, 12, 18), milestone="hypothesis", integrity=NONE_USED)
        exception = at(2, 22, 10)
        if self.happened(exception):
            slack_service.grant_exception(
                self.session,
                self.staff,
                group_id=teams[7].id,
                assignment="A2",
                new_deadline=at(2, 27, 23, 59).now(),
                reason="node-8 outage (infrastructure ticket)",
                clock=exception,
            )
        for g, team in enumerate(teams):
            moment = at(2, 26, 15) if g == 7 else at(2, 25, 8) if g == 5 else at(2, 24, 21)
            self.hand_in(
                team, g + 1, moment, assignment="A2", integrity=NONE_USED, confirm_slack_day=g == 5
            )
            self.hand_in(team, g + 1, at(2, 26, 20), milestone="proposal", integrity=NONE_USED)

    def grading(self, teams: list[Group]) -> None:
        for number, graded in ((1, at(2, 20, 12)), (2, at(3, 4, 12))):
            if not self.happened(graded):
                continue
            for g, team in enumerate(teams):
                for part, item in enumerate(("code", "written", "checkoff")):
                    grades.record_group_score(
                        self.session,
                        self.staff,
                        group_id=team.id,
                        item=f"A{number}.{item}",
                        points=_mark(g, number, part),
                        clock=graded,
                    )
                if g % 3 == 0:
                    grades.record_group_score(
                        self.session,
                        self.staff,
                        group_id=team.id,
                        item=f"A{number}.enhancement",
                        points=90,
                        comment="added a question on pipeline bubbles",
                        clock=graded,
                    )

    def activities(self, teams: list[Group]) -> None:
        session, staff = self.session, self.staff
        if self.happened(at(1, 23, 9)):
            activities.assign_scribes(session, staff, seed=2026, clock=at(1, 23, 9))
        if self.happened(at(4, 27, 9)):
            activities.assign_peer_reviews(session, staff, seed=2026, clock=at(4, 27, 9))
        opened = at(3, 2, 9)
        if self.happened(opened):
            for day, hour in ((11, 13), (11, 14), (12, 13), (12, 14)):
                start = at(3, day, hour).now()
                activities.create_slot(
                    session,
                    staff,
                    kind="checkoff",
                    assignment="A3",
                    capacity=2,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=30),
                    location="Cory 258",
                    clock=opened,
                )
            for hour in (11, 12, 13, 14):
                start = at(3, 18, hour).now()
                activities.create_slot(
                    session,
                    staff,
                    kind="midterm_checkin",
                    starts_at=start,
                    ends_at=start + timedelta(minutes=45),
                    location="Cory 521",
                    clock=opened,
                )
            session.flush()
            slots = activities.list_slots(session, staff, kind="checkoff")
            for g, team in enumerate(teams[:5]):
                moment = at(3, 3, 10 + g)
                if self.happened(moment):
                    activities.sign_up(
                        session, Actor.of(team.members[0]), slots[g // 2].id, clock=moment
                    )
        self.reservations(teams)

    def reservations(self, teams: list[Group]) -> None:
        first, second, third, fourth = teams[:4]
        if self.happened(at(3, 2, 18)):
            row = nodes.request_reservation(
                self.session,
                Actor.of(first.members[0]),
                node_ids=[first.node_id, second.node_id],  # type: ignore[list-item]
                starts_at=at(3, 6, 10).now(),
                ends_at=at(3, 7, 10).now(),
                purpose="2-node FSDP2 run for the A3 scaling study",
                clock=at(3, 2, 15),
            )
            nodes.consent_to_reservation(
                self.session, Actor.of(second.members[1]), row.id, clock=at(3, 2, 18)
            )
        if self.happened(at(3, 4, 11)):
            nodes.request_reservation(
                self.session,
                Actor.of(third.members[0]),
                node_ids=[third.node_id, fourth.node_id],  # type: ignore[list-item]
                starts_at=at(3, 9, 9).now(),
                ends_at=at(3, 9, 21).now(),
                purpose="pipeline-parallel sweep (waiting for consent)",
                clock=at(3, 4, 11),
            )


def _passwords(session: Session) -> None:
    try:
        from scalable_ai.course.web.security import hash_password
    except ImportError:  # the web package is optional for the CLI's demo
        return
    hashes = {password: hash_password(password) for password in DEMO_PASSWORDS.values()}
    for _role, email, password in DEMO_CREDENTIALS:
        person = people_service.find_by_email(session, email)
        if person is not None:
            person.password_hash = hashes[password]


def seed_whole_demo(session: Session, clock: Clock) -> dict[str, int]:
    """The core demo (this module) and then the community side of it (questionnaire, Q&A,
    tickets, notes, attendance, project work), both up to the clock's now. ``sai up`` and
    ``sai course demo`` both seed through here."""
    from scalable_ai.course.community.demo import seed_community_demo

    counts = seed_demo(session, clock)
    seed_community_demo(session, clock)
    return counts

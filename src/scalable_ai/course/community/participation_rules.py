"""Attendance and participation (10%): check-in codes and the per-student summary (pure).

Syllabus: "Attendance is required. Participation includes: contributing to in-class
discussions and project check-ins; posting and answering questions on Ed; providing
constructive comments on lecture notes and slides ... improving course notes/slides is part
of the participation grade."

Attendance is recorded per lecture, by a staff mark or by the student checking in with the
lecture's code while check-in is open. Contributions are counted from the platform (questions,
answers, comments on lecture notes) plus credits staff give for in-class discussion and
project check-ins. The syllabus gives no formula; :class:`ParticipationRule` is the stated
staff choice (a share for attendance, the rest for contributions up to a target count).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from scalable_ai.errors import Conflict, UserError

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud in class
CODE_LENGTH = 6
CREDIT_KINDS = ("discussion", "check-in", "notes-improvement", "other")


def new_check_in_code() -> str:
    """A short code staff show in the lecture room."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_in(
    *, given: str, code: str, opens_at: datetime, closes_at: datetime, now: datetime
) -> None:
    """Refuse a check-in outside the window or with the wrong code (case and spaces ignored)."""
    if now < opens_at:
        raise Conflict("check-in for this lecture has not opened yet", field="code")
    if now > closes_at:
        raise Conflict("check-in for this lecture has closed; ask staff to mark you", field="code")
    if "".join(given.split()).upper() != code:
        raise UserError("that is not this lecture's code", field="code")


def check_window(opens_at: datetime, closes_at: datetime) -> None:
    if closes_at <= opens_at:
        raise UserError("check-in must close after it opens", field="closes_at")


@dataclass(frozen=True)
class ParticipationRule:
    """How the 10% component is scored from the ledger (a course choice; the syllabus gives
    none): ``attendance_share`` of it is the fraction of lectures held so far that the student
    attended; the rest is contributions, full credit at ``contributions_for_full``."""

    attendance_share: float = 0.6
    contributions_for_full: int = 8

    def __post_init__(self) -> None:
        if not 0 <= self.attendance_share <= 1:
            raise UserError("must be between 0 and 1", field="attendance_share")
        if self.contributions_for_full < 1:
            raise UserError("must be at least 1", field="contributions_for_full")


@dataclass(frozen=True)
class ParticipationSummary:
    """One student's ledger summed up, with the component score (percent) and its note."""

    person_id: int
    lectures_held: int
    lectures_attended: int
    questions: int
    answers: int
    note_comments: int
    staff_credits: int
    score: float
    note: str

    @property
    def contributions(self) -> int:
        return self.questions + self.answers + self.note_comments + self.staff_credits


def summarize_participation(
    person_id: int,
    *,
    lectures_held: int,
    lectures_attended: int,
    questions: int,
    answers: int,
    note_comments: int,
    staff_credits: int,
    rule: ParticipationRule | None = None,
) -> ParticipationSummary:
    """The score feeding the attendance-and-participation component, with a note a student
    can read ("attended 12 of 14 lectures; 5 of 8 contributions")."""
    rule = rule or ParticipationRule()
    contributions = questions + answers + note_comments + staff_credits
    attendance = lectures_attended / lectures_held if lectures_held else 1.0
    contributing = min(1.0, contributions / rule.contributions_for_full)
    score = 100 * (rule.attendance_share * attendance + (1 - rule.attendance_share) * contributing)
    note = (
        f"attended {lectures_attended} of {lectures_held} lectures held so far; "
        f"{contributions} of {rule.contributions_for_full} contributions for full credit "
        f"({questions} questions, {answers} answers, {note_comments} note comments, "
        f"{staff_credits} staff credits)"
    )
    return ParticipationSummary(
        person_id,
        lectures_held,
        lectures_attended,
        questions,
        answers,
        note_comments,
        staff_credits,
        round(score, 2),
        note,
    )

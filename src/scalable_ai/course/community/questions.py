"""The onboarding questionnaire: questions, answers and the staff summary (pure rules).

Syllabus: "We will release a short onboarding questionnaire in the first lecture (Jan 20).
We will finalize enrollment/compute allocations and related decisions by the end of the
second week (Jan 29)", and "you should not enroll if you anticipate major recurring time
commitments that would interfere with course participation (e.g., intensive interviewing)".

Staff define the questions; the defaults below ask what the issue names: background, GPU
experience, preferred teammates, time commitments. A ``choice`` question can measure
experience (the chosen option's position is the level the grouping balances on) and can
flag options staff should look at before finalizing enrollment (a major time commitment).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scalable_ai.course.policy.roster import is_email_address
from scalable_ai.errors import UserError

KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_TEXT = 4000


class QuestionKind(StrEnum):
    """``text``: free text; ``choice``: one of the options; ``teammates``: e-mail addresses
    of classmates the student would like to work with."""

    TEXT = "text"
    CHOICE = "choice"
    TEAMMATES = "teammates"


@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    kind: QuestionKind
    options: tuple[str, ...] = ()
    required: bool = True
    measures_experience: bool = False
    flagged_options: tuple[str, ...] = ()


DEFAULT_QUESTIONS: tuple[Question, ...] = (
    Question(
        "background",
        "Your background: program, year, and the ML or systems courses and work you have done.",
        QuestionKind.TEXT,
    ),
    Question(
        "gpu_experience",
        "Your GPU experience so far.",
        QuestionKind.CHOICE,
        (
            "None yet",
            "Single-GPU training or inference (coursework, notebooks)",
            "Multi-GPU training on one node (DDP/FSDP, torchrun)",
            "Multi-node jobs, kernels or profiling at scale",
        ),
        measures_experience=True,
    ),
    Question(
        "preferred_teammates",
        "Classmates you would like to work with (their e-mail "
        "addresses, comma-separated; optional).",
        QuestionKind.TEAMMATES,
        required=False,
    ),
    Question(
        "time_commitments",
        "Recurring time commitments this semester.",
        QuestionKind.CHOICE,
        (
            "No major recurring commitments",
            "Some (a part-time job, a TA position)",
            "Major recurring commitments (e.g. intensive interviewing)",
        ),
        flagged_options=("Major recurring commitments (e.g. intensive interviewing)",),
    ),
)


def check_question(q: Question) -> Question:
    """Refuse a question no student could answer, naming the field."""
    if not KEY.match(q.key):
        raise UserError(
            "a question key is lower-case letters, digits and _ (at most 48)", field="key"
        )
    if not q.prompt.strip() or len(q.prompt) > 1000:
        raise UserError("a question needs a prompt of 1 to 1000 characters", field="prompt")
    try:
        kind = QuestionKind(q.kind)
    except ValueError:
        raise UserError("kind must be text, choice or teammates", field="kind") from None
    options = tuple(o.strip() for o in q.options if o.strip())
    if kind is QuestionKind.CHOICE and len(options) < 2:
        raise UserError("a choice question needs at least two options", field="options")
    if len(set(options)) != len(options):
        raise UserError("an option appears twice", field="options")
    if q.measures_experience and kind is not QuestionKind.CHOICE:
        raise UserError(
            "only a choice question can measure experience", field="measures_experience"
        )
    unknown = set(q.flagged_options) - set(options)
    if unknown:
        raise UserError(
            f"flagged options are not options: {sorted(unknown)}", field="flagged_options"
        )
    return Question(
        q.key,
        q.prompt.strip(),
        kind,
        options if kind is QuestionKind.CHOICE else (),
        q.required,
        q.measures_experience,
        tuple(q.flagged_options),
    )


def parse_teammates(value: Any) -> list[str]:
    """E-mail addresses from a list or a comma/space separated string, lower-cased."""
    items = value if isinstance(value, list | tuple) else re.split(r"[,;\s]+", str(value or ""))
    emails = []
    for item in items:
        email = str(item).strip().lower()
        if not email:
            continue
        if not is_email_address(email):
            raise UserError(f"not an e-mail address: {email!r}", field="preferred_teammates")
        if email not in emails:
            emails.append(email)
    return emails


def clean_answers(questions: Sequence[Question], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Check a student's answers against the questions; returns what is stored (text for
    ``text`` and ``choice``, a list of e-mails for ``teammates``)."""
    known = {q.key for q in questions}
    for key in answers:
        if key not in known:
            raise UserError("no such question", field=f"answers.{key}")
    cleaned: dict[str, Any] = {}
    for q in questions:
        raw = answers.get(q.key)
        field = f"answers.{q.key}"
        if q.kind is QuestionKind.TEAMMATES:
            try:
                value: Any = parse_teammates(raw)
            except UserError as error:
                raise UserError(error.message, field=field) from None
            empty = not value
        else:
            value = (
                " ".join(str(raw).split())
                if q.kind is QuestionKind.CHOICE
                else str(raw or "").strip()
            )
            empty = not value
            if len(value) > MAX_TEXT:
                raise UserError(f"at most {MAX_TEXT} characters", field=field)
            if q.kind is QuestionKind.CHOICE and value and value not in q.options:
                raise UserError(f"choose one of: {'; '.join(q.options)}", field=field)
        if empty and q.required:
            raise UserError("this question needs an answer", field=field)
        if not empty:
            cleaned[q.key] = value
    return cleaned


def experience_level(questions: Sequence[Question], answers: Mapping[str, Any]) -> float:
    """The experience the grouping balances on: for each question that measures experience,
    the position of the chosen option (0 = the first, least experienced); unanswered = 0."""
    level = 0.0
    for q in questions:
        if q.measures_experience and answers.get(q.key) in q.options:
            level += q.options.index(answers[q.key])
    return level


def requested_teammates(questions: Sequence[Question], answers: Mapping[str, Any]) -> list[str]:
    """Every e-mail the student named in a teammates question."""
    emails: list[str] = []
    for q in questions:
        if q.kind is QuestionKind.TEAMMATES:
            emails += [e for e in answers.get(q.key, []) if e not in emails]
    return emails


def flags(questions: Sequence[Question], answers: Mapping[str, Any]) -> list[str]:
    """What staff should look at before finalizing this student's enrollment."""
    return [
        f"{q.key}: {answers[q.key]}"
        for q in questions
        if q.kind is QuestionKind.CHOICE and answers.get(q.key) in q.flagged_options
    ]


@dataclass(frozen=True)
class QuestionSummary:
    """One question across all responses: how many answered, counts per option (choice),
    and the texts (text and teammates), for the staff summary page."""

    question: Question
    answered: int
    option_counts: tuple[tuple[str, int], ...]
    texts: tuple[str, ...]


def summarize(
    questions: Sequence[Question], responses: Sequence[Mapping[str, Any]]
) -> list[QuestionSummary]:
    """The staff summary of every question over ``responses`` (one answers dict each)."""
    out = []
    for q in questions:
        given = [r[q.key] for r in responses if r.get(q.key)]
        counts: tuple[tuple[str, int], ...] = ()
        texts: tuple[str, ...] = ()
        if q.kind is QuestionKind.CHOICE:
            tally = Counter(given)
            counts = tuple((option, tally.get(option, 0)) for option in q.options)
        elif q.kind is QuestionKind.TEAMMATES:
            texts = tuple(", ".join(v) for v in given)
        else:
            texts = tuple(str(v) for v in given)
        out.append(QuestionSummary(q, len(given), counts, texts))
    return out

"""The structured peer review's rubric and its window (pure rules, no I/O).

Syllabus, Research Project: "each group will provide a structured, constructive review of
another group's report"; "Technical quality (40%). Assessed on clarity of hypothesis,
technical depth, correctness, experimental rigor, and quality of the final artifact (code +
report + other tangible artifacts)", and "The Technical Quality aspect of the grading will
incorporate peer feedback". So a review scores exactly those five criteria from 1 to 5 and
says, in words, what is strong, what is weak and what to change. Peer reviews are due on the
peer-review date (May 1): a review can be written and edited until then, and the reviewed
group reads the reviews of its report once the deadline has passed (so no review is written
after its authors have seen another).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from scalable_ai.course.clock import in_words
from scalable_ai.errors import Conflict, UserError

LOWEST_SCORE, HIGHEST_SCORE = 1, 5
TEXT_LIMIT = 4000  # characters per written part: a few paragraphs, enough to be specific

# field → label, in the syllabus's order of the technical-quality criteria
CRITERIA: tuple[tuple[str, str], ...] = (
    ("clarity_of_hypothesis", "Clarity of hypothesis"),
    ("technical_depth", "Technical depth"),
    ("correctness", "Correctness"),
    ("experimental_rigor", "Experimental rigor"),
    ("artifact_quality", "Quality of the artifact (code + report)"),
)
WRITTEN_PARTS: tuple[tuple[str, str], ...] = (
    ("strengths", "Strengths"),
    ("weaknesses", "Weaknesses"),
    ("suggestions", "Suggestions"),
)


@dataclass(frozen=True)
class ReviewForm:
    """A checked review: the five scores (field → 1..5) and the three written parts."""

    scores: dict[str, int]
    strengths: str
    weaknesses: str
    suggestions: str


def _score(fields: Mapping[str, object], key: str, label: str) -> int:
    raw = fields.get(key)
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise UserError(f"{label} needs a score from {LOWEST_SCORE} to {HIGHEST_SCORE}", field=key)
    try:
        value = int(text)
    except ValueError:
        raise UserError(
            f"{label} must be a whole number from {LOWEST_SCORE} to {HIGHEST_SCORE}, not {text!r}",
            field=key,
        ) from None
    if not LOWEST_SCORE <= value <= HIGHEST_SCORE:
        raise UserError(
            f"{label} must be from {LOWEST_SCORE} to {HIGHEST_SCORE}, not {value}", field=key
        )
    return value


def _written(fields: Mapping[str, object], key: str, label: str) -> str:
    text = str(fields.get(key) or "").strip()
    if not text:
        raise UserError(f"{label} is required: a constructive review says it in words", field=key)
    if len(text) > TEXT_LIMIT:
        raise UserError(f"{label} is {len(text)} characters; keep it under {TEXT_LIMIT}", field=key)
    return text


def check_review(fields: Mapping[str, object]) -> ReviewForm:
    """The review as submitted, every field required; the first problem names its field."""
    scores = {key: _score(fields, key, label) for key, label in CRITERIA}
    strengths, weaknesses, suggestions = (
        _written(fields, key, label) for key, label in WRITTEN_PARTS
    )
    return ReviewForm(scores, strengths, weaknesses, suggestions)


def check_review_open(now: datetime, due: datetime) -> None:
    """Reviews are written and edited until the peer-review deadline, not after."""
    if now > due:
        raise Conflict(
            f"peer reviews closed at the deadline, {in_words(due)}", field="submitted_at"
        )


def reviews_released(now: datetime, due: datetime) -> bool:
    """The reviewed group reads its reviews once the deadline has passed."""
    return now > due


def review_percent(scores: Mapping[str, int]) -> float:
    """One review as a percentage: the points its five criteria earned out of the most they
    could (5 each), the way every score in the grade book is points out of a maximum. So a
    review of all 3s ("adequate") is 60, the satisfactory line, and all 5s is 100."""
    earned = sum(int(scores[key]) for key, _ in CRITERIA)
    return 100.0 * earned / (HIGHEST_SCORE * len(CRITERIA))


def peer_score(reviews: Iterable[Mapping[str, int]]) -> float | None:
    """A report's peer score: the mean of its reviews' percentages (each reviewing group
    counts once); ``None`` when no review was received — the grade then has no peer part
    and the technical score is the staff score alone (see ``grading.technical_score``)."""
    percents = [review_percent(r) for r in reviews]
    return sum(percents) / len(percents) if percents else None

"""The research project's paper trail and the enhancements component (pure rules).

Syllabus, "Research Project (50% total: 40% technical + 10% impact)": deliverables are the
hypothesis statement v1 ("one paragraph hypothesis + success metric"), the project proposal
v2 ("2–3 pages: method, evaluation plan, risks"), the midterm check-in report, the draft
report, the final code and report, the poster, and the impact update ("Proof of merge/
acceptance or submission to ArXiv"): "Impact is scored on *evidence* of external usefulness"
— a merged PR, a released reproducible benchmark, a public technical report or a preprint,
each a link that staff verify.

"Enhancements (10%): Contribute meaningfully by adding questions, or reframing the
programmatic part to be more challenging": a group proposes one for an assignment, staff
accept (with a score) or decline it.

Scribing: "If you use external sources or AI tools, you must cite them clearly" — a scribe
note carries a required statement of sources and AI assistance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlparse

from scalable_ai.course import links
from scalable_ai.errors import Conflict, UserError


@dataclass(frozen=True)
class DeliverableKind:
    key: str
    title: str
    milestone_key: str  # the milestone (seed) whose date is its deadline
    needs_code_link: bool = False


DELIVERABLES: tuple[DeliverableKind, ...] = (
    DeliverableKind("hypothesis", "Hypothesis statement v1", "hypothesis"),
    DeliverableKind("proposal", "Project proposal v2", "proposal"),
    DeliverableKind("midterm_report", "Midterm check-in report", "midterm_checkin"),
    DeliverableKind("draft_report", "Draft report", "draft_report"),
    DeliverableKind("final", "Final code and report", "final_deliverables", needs_code_link=True),
    DeliverableKind("poster", "Poster", "poster_session"),
    DeliverableKind("impact", "Impact evidence", "impact_update"),
)
DELIVERABLE_KEYS = tuple(d.key for d in DELIVERABLES)


def deliverable(key: str) -> DeliverableKind:
    for d in DELIVERABLES:
        if d.key == key:
            return d
    raise UserError(f"deliverable must be one of {', '.join(DELIVERABLE_KEYS)}", field="kind")


class ImpactEvidence(StrEnum):
    """The syllabus's examples of impact."""

    MERGED_PR = "merged_pr"
    BENCHMARK = "benchmark"
    REPORT = "report"
    PREPRINT = "preprint"


IMPACT_LABELS = {
    ImpactEvidence.MERGED_PR: "Pull request merged into a public open-source repository",
    ImpactEvidence.BENCHMARK: "Released reproducible benchmark",
    ImpactEvidence.REPORT: "Public technical report",
    ImpactEvidence.PREPRINT: "arXiv preprint",
}


class Review(StrEnum):
    """A staff decision on something a student or group handed in."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    RETURNED = "returned"


def check_link(url: str, field: str = "link") -> str:
    """An http(s) link a reader can open (the platform's one rule, ``course.links``)."""
    return links.check_link(url, field)


def check_impact_link(kind: str, url: str) -> tuple[ImpactEvidence, str]:
    """Evidence of external usefulness: a merged PR must link to a pull request, a preprint
    to arXiv (or another preprint server); reports and benchmarks are any public link."""
    try:
        evidence = ImpactEvidence(kind)
    except ValueError:
        raise UserError(
            "evidence must be merged_pr, benchmark, report or preprint", field="evidence_kind"
        ) from None
    url = check_link(url, "evidence_url")
    path = urlparse(url).path
    if evidence is ImpactEvidence.MERGED_PR and not any(
        part in path for part in ("/pull/", "/merge_requests/", "/pulls/")
    ):
        raise UserError(
            "a merged PR is shown by the link to the pull request itself", field="evidence_url"
        )
    return evidence, url


def check_statement(statement: str, field: str = "sources_statement") -> str:
    """The required statement of sources and AI assistance ("none" is an answer)."""
    statement = (statement or "").strip()
    if not statement:
        raise UserError(
            "state the external sources and AI assistance you used (or 'none')", field=field
        )
    if len(statement) > 4000:
        raise UserError("at most 4000 characters", field=field)
    return statement


def decide(current: str, decision: str, feedback: str) -> Review:
    """Staff accept or return a pending hand-in; returning needs feedback."""
    try:
        target = Review(decision)
    except ValueError:
        raise UserError("decision must be accepted or returned", field="decision") from None
    if target is Review.PENDING:
        raise UserError("decision must be accepted or returned", field="decision")
    if current != Review.PENDING:
        raise Conflict(f"this was already {current}; a new version reopens it", field="decision")
    if target is Review.RETURNED and not (feedback or "").strip():
        raise UserError("say what to fix when returning it", field="feedback")
    return target


class EnhancementKind(StrEnum):
    ADDED_QUESTIONS = "added_questions"
    HARDER_PROGRAMMATIC = "harder_programmatic"


ENHANCEMENT_LABELS = {
    EnhancementKind.ADDED_QUESTIONS: "Added questions",
    EnhancementKind.HARDER_PROGRAMMATIC: "A more challenging programmatic part",
}


def check_enhancement_score(score: float | None) -> float:
    if score is None or not 0 <= score <= 100:
        raise UserError("an accepted enhancement gets a score between 0 and 100", field="score")
    return float(score)


def enhancements_component(
    accepted: Iterable[tuple[str, float]],
    assignments: Iterable[str] = ("A1", "A2", "A3", "A4", "A5"),
) -> tuple[float, str]:
    """The enhancements component (percent) from ``(assignment, score)`` of accepted
    enhancements: each assignment counts its best accepted enhancement, averaged over the
    five assignments (a course choice: the syllabus weights the component, not its parts)."""
    keys = list(assignments)
    best: dict[str, float] = {}
    for assignment, score in accepted:
        best[assignment] = max(best.get(assignment, 0.0), score)
    total = sum(best.get(k, 0.0) for k in keys) / len(keys)
    credited = ", ".join(f"{k} {best[k]:g}" for k in keys if k in best) or "none yet"
    return round(total, 2), f"enhancements accepted: {credited} (best per assignment, averaged)"

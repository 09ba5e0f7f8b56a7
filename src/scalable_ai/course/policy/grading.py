"""The grade: components, weights, the satisfactory gate and the letter.

Syllabus, "Grading and Policies": research project 50% (technical quality 40% + impact
10%), assignments 35% (core 25% + enhancements 10%), scribing 5% (2 lectures per student),
attendance & participation 10%. "Failing any one of them fails the class. You must do every
component satisfactorily ... This includes: the research project, all assignments, scribing,
and participation." "Letter grade only: you may not take this course
Satisfactory/Non-Satisfactory."

Modelled on gradelib: a grade is computed by a sequence of small rules (values you can
compose, replace or extend), and every rule that decides something leaves a :class:`Note`
the student can read ("scribing unsatisfactory: the class is failed whatever the total").
All scores are percentages in [0, 100]; a missing score counts as 0 and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from scalable_ai.course.policy.settings import AssignmentPartWeights, CourseSettings
from scalable_ai.errors import NotFound, UserError

ASSIGNMENT_KEYS: tuple[str, ...] = ("A1", "A2", "A3", "A4", "A5")


@dataclass(frozen=True)
class Component:
    """A graded component and its weight in the final total (percentage points)."""

    key: str
    title: str
    weight: float
    parts: tuple[Component, ...] = ()


# The syllabus's table, exactly. Top level components are each gated as satisfactory.
COMPONENTS: tuple[Component, ...] = (
    Component(
        "project",
        "Research project",
        50,
        (
            Component("project.technical", "Technical quality", 40),
            Component("project.impact", "Impact", 10),
        ),
    ),
    Component(
        "assignments",
        "Assignments",
        35,
        (
            Component("assignments.core", "Core / working", 25),
            Component("assignments.enhancements", "Enhancements", 10),
        ),
    ),
    Component("scribing", "Scribing", 5),
    Component("participation", "Attendance & participation", 10),
)

COMPONENT_WEIGHTS: dict[str, float] = {
    c.key: c.weight for top in COMPONENTS for c in (top, *top.parts)
}

GATED_COMPONENTS: tuple[str, ...] = tuple(c.key for c in COMPONENTS)

# "Letter grade only": the one grading basis this course accepts.
GRADING_BASIS = "letter"


def require_letter_grade(basis: str) -> str:
    """Accept only a letter grade; P/NP and S/U are refused with the syllabus's reason."""
    if basis.strip().lower() in {"letter", "letter grade", "graded"}:
        return GRADING_BASIS
    raise UserError(
        "letter grade only: you may not take this course Satisfactory/Non-Satisfactory (P/NP)",
        field="grading_basis",
    )


@dataclass(frozen=True)
class AssignmentParts:
    """One assignment's scores: code grading, written component, oral checkoff (the core
    rubric) and the enhancement contribution (its own 10% component)."""

    assignment: str
    code: float | None = None
    written: float | None = None
    checkoff: float | None = None
    enhancement: float | None = None


def _check_score(value: float | None, field: str) -> None:
    if value is not None and not 0 <= value <= 100:
        raise UserError(f"a score is a percentage between 0 and 100, got {value}", field=field)


def assignment_core_score(
    parts: AssignmentParts, weights: AssignmentPartWeights | None = None
) -> float | None:
    """The core (working) score: code, written and checkoff blended by the course's part
    weights. None when no part is graded yet; a missing part counts as 0 otherwise."""
    weights = weights or AssignmentPartWeights()
    values = (parts.code, parts.written, parts.checkoff)
    for name, value in zip(("code", "written", "checkoff"), values, strict=True):
        _check_score(value, f"{parts.assignment}.{name}")
    if all(v is None for v in values):
        return None
    return (
        (parts.code or 0) * weights.code
        + (parts.written or 0) * weights.written
        + (parts.checkoff or 0) * weights.checkoff
    )


def technical_score(
    staff: float | None, peer: float | None, peer_weight: float = 0.2
) -> float | None:
    """Technical quality "will incorporate peer feedback as well as the teaching staff
    feedback": a blend with the peers' share ``peer_weight``. With only one of the two,
    that one stands alone."""
    _check_score(staff, "project.technical.staff")
    _check_score(peer, "project.technical.peer")
    if staff is None or peer is None:
        return staff if peer is None else peer
    return (1 - peer_weight) * staff + peer_weight * peer


@dataclass(frozen=True)
class StudentScores:
    """Everything the grade reads for one student. ``enhancements`` is the enhancement
    component's score; when None it is the mean over A1–A5 of each assignment's
    ``enhancement`` (missing counts as 0)."""

    assignments: tuple[AssignmentParts, ...] = ()
    project_technical_staff: float | None = None
    project_technical_peer: float | None = None
    project_impact: float | None = None
    enhancements: float | None = None
    scribing: float | None = None
    participation: float | None = None


@dataclass(frozen=True)
class Note:
    """An explanation left by a rule, in the course's words."""

    rule: str
    message: str


@dataclass(frozen=True)
class ComponentResult:
    key: str
    title: str
    weight: float
    score: float | None
    points: float
    satisfactory: bool | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class AssignmentResult:
    assignment: str
    core: float | None
    enhancement: float | None
    satisfactory: bool | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class GradeReport:
    """The grade with its working: each component's score and satisfactory flag, each
    assignment's core score, the weighted total, the letter, pass/fail and the notes."""

    components: tuple[ComponentResult, ...]
    assignments: tuple[AssignmentResult, ...]
    total: float
    letter: str = ""
    passed: bool = True
    notes: tuple[Note, ...] = ()

    def component(self, key: str) -> ComponentResult:
        for c in self.components:
            if c.key == key:
                return c
        raise NotFound(f"no grade component {key!r}", field="component")

    def assignment(self, key: str) -> AssignmentResult:
        for a in self.assignments:
            if a.assignment == key:
                return a
        raise NotFound(f"no assignment {key!r}", field="assignment")

    def noted(self, rule: str, message: str, **changes: object) -> GradeReport:
        return dataclasses.replace(self, notes=(*self.notes, Note(rule, message)), **changes)


class GradeRule(Protocol):
    """A rule reads a report and returns a new one, with a note for what it decided."""

    def __call__(self, report: GradeReport, settings: CourseSettings) -> GradeReport: ...


def _mean0(values: Iterable[float | None], count: int) -> float:
    return sum(v or 0 for v in values) / count


def base_report(
    scores: StudentScores,
    settings: CourseSettings,
    assignment_keys: Sequence[str] = ASSIGNMENT_KEYS,
) -> GradeReport:
    """Scores per component, weighted by the syllabus's table, and the weighted total."""
    notes: list[Note] = []
    by_key = {a.assignment: a for a in scores.assignments}
    for key in by_key:
        if key not in assignment_keys:
            raise UserError(f"unknown assignment {key!r}", field="assignments")
    results = []
    for key in assignment_keys:
        parts = by_key.get(key, AssignmentParts(key))
        _check_score(parts.enhancement, f"{key}.enhancement")
        core = assignment_core_score(parts, settings.assignment_part_weights)
        if core is None:
            notes.append(Note("missing", f"{key} core: no score yet (counts as 0)"))
        results.append(AssignmentResult(key, core, parts.enhancement))
    core_mean = _mean0((r.core for r in results), len(results))
    enhancements = scores.enhancements
    _check_score(enhancements, "enhancements")
    if enhancements is None:
        enhancements = _mean0((r.enhancement for r in results), len(results))
    technical = technical_score(
        scores.project_technical_staff, scores.project_technical_peer, settings.peer_review_weight
    )
    _check_score(scores.project_impact, "project.impact")
    _check_score(scores.scribing, "scribing")
    _check_score(scores.participation, "participation")
    leaf = {
        "project.technical": technical,
        "project.impact": scores.project_impact,
        "assignments.core": core_mean,
        "assignments.enhancements": enhancements,
        "scribing": scores.scribing,
        "participation": scores.participation,
    }
    components = []
    for top in COMPONENTS:
        parts = top.parts or (top,)
        for part in parts:
            if leaf[part.key] is None:
                notes.append(Note("missing", f"{part.title.lower()}: no score yet (counts as 0)"))
        points = sum(p.weight * (leaf[p.key] or 0) / 100 for p in parts)
        components.append(
            ComponentResult(top.key, top.title, top.weight, 100 * points / top.weight, points)
        )
        if top.parts:
            components += [
                ComponentResult(
                    p.key, p.title, p.weight, leaf[p.key], p.weight * (leaf[p.key] or 0) / 100
                )
                for p in top.parts
            ]
    total = sum(c.points for c in components if "." not in c.key)
    return GradeReport(tuple(components), tuple(results), round(total, 6), notes=tuple(notes))


@dataclass(frozen=True)
class EveryComponentSatisfactory:
    """ "Failing any one of them fails the class": each top-level component must reach its
    satisfactory threshold, whatever the total."""

    def __call__(self, report: GradeReport, settings: CourseSettings) -> GradeReport:
        components = []
        for c in report.components:
            if c.key in GATED_COMPONENTS:
                threshold = getattr(settings.satisfactory, c.key)
                ok = (c.score or 0) >= threshold
                c = dataclasses.replace(c, satisfactory=ok, threshold=threshold)
                if not ok:
                    report = report.noted(
                        "satisfactory",
                        f"{c.title.lower()} unsatisfactory "
                        f"({c.score:.1f} < {threshold:g}): the class is "
                        "failed whatever the total",
                        passed=False,
                    )
            components.append(c)
        return dataclasses.replace(report, components=tuple(components))


@dataclass(frozen=True)
class EachAssignmentCoreSatisfactory:
    """ "This includes ... all assignments": each assignment's core score must be
    satisfactory on its own, not only the assignments component on average."""

    def __call__(self, report: GradeReport, settings: CourseSettings) -> GradeReport:
        threshold = settings.satisfactory.assignment_core
        results = []
        for a in report.assignments:
            ok = (a.core or 0) >= threshold
            results.append(dataclasses.replace(a, satisfactory=ok, threshold=threshold))
            if not ok:
                report = report.noted(
                    "satisfactory",
                    f"{a.assignment} core unsatisfactory "
                    f"({a.core or 0:.1f} < {threshold:g}): every assignment "
                    "must be satisfactory, so the class is failed",
                    passed=False,
                )
        return dataclasses.replace(report, assignments=tuple(results))


@dataclass(frozen=True)
class LetterFromCutoffs:
    """The letter for the weighted total from the course's cut-offs; F when a gate failed
    (letter grade only: there is no P/NP)."""

    def __call__(self, report: GradeReport, settings: CourseSettings) -> GradeReport:
        earned = letter_for(report.total, settings)
        if not report.passed:
            return report.noted(
                "letter",
                f"letter F: a required component is "
                f"unsatisfactory (the total {report.total:.1f} alone would "
                f"earn {earned})",
                letter="F",
            )
        return report.noted("letter", f"total {report.total:.1f} earns {earned}", letter=earned)


def letter_for(total: float, settings: CourseSettings | None = None) -> str:
    """The letter whose cut-off the total reaches."""
    settings = settings or CourseSettings()
    for cutoff in settings.letter_cutoffs:
        if total >= cutoff.minimum:
            return cutoff.letter
    return settings.letter_cutoffs[-1].letter


DEFAULT_RULES: tuple[GradeRule, ...] = (
    EveryComponentSatisfactory(),
    EachAssignmentCoreSatisfactory(),
    LetterFromCutoffs(),
)


def compute_grade(
    scores: StudentScores,
    settings: CourseSettings | None = None,
    *,
    rules: Sequence[GradeRule] = DEFAULT_RULES,
    assignment_keys: Sequence[str] = ASSIGNMENT_KEYS,
    extra_notes: Iterable[str] = (),
) -> GradeReport:
    """The student's grade report: the weighted total, then each rule in order. Pass
    ``extra_notes`` (e.g. slack-day notes) to carry them in the same report."""
    settings = settings or CourseSettings()
    report = base_report(scores, settings, assignment_keys)
    for note in extra_notes:
        report = report.noted("note", note)
    for rule in rules:
        report = rule(report, settings)
    return report

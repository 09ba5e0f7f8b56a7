"""The running grade: where a student stands mid-semester, from graded work only.

:func:`~scalable_ai.course.policy.grading.compute_grade` is the end-of-term grade, where a
missing score counts as 0. Read in March, that rule fails everyone: A3–A5, the project,
scribing and participation are not graded yet. This module reads the same scores the way a
student needs them during the semester:

- work without a score is *pending*, never 0 and never unsatisfactory;
- each gated component ("Failing any one of them fails the class", syllabus, Grading) and
  each assignment's core score gets a status from its graded parts only: *on track* (what is
  graded is satisfactory), *at risk* (what is graded is below the threshold, but full marks on
  what is left would still reach it), *failing* (even full marks on what is left cannot reach
  it), *satisfactory* / *unsatisfactory* once it is fully graded;
- the standing is *failing* if any gate fails, *at risk* (naming which and why) if any is at
  risk, *on track* otherwise;
- the projected total is the weighted mean of graded work (the score you are keeping), with
  the earned points and the best still possible next to it;
- the final letter appears only once every component is graded; before that, a projected
  letter.

Each graded thing is a weighted mix of parts (:class:`Mix`), so "so far", "earned" and "best
still possible" are one computation (Canvas's "calculate based only on graded assignments"
and its what-if scores are the model: a what-if is the same computation with hypothetical
scores filled in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scalable_ai.course.policy import grading
from scalable_ai.course.policy.settings import CourseSettings


class Status(StrEnum):
    """One gate's state, in the words the pages show."""

    PENDING = "pending"
    ON_TRACK = "on track"
    AT_RISK = "at risk"
    FAILING = "failing"
    SATISFACTORY = "satisfactory"
    UNSATISFACTORY = "unsatisfactory"


class Standing(StrEnum):
    """The student's standing: the worst of their gates."""

    ON_TRACK = "on track"
    AT_RISK = "at risk"
    FAILING = "failing"


@dataclass(frozen=True)
class Mix:
    """Weighted parts, each a percentage or None (not graded yet)."""

    parts: tuple[tuple[float | None, float], ...]

    @property
    def total_weight(self) -> float:
        return sum(w for _, w in self.parts)

    @property
    def graded_weight(self) -> float:
        return sum(w for v, w in self.parts if v is not None)

    @property
    def complete(self) -> bool:
        return all(v is not None for v, w in self.parts if w > 0)

    @property
    def so_far(self) -> float | None:
        """The mean over graded parts (None when nothing is graded)."""
        graded = self.graded_weight
        if graded <= 0:
            return None
        return sum(v * w for v, w in self.parts if v is not None) / graded

    def filled(self, value: float) -> float:
        """The score with every pending part at ``value`` (0: earned; 100: best possible)."""
        total = self.total_weight
        return sum((value if v is None else v) * w for v, w in self.parts) / total

    def scaled(self, factor: float) -> Mix:
        return Mix(tuple((v, w * factor) for v, w in self.parts))

    @staticmethod
    def of(*mixes: tuple[Mix, float]) -> Mix:
        """Mixes combined with the given weights (each normalised to its own total)."""
        parts: list[tuple[float | None, float]] = []
        for mix, weight in mixes:
            parts += mix.scaled(weight / mix.total_weight).parts
        return Mix(tuple(parts))


def _one(value: float | None) -> Mix:
    return Mix(((value, 1.0),))


@dataclass(frozen=True)
class Gate:
    """A gated thing (a component, or one assignment's core) and how it stands."""

    key: str
    title: str
    weight: float  # points in the final total (0 for an assignment's core)
    threshold: float
    so_far: float | None
    best: float
    graded_share: float  # how much of it is graded, 0..1
    status: Status
    why: str = ""
    provisional: bool = False


@dataclass(frozen=True)
class RunningGrade:
    """The running grade (see the module docstring). ``final`` is the end-of-term report,
    whose letter is shown only when ``complete``."""

    gates: tuple[Gate, ...]
    standing: Standing
    reasons: tuple[str, ...]
    projected: float | None
    projected_letter: str
    earned: float
    best_possible: float
    graded_points: float
    complete: bool
    final: grading.GradeReport
    what_if: bool = False

    @property
    def letter(self) -> str:
        """The final letter, only once every component is graded."""
        return self.final.letter if self.complete else ""

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes a student reads: the carried ones (slack days, peer reviews, the live
        participation score) mid-semester; every note of the final report once complete
        (before that, its "counts as 0" and gate notes would say what is not true yet)."""
        return tuple(n.message for n in self.final.notes if self.complete or n.rule == "note")

    def gate(self, key: str) -> Gate:
        return next(g for g in self.gates if g.key == key)

    @property
    def components(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.weight > 0)

    @property
    def assignment_cores(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.weight == 0)


def _assignment_mixes(
    scores: grading.StudentScores, settings: CourseSettings, keys: Sequence[str]
) -> tuple[dict[str, Mix], Mix]:
    """Each assignment's core as a mix of its parts, and the enhancements component.

    An assignment's enhancement is graded when recorded, or once the assignment's core is
    fully graded (a group that did none has 0 for it, as at the end of term)."""
    weights = settings.assignment_part_weights
    by_key = {a.assignment: a for a in scores.assignments}
    cores: dict[str, Mix] = {}
    enhancements: list[tuple[float | None, float]] = []
    for key in keys:
        parts = by_key.get(key, grading.AssignmentParts(key))
        core = Mix(
            (
                (parts.code, weights.code),
                (parts.written, weights.written),
                (parts.checkoff, weights.checkoff),
            )
        )
        cores[key] = core
        enhancement = parts.enhancement
        if enhancement is None and core.complete:
            enhancement = 0.0
        enhancements.append((enhancement, 1.0))
    if scores.enhancements is not None:
        return cores, _one(scores.enhancements)
    return cores, Mix(tuple(enhancements))


def _technical(scores: grading.StudentScores, settings: CourseSettings) -> Mix:
    peer_weight = settings.peer_review_weight
    return Mix(
        (
            (scores.project_technical_staff, 1 - peer_weight),
            (scores.project_technical_peer, peer_weight),
        )
    )


def _status(mix: Mix, threshold: float, provisional: bool) -> tuple[Status, str]:
    so_far = mix.so_far
    if so_far is None:
        return Status.PENDING, "not graded yet"
    best = mix.filled(100.0)
    if mix.complete and not provisional:
        if so_far >= threshold:
            return Status.SATISFACTORY, f"{so_far:.1f} ≥ {threshold:g}"
        return Status.UNSATISFACTORY, f"{so_far:.1f} < {threshold:g}, fully graded"
    if best < threshold and not provisional:
        return Status.FAILING, (
            f"{so_far:.1f} so far; even full marks on what is left "
            f"reach only {best:.1f} < {threshold:g}"
        )
    if so_far < threshold:
        left = "" if provisional else f"; full marks on what is left would reach {best:.1f}"
        return Status.AT_RISK, f"{so_far:.1f} so far, below {threshold:g}{left}"
    return Status.ON_TRACK, f"{so_far:.1f} so far (≥ {threshold:g})"


def _gate(
    key: str, title: str, weight: float, mix: Mix, threshold: float, provisional: bool = False
) -> Gate:
    status, why = _status(mix, threshold, provisional)
    return Gate(
        key,
        title,
        weight,
        threshold,
        mix.so_far,
        mix.filled(100.0),
        mix.graded_weight / mix.total_weight,
        status,
        why,
        provisional,
    )


def running_grade(
    scores: grading.StudentScores,
    settings: CourseSettings | None = None,
    *,
    assignment_keys: Sequence[str] = grading.ASSIGNMENT_KEYS,
    provisional: Sequence[str] = (),
    extra_notes: Sequence[str] = (),
    what_if: bool = False,
) -> RunningGrade:
    """The running grade of ``scores``. ``provisional`` names top-level components whose
    score is a live estimate (participation read from the ledger before staff record it):
    such a component can be at risk but is never failing or final."""
    settings = settings or grading.CourseSettings()
    final = grading.compute_grade(
        scores, settings, assignment_keys=assignment_keys, extra_notes=extra_notes
    )
    cores, enhancements = _assignment_mixes(scores, settings, assignment_keys)
    weights = grading.COMPONENT_WEIGHTS
    core_mean = Mix.of(*((core, 1.0) for core in cores.values()))
    mixes = {
        "project": Mix.of(
            (_technical(scores, settings), weights["project.technical"]),
            (_one(scores.project_impact), weights["project.impact"]),
        ),
        "assignments": Mix.of(
            (core_mean, weights["assignments.core"]),
            (enhancements, weights["assignments.enhancements"]),
        ),
        "scribing": _one(scores.scribing),
        "participation": _one(scores.participation),
    }
    gates = [
        _gate(
            c.key,
            c.title,
            c.weight,
            mixes[c.key],
            getattr(settings.satisfactory, c.key),
            c.key in provisional,
        )
        for c in grading.COMPONENTS
    ]
    gates += [
        _gate(f"{key}.core", f"{key} core", 0.0, core, settings.satisfactory.assignment_core)
        for key, core in cores.items()
    ]
    overall = Mix.of(*((mixes[c.key], c.weight) for c in grading.COMPONENTS))
    complete = overall.complete and not provisional
    reasons = tuple(
        f"{g.title}: {g.why}"
        for g in gates
        if g.status in (Status.FAILING, Status.UNSATISFACTORY, Status.AT_RISK)
    )
    if any(g.status in (Status.FAILING, Status.UNSATISFACTORY) for g in gates):
        standing = Standing.FAILING
    elif any(g.status is Status.AT_RISK for g in gates):
        standing = Standing.AT_RISK
    else:
        standing = Standing.ON_TRACK
    projected = overall.so_far
    return RunningGrade(
        gates=tuple(gates),
        standing=standing,
        reasons=reasons,
        projected=projected,
        projected_letter="" if projected is None else grading.letter_for(projected, settings),
        earned=overall.filled(0.0),
        best_possible=overall.filled(100.0),
        graded_points=overall.graded_weight,
        complete=complete,
        final=final,
        what_if=what_if,
    )

"""Proposing project groups from the onboarding questionnaire.

Syllabus: "Course questionnaire (Week 1–2) ... We will finalize enrollment/compute allocations
and related decisions by the end of the second week (Jan 29)" and "Groups of 4–6". Staff use
the answers to propose groups that are

- **sized 4–6** (every group, no student left out);
- **balanced on experience**: each group's total GPU experience is as even as the answers
  allow, so no group starts without someone who has run a multi-GPU job;
- **respecting requested teammates where possible**: mutual requests are honoured first,
  one-way requests next, as long as the cluster still fits one group;
- **deterministic given a seed**: the same answers and seed give the same proposal, and a
  different seed breaks ties differently (so staff can ask for another proposal).

The algorithm, in three steps:

1. Pick the number of groups ``k``: the feasible count (``ceil(n/max) <= k <= floor(n/min)``)
   whose sizes come closest to the middle of the range; sizes then differ by at most one.
2. Join students who asked for each other into clusters (union-find over mutual requests,
   then one-way requests), never letting a cluster outgrow the largest group.
3. Place clusters largest first, then single students from most to least experienced, each
   into the group with room whose experience total is lowest (ties: fewer members, then the
   seeded order). Placing the most experienced first and always topping up the weakest group
   keeps the spread of totals within one student's experience, as in greedy number
   partitioning. A cluster that fits no group's target may grow a group up to the maximum
   when the others can shrink (still at least the minimum); otherwise it is split.

Pure: no I/O, no clock; students are identified by any hashable, orderable key.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalable_ai.errors import UserError


@dataclass(frozen=True)
class Respondent:
    """One student as the grouping sees them: an ``experience`` level (higher is more GPU
    experience, e.g. the index of the chosen answer) and the students they asked to work with."""

    student: Any
    experience: float = 0.0
    requested: frozenset[Any] = field(default_factory=frozenset)


@dataclass(frozen=True)
class GroupProposal:
    """A proposed group: its members (sorted) and their experience total."""

    members: tuple[Any, ...]
    experience_total: float

    @property
    def size(self) -> int:
        return len(self.members)


def group_count(students: int, size_min: int = 4, size_max: int = 6) -> int:
    """How many groups ``students`` make: the feasible count whose average size is nearest the
    middle of ``[size_min, size_max]``; a :class:`UserError` when no split fits (e.g. 7 into 4–6)."""
    if students == 0:
        return 0
    low, high = math.ceil(students / size_max), students // size_min
    if low > high:
        raise UserError(
            f"{students} students cannot be split into groups of {size_min}–{size_max}",
            field="students",
        )
    middle = (size_min + size_max) / 2
    return min(range(low, high + 1), key=lambda k: (abs(students / k - middle), k))


def group_sizes(students: int, groups: int) -> list[int]:
    """Sizes that differ by at most one and sum to ``students`` (larger groups first)."""
    if groups == 0:
        return []
    base, extra = divmod(students, groups)
    return [base + 1 if i < extra else base for i in range(groups)]


class _Clusters:
    """Union-find that refuses a union growing a cluster past ``limit``."""

    def __init__(self, students: Sequence[Hashable], limit: int) -> None:
        self.parent = {s: s for s in students}
        self.size = dict.fromkeys(students, 1)
        self.limit = limit

    def find(self, s: Hashable) -> Hashable:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def join(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or self.size[ra] + self.size[rb] > self.limit:
            return
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]


def _clusters(
    respondents: Sequence[Respondent], limit: int, order: Mapping[Any, int]
) -> list[list[Any]]:
    known = {r.student for r in respondents}
    wants = {
        r.student: {t for t in r.requested if t in known and t != r.student} for r in respondents
    }
    union = _Clusters([r.student for r in respondents], limit)
    mutual = sorted(
        {
            tuple(sorted((a, b), key=order.__getitem__))
            for a, targets in wants.items()
            for b in targets
            if a in wants[b]
        },
        key=lambda pair: (order[pair[0]], order[pair[1]]),
    )
    one_way = sorted(
        ((a, b) for a, targets in wants.items() for b in targets if a not in wants[b]),
        key=lambda pair: (order[pair[0]], order[pair[1]]),
    )
    for a, b in [*mutual, *one_way]:
        union.join(a, b)
    groups: dict[Hashable, list[Any]] = {}
    for r in respondents:
        groups.setdefault(union.find(r.student), []).append(r.student)
    return list(groups.values())


def propose_groups(
    respondents: Sequence[Respondent],
    *,
    seed: int = 0,
    size_min: int = 4,
    size_max: int = 6,
) -> list[GroupProposal]:
    """Groups of ``size_min``–``size_max`` covering every respondent exactly once, balanced on
    experience and keeping requested teammates together where they fit (see module doc)."""
    students = [r.student for r in respondents]
    if len(set(students)) != len(students):
        raise UserError("a student appears twice among the respondents", field="students")
    if not respondents:
        return []
    sizes = group_sizes(len(students), group_count(len(students), size_min, size_max))
    tiebreak = sorted(students, key=repr)
    random.Random(seed).shuffle(tiebreak)
    order = {s: i for i, s in enumerate(tiebreak)}
    experience = {r.student: float(r.experience) for r in respondents}

    members: list[list[Any]] = [[] for _ in sizes]
    totals = [0.0] * len(sizes)

    def spare(g: int) -> int:
        """How far group ``g``'s target could shrink and still reach ``size_min``."""
        return sizes[g] - max(size_min, len(members[g]))

    def place(people: list[Any]) -> bool:
        room = [g for g in range(len(sizes)) if sizes[g] - len(members[g]) >= len(people)]
        if not room:  # grow one group up to size_max, shrinking the targets of others
            room = [
                g
                for g in range(len(sizes))
                if len(members[g]) + len(people) <= size_max
                and sum(spare(o) for o in range(len(sizes)) if o != g)
                >= len(members[g]) + len(people) - sizes[g]
            ]
        if not room:
            return False
        g = min(room, key=lambda g: (totals[g], len(members[g]), g))
        for _ in range(len(members[g]) + len(people) - sizes[g]):
            donor = max(
                (o for o in range(len(sizes)) if o != g and spare(o) > 0),
                key=lambda o: (sizes[o], -o),
            )
            sizes[donor] -= 1
            sizes[g] += 1
        members[g].extend(people)
        totals[g] += sum(experience[p] for p in people)
        return True

    clusters = _clusters(respondents, max(sizes), order)
    together = sorted(
        (c for c in clusters if len(c) > 1),
        key=lambda c: (-len(c), -sum(experience[p] for p in c), min(order[p] for p in c)),
    )
    singles = [c[0] for c in clusters if len(c) == 1]
    for cluster in together:
        if not place(cluster):
            singles.extend(cluster)
    for student in sorted(singles, key=lambda s: (-experience[s], order[s])):
        place([student])
    proposals = [
        GroupProposal(tuple(sorted(m, key=repr)), totals[g]) for g, m in enumerate(members)
    ]
    return sorted(proposals, key=lambda p: repr(p.members))


def honoured_requests(
    proposals: Sequence[GroupProposal], respondents: Sequence[Respondent]
) -> tuple[int, int]:
    """(requests honoured, requests made) among respondents: shown to staff with a proposal."""
    group_of = {m: i for i, p in enumerate(proposals) for m in p.members}
    made = honoured = 0
    for r in respondents:
        for target in r.requested:
            if target in group_of and target != r.student:
                made += 1
                honoured += group_of[target] == group_of.get(r.student)
    return honoured, made

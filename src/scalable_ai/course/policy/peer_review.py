"""Peer review: "each group will provide a structured, constructive review of another
group's report", submitted via Gradescope, due on the peer-review date (May 1).

The assignment is a derangement (no group reviews its own draft) in which every group
writes exactly one review and receives exactly one: the seed shuffles the groups into a
cycle and each group reviews the next one in it. Deterministic given the seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from scalable_ai.errors import UserError


@dataclass(frozen=True)
class PeerReviewAssignment:
    reviewer: str  # the group writing the review
    author: str  # the group whose draft report it reviews
    due: datetime | None = None


def assign_peer_reviews(
    groups: Sequence[str], seed: int = 0, due: datetime | None = None
) -> list[PeerReviewAssignment]:
    """Each group reviews another group's draft, never its own; each draft gets one review."""
    if len(set(groups)) != len(groups):
        raise UserError("a group is listed twice", field="groups")
    if len(groups) < 2:
        raise UserError("peer review needs at least two groups", field="groups")
    cycle = sorted(groups)
    random.Random(seed).shuffle(cycle)
    return [
        PeerReviewAssignment(reviewer=g, author=cycle[(i + 1) % len(cycle)], due=due)
        for i, g in enumerate(cycle)
    ]


def check_peer_review(reviewer: str, author: str) -> None:
    """A group never reviews its own report."""
    if reviewer == author:
        raise UserError("a group cannot review its own report", field="author")

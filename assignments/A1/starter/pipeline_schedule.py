"""Part 3 (lecture: pipeline parallelism): the order in which one pipeline stage runs its
micro-batches' forward (``F``) and backward (``B``) passes.

**GPipe** (Huang et al. 2019): every forward, then every backward. A stage holds all ``m``
micro-batches' activations at its peak.

**1F1B** (PipeDream-Flush, Narayanan et al. 2021): stage ``s`` of ``p`` runs
``min(p - s - 1, m)`` warm-up forwards, then alternates one forward and one backward, then
drains the remaining backwards. A micro-batch's activations are freed by its backward, so
stage ``s`` never holds more than ``p - s`` of them; the bubble is the same as GPipe's,
``(p - 1) / (m + p - 1)``.

A schedule is a list of ``("F", i)`` and ``("B", i)`` for micro-batches ``i = 0 .. m-1``.
"""

from __future__ import annotations

Action = tuple[str, int]


def gpipe_schedule(stage: int, num_stages: int, num_microbatches: int) -> list[Action]:
    """All forwards in order, then all backwards in order."""
    raise NotImplementedError("TODO(A1.8): gpipe_schedule")


def one_f_one_b_schedule(stage: int, num_stages: int, num_microbatches: int) -> list[Action]:
    """Warm-up forwards, then one forward and one backward in turn, then the last backwards."""
    # TODO(A1.9): how many warm-up forwards does stage s need so that the last stage can
    #   start its first backward as early as possible, and no more (memory)? Check your
    #   schedule with the simulator in conftest.py (``simulate_pipeline``): it reports each
    #   stage's peak number of micro-batches in flight and the ticks to finish.
    raise NotImplementedError("TODO(A1.9): one_f_one_b_schedule")


def bubble_fraction(num_stages: int, num_microbatches: int) -> float:
    """The share of a step a stage sits idle when forward and backward take equal time."""
    raise NotImplementedError("TODO(A1.10): bubble_fraction")

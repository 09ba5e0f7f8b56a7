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
    return [("F", i) for i in range(num_microbatches)] + [("B", i) for i in range(num_microbatches)]


def one_f_one_b_schedule(stage: int, num_stages: int, num_microbatches: int) -> list[Action]:
    """Warm-up forwards, then one forward and one backward in turn, then the last backwards."""
    warmup = min(num_stages - stage - 1, num_microbatches)
    actions: list[Action] = [("F", i) for i in range(warmup)]
    forward, backward = warmup, 0
    while forward < num_microbatches:
        actions.append(("F", forward))
        forward += 1
        actions.append(("B", backward))
        backward += 1
    actions += [("B", i) for i in range(backward, num_microbatches)]
    return actions


def bubble_fraction(num_stages: int, num_microbatches: int) -> float:
    """The share of a step a stage sits idle when forward and backward take equal time."""
    return (num_stages - 1) / (num_microbatches + num_stages - 1)

"""Performance checks for kits: a ratio to a reference measured in the same run, never an
absolute time (a grading machine may be shared, slower or faster than the one the threshold
was written on; the ratio of two things measured side by side barely moves).

The reference and the candidate run alternately, so a burst of load from a neighbour hits
both, and the median of the per-repeat ratios ignores the odd outlier. The garbage collector
is off while timing (as ``timeit`` does): otherwise whichever side happens to trigger a full
collection pays for every object the test session holds (measured: the same two allocators
came out 0.06x, 0.33x and 6.9x apart in three runs before this).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable


def _seconds(work: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started
    finally:
        gc.enable()


def median_ratio(
    reference: Callable[[], object],
    candidate: Callable[[], object],
    repeats: int = 5,
    warmup: int = 1,
) -> float:
    """Median over ``repeats`` of candidate time / reference time, measured alternately."""
    for _ in range(warmup):
        reference()
        candidate()
    ratios = []
    for _ in range(repeats):
        base = _seconds(reference)
        ratios.append(_seconds(candidate) / max(base, 1e-9))
    return statistics.median(ratios)


def best_ratio(reference_seconds: list[float], candidate_seconds: list[float]) -> float:
    """The candidate's fastest time over the reference's fastest, for noise that only ever adds
    time (as ``timeit`` advises: the minimum is the closest to the work's own cost).

    For several ranks sharing a few cores the median of per-repeat ratios is not enough: every
    step of a ring waits for the slowest rank to be scheduled, so a busy machine stretches one
    side's repeats more than the other's. Measured with A1's reference ring on 2 cores, 4 ranks
    (8 runs each): median of 7 ratios 0.6-2.3 quiet, up to 4.4 beside two busy processes and
    1.5-3.8 with two gradings at once; fastest of 15 each 0.8-2.1, 1.0-3.0 and 0.8-2.7.
    """
    if not reference_seconds or not candidate_seconds:
        raise ValueError("best_ratio needs at least one time on each side")
    return min(candidate_seconds) / max(min(reference_seconds), 1e-9)


def ratio_credit(ratio: float, full_at: float, zero_at: float) -> float:
    """Full credit at or below ``full_at``, none at or above ``zero_at``, linear between."""
    if ratio <= full_at:
        return 1.0
    if ratio >= zero_at:
        return 0.0
    return (zero_at - ratio) / (zero_at - full_at)

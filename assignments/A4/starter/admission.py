"""Part 2 (lecture 18): admission in continuous batching.

Orca (Yu et al., OSDI 2022) schedules one iteration at a time: after every step, waiting
requests may join the running batch. The lab stack's ``Scheduler``
(``scalable_ai/infer/scheduler.py``) serves running sequences first; what is left of the
step's token budget goes to :func:`admit`, which you write. The tests run the lab stack's
scheduler and engine with your admission (prefix caching off: a waiting sequence has no
blocks and ``num_computed == 0``).
"""

from __future__ import annotations

from scalable_ai.infer.scheduler import ScheduledSequence, Scheduler
from scalable_ai.infer.sequence import SequenceStatus  # noqa: F401 (you will need it)


def admit(scheduler: Scheduler, scheduled: list[ScheduledSequence], budget: int) -> int:
    """Admit waiting sequences while the budget, ``max_num_seqs`` and the free blocks allow;
    returns the budget left.

    TODO(A4.2). For the sequence at the head of ``scheduler.waiting``:
      - its chunk is ``min(tokens not yet computed, budget)`` tokens (chunked prefill);
      - it needs the blocks that hold ``num_computed + chunk`` tokens
        (``scheduler.config.block_size``), minus those in its ``block_table``;
      - if ``scheduler.pool.num_free`` cannot cover them, stop: decide what happens to the
        requests behind it (the handout's question 2.2; a hidden test checks fairness);
      - else take it off the queue, allocate its blocks into ``seq.block_table``, mark it
        ``SequenceStatus.RUNNING``, append it to ``scheduler.running`` and
        ``ScheduledSequence(seq, chunk)`` to ``scheduled``, and spend the budget.
    Stop when the queue is empty, the budget is spent or ``max_num_seqs`` sequences run.
    """
    raise NotImplementedError("TODO(A4.2): admit")


class AdmissionScheduler(Scheduler):
    """The lab stack's scheduler with :func:`admit` as its admission policy (given)."""

    def _admit(self, scheduled: list[ScheduledSequence], budget: int) -> int:
        return admit(self, scheduled, budget)

"""Part 2 (lecture 18): admission in continuous batching.

Orca (Yu et al., OSDI 2022) schedules one iteration at a time: after every step, waiting
requests may join the running batch. The lab stack's ``Scheduler`` serves running sequences
first; what is left of the step's token budget goes to :func:`admit`, which moves waiting
sequences to running, first come first served, chunking a long prompt to the budget
(chunked prefill, Sarathi) and giving each the KV blocks its chunk needs.
"""

from __future__ import annotations

from scalable_ai.infer.scheduler import ScheduledSequence, Scheduler
from scalable_ai.infer.sequence import SequenceStatus


def admit(scheduler: Scheduler, scheduled: list[ScheduledSequence], budget: int) -> int:
    """Admit waiting sequences in arrival order while the budget, ``max_num_seqs`` and the
    free blocks allow; returns the budget left.

    The head of the queue is never overtaken: when it does not fit, nobody behind it is
    admitted either, so a long request cannot starve behind a stream of short ones.
    """
    config, pool = scheduler.config, scheduler.pool
    while scheduler.waiting and budget > 0 and len(scheduler.running) < config.max_num_seqs:
        seq = scheduler.waiting[0]
        num_new = min(seq.num_tokens - seq.num_computed, budget)
        blocks_total = -(-(seq.num_computed + num_new) // config.block_size)
        needed = blocks_total - len(seq.block_table)
        if needed > pool.num_free:
            break
        scheduler.waiting.popleft()
        for _ in range(needed):
            seq.block_table.append(pool.allocate())
        seq.status = SequenceStatus.RUNNING
        scheduler.running.append(seq)
        scheduled.append(ScheduledSequence(seq, num_new))
        budget -= num_new
    return budget


class AdmissionScheduler(Scheduler):
    """The lab stack's scheduler with :func:`admit` as its admission policy."""

    def _admit(self, scheduled: list[ScheduledSequence], budget: int) -> int:
        return admit(self, scheduled, budget)

"""Performance checks, graded as ratios against the lab stack's reference measured in the
same run (median of repeats), never as absolute times."""

import math

import pytest

from scalable_ai.infer.kv_cache import BlockPool
from scalable_ai.infer.scheduler import Scheduler
from scalable_ai.kits.timing import median_ratio, ratio_credit


def _churn(pool_class, allocate, release, num_blocks: int = 4096, rounds: int = 8):
    """Fill a fresh pool, then empty it, ``rounds`` times: one allocation and one release
    per block each round (tens of milliseconds, well above the timer's noise). A fresh pool
    each round, so this checks speed only, not reuse (other tests check that)."""

    def work() -> None:
        for _ in range(rounds):
            pool = pool_class(num_blocks)
            blocks = [allocate(pool) for _ in range(num_blocks)]
            for block in blocks:
                release(pool, block)

    return work


@pytest.mark.points(3)
def test_allocator_speed_against_the_lab_stack(submission, credit):
    """Allocating and releasing 4096 blocks (8 rounds) takes at most 3x the lab stack's BlockPool time
    for full credit, none from 10x (median of 7 interleaved repeats)."""
    allocator = submission.module("block_allocator").BlockAllocator
    ratio = median_ratio(
        reference=_churn(BlockPool, BlockPool.allocate, BlockPool.release),
        candidate=_churn(allocator, allocator.allocate, allocator.release),
        repeats=7,
    )
    credit.fraction = ratio_credit(ratio, full_at=3.0, zero_at=10.0)
    credit.note = f"your allocator took {ratio:.2f}x the reference's time"


@pytest.mark.points(3)
def test_admission_keeps_the_batch_full(submission, lab, credit):
    """Serving a burst of 16 requests takes as many steps as the reference scheduler (full
    credit up to 1.1x its steps, none from 2x): admission must fill the batch every step."""
    admission = submission.module("admission")

    def burst(step: int):
        if step != 1:
            return []
        return [lab.sequence(f"r{i}", prompt_length=5 + i % 7, max_tokens=8) for i in range(16)]

    reference = lab.simulate(lab.scheduler(Scheduler), burst, max_steps=400)
    yours = lab.simulate(lab.scheduler(admission.AdmissionScheduler), burst, max_steps=400)
    ratio = yours / reference
    credit.fraction = ratio_credit(ratio, full_at=1.1, zero_at=2.0)
    credit.note = f"{yours} steps against the reference's {reference} ({ratio:.2f}x)"


@pytest.mark.points(6)
def test_speculation_saves_target_passes(submission, lab, credit):
    """With a draft that always agrees (the target itself) and k = 4, 20 tokens need
    ceil(20 / 5) = 4 target passes instead of 20: full credit at 4, none at 20."""
    generate = submission.module("speculative").speculative_generate
    model = lab.tiny_model(seed=0)
    _, passes = generate(model, model, list(b"draft"), max_new_tokens=20, k=4, temperature=0.0)
    ideal = math.ceil(20 / 5)
    credit.fraction = ratio_credit(passes / ideal, full_at=1.0, zero_at=20 / ideal)
    credit.note = f"{passes} target passes for 20 tokens (ideal {ideal})"

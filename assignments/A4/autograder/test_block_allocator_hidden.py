"""Part 1, hidden: sharing, misuse, and the allocator inside the lab stack's engine."""

import pytest


@pytest.mark.points(4)
def test_a_shared_block_is_freed_at_its_last_release(submission):
    """A block shared by two sequences stays in use after one release and is free after both."""
    allocator = submission.module("block_allocator").BlockAllocator(4)
    block = allocator.allocate()
    allocator.share(block)
    assert allocator.ref_count(block) == 2
    allocator.release(block)
    assert allocator.ref_count(block) == 1
    assert allocator.num_free == 3
    allocator.release(block)
    assert allocator.ref_count(block) == 0
    assert allocator.num_free == 4


@pytest.mark.points(2)
def test_releasing_a_free_block_is_refused(submission):
    """Releasing a block nobody holds is a bug in the caller: ValueError, not a negative count."""
    allocator = submission.module("block_allocator").BlockAllocator(2)
    block = allocator.allocate()
    allocator.release(block)
    with pytest.raises(ValueError):
        allocator.release(block)
    assert allocator.ref_count(block) == 0


@pytest.mark.points(4)
def test_the_engine_on_your_allocator_matches_the_reference_under_pressure(submission, lab):
    """With too few blocks for every request at once (preemption happens), the lab stack's
    engine on your allocator produces exactly the reference engine's greedy tokens."""
    allocator = submission.module("block_allocator").BlockAllocator(24)
    engine = lab.with_allocator(lab.engine(num_blocks=24), allocator)
    expected = lab.run(lab.engine(num_blocks=24), lab.prompts, max_tokens=20)
    assert lab.run(engine, lab.prompts, max_tokens=20) == expected
    assert engine.scheduler.num_preemptions > 0, "the test meant to run out of blocks"


@pytest.mark.points(3)
def test_the_engine_leaves_no_block_behind(submission, lab):
    """After every request finished or was aborted, every block is free again."""
    allocator = submission.module("block_allocator").BlockAllocator(64)
    engine = lab.with_allocator(lab.engine(num_blocks=64), allocator)
    lab.run(engine, lab.prompts[:3], max_tokens=6)
    engine.add_request("to be aborted after one step", None, request_id="gone")
    engine.step()
    engine.abort("gone")
    assert allocator.num_free == 64

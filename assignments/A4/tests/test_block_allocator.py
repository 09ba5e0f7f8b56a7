"""Part 1, visible: the block allocator's contract (lecture 17, PagedAttention)."""

import pytest


@pytest.mark.points(3)
def test_allocate_gives_distinct_blocks(submission):
    """Allocating every block gives each physical block exactly once."""
    allocator = submission.module("block_allocator").BlockAllocator(8)
    blocks = [allocator.allocate() for _ in range(8)]
    assert sorted(blocks) == list(range(8))
    assert allocator.num_free == 0


@pytest.mark.points(3)
def test_out_of_blocks_is_an_error(submission):
    """Allocating from an empty pool raises OutOfBlocks instead of reusing a block."""
    module = submission.module("block_allocator")
    allocator = module.BlockAllocator(2)
    allocator.allocate()
    allocator.allocate()
    with pytest.raises(module.OutOfBlocks):
        allocator.allocate()


@pytest.mark.points(4)
def test_release_returns_the_block(submission):
    """A released block is free again and can be allocated again."""
    allocator = submission.module("block_allocator").BlockAllocator(2)
    first, second = allocator.allocate(), allocator.allocate()
    allocator.release(first)
    assert allocator.num_free == 1
    assert allocator.ref_count(first) == 0
    assert allocator.allocate() == first
    allocator.release(second)
    assert allocator.num_free == 1


@pytest.mark.points(4)
def test_blocks_needed_and_slots(submission):
    """A sequence of n tokens needs ceil(n / block_size) blocks; a token's slot follows its
    block table."""
    module = submission.module("block_allocator")
    assert [module.blocks_needed(n, 4) for n in (1, 4, 5, 8, 9)] == [1, 1, 2, 2, 3]
    assert module.blocks_needed(0, 16) == 0
    table = [7, 2, 5]
    assert [module.slot_of(table, p, 4) for p in (0, 3, 4, 9)] == [28, 31, 8, 21]

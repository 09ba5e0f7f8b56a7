"""Part 2, hidden: the epoch's windows shared out among ranks as the lab stack's loader does."""

import pytest


@pytest.mark.points(4)
def test_packing_edge_cases(submission):
    """A stream shorter than one window gives no window; an exact fit gives every window; a
    window may span several short documents."""
    pack = submission.module("packing").pack_documents
    assert tuple(pack([[1, 2]], seq_len=4, eos_id=0).shape) == (0, 5)
    assert pack([[1, 2, 3, 4]], seq_len=4, eos_id=0).tolist() == [[1, 2, 3, 4, 0]]
    assert pack([[7], [8], [9], [10]], seq_len=3, eos_id=0).tolist() == [
        [7, 0, 8, 0],
        [0, 9, 0, 10],
    ]


@pytest.mark.points(6)
def test_ranks_together_read_what_one_process_reads(submission):
    """Four ranks with batch 2 read, step by step, exactly the windows one process with batch
    8 reads; the order is the same on every call and changes with the epoch."""
    rank_batches = submission.module("packing").rank_batches
    one = rank_batches(50, batch_size=8, rank=0, world_size=1, seed=3, epoch=1)
    per_rank = [
        rank_batches(50, batch_size=2, rank=r, world_size=4, seed=3, epoch=1) for r in range(4)
    ]
    assert len(one) == 6
    for step in range(6):
        together = [w for r in range(4) for w in per_rank[r][step]]
        assert together == one[step]
    assert rank_batches(50, 8, 0, 1, seed=3, epoch=1) == one
    assert rank_batches(50, 8, 0, 1, seed=3, epoch=2) != one

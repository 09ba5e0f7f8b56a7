"""Part 2, visible: packing documents into windows and sharing them among ranks (lecture L6,
the lab stack's loader)."""

import pytest
import torch


@pytest.mark.points(5)
def test_documents_are_packed_with_eos_into_overlapping_windows(submission):
    """Documents are joined with the end-of-text id after each, cut into windows of
    seq_len + 1 with stride seq_len; the incomplete tail is dropped."""
    pack = submission.module("packing").pack_documents
    windows = pack([[1, 2, 3], [4, 5], [6, 7, 8, 9]], seq_len=4, eos_id=0)
    # stream: 1 2 3 0 4 5 0 6 7 8 9 0  (12 tokens)
    assert windows.dtype == torch.long
    assert windows.tolist() == [[1, 2, 3, 0, 4], [4, 5, 0, 6, 7]]


@pytest.mark.points(5)
def test_ranks_read_disjoint_windows(submission):
    """Two ranks with batch size 3 over 20 windows: 3 steps each, no window read twice."""
    rank_batches = submission.module("packing").rank_batches
    seen = []
    for rank in range(2):
        steps = rank_batches(20, batch_size=3, rank=rank, world_size=2, seed=0, epoch=0)
        assert len(steps) == 3 and all(len(step) == 3 for step in steps)
        seen += [w for step in steps for w in step]
    assert len(seen) == len(set(seen)) == 18
    assert set(seen) <= set(range(20))

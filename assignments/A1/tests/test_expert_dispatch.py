"""Part 4, visible: expert dispatch order and counts (lecture: expert parallelism)."""

import pytest
import torch


@pytest.mark.points(4)
def test_dispatch_order_groups_assignments_by_expert(submission):
    """Assignments sorted by expert (stable), and counted per rank holding those experts."""
    dispatch_order = submission.module("expert_dispatch").dispatch_order
    top = torch.tensor([[3, 0], [1, 3], [2, 0]])  # 3 tokens, top-2 of 4 experts
    order, send_counts = dispatch_order(top, n_experts=4, ep=2)
    assert order.tolist() == [1, 5, 2, 4, 0, 3]  # experts 0,0,1,2,3,3
    assert send_counts.tolist() == [3, 3]  # rank 0: experts 0-1, rank 1: experts 2-3

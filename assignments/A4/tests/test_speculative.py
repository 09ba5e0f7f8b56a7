"""Part 3, visible: the speculative step's acceptance rule (lecture 19)."""

import pytest
import torch


def one_hot(tokens: list[int], vocab: int = 6) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(tokens), vocab).float()


@pytest.mark.points(4)
def test_greedy_keeps_the_matching_prefix_then_corrects(submission):
    """Greedy: draft tokens equal to the target's choice are kept; at the first difference
    the target's token replaces the draft's and the step ends."""
    accept = submission.module("speculative").accept_draft
    draft = [1, 2, 3, 4]
    target_choice = [1, 2, 5, 4, 0]
    emitted = accept(
        draft, one_hot(draft), one_hot(target_choice), torch.Generator().manual_seed(0)
    )
    assert emitted == [1, 2, 5]


@pytest.mark.points(3)
def test_all_accepted_adds_the_bonus_token(submission):
    """When every draft token is kept, one more token comes from the target's last row."""
    accept = submission.module("speculative").accept_draft
    draft = [3, 3]
    emitted = accept(draft, one_hot(draft), one_hot([3, 3, 2]), torch.Generator().manual_seed(0))
    assert emitted == [3, 3, 2]

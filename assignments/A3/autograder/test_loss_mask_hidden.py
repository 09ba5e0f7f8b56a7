"""Part 1, hidden: the mask against the lab stack's, and what a step actually trains."""

import random

import pytest
import torch

from scalable_ai.post.chat import EncodedChat, targets_of


@pytest.mark.points(8)
def test_labels_equal_the_lab_stacks_on_multi_turn_chats(submission):
    """On 50 random multi-turn chats (several assistant turns, a first token never trained)
    the labels equal scalable_ai.post.chat.targets_of's."""
    sft_labels = submission.module("loss_mask").sft_labels
    rng = random.Random(0)
    for _ in range(50):
        ids, mask = [], []
        for turn in range(rng.randint(1, 4)):
            for role in ("user", "assistant"):
                n = rng.randint(1, 6)
                ids += [rng.randint(0, 255) for _ in range(n)]
                mask += [role == "assistant" and turn >= 0] * n
        mask[0] = False
        assert sft_labels(ids, mask) == targets_of(EncodedChat(ids, mask)), (ids, mask)


@pytest.mark.points(6)
def test_a_step_trains_only_the_positions_that_predict_the_assistant(submission, lab):
    """Through the lab model, the loss's gradient reaches exactly the logits of positions
    whose next token is the assistant's."""
    module = submission.module("loss_mask")
    ids = [5, 6, 7, 8, 9, 10, 11]
    mask = [False, False, False, True, True, False, True]
    labels = torch.tensor([module.sft_labels(ids, mask)])
    logits = lab.micro_model()(torch.tensor([ids])).detach().requires_grad_(True)
    module.masked_loss(logits, labels).backward()
    touched = [bool(logits.grad[0, t].abs().sum() > 0) for t in range(len(ids))]
    assert touched == [False, False, True, True, False, True, False]

"""Part 2, visible: admission in continuous batching (lecture 18, Orca; chunked prefill)."""

import pytest

from scalable_ai.infer.sequence import SequenceStatus


@pytest.mark.points(4)
def test_a_waiting_request_is_admitted_whole(submission, lab):
    """A prompt that fits the step's budget is admitted with its whole prompt and its blocks."""
    scheduler = lab.scheduler(submission.module("admission").AdmissionScheduler)
    seq = lab.sequence("a", prompt_length=10)
    scheduler.add(seq)
    step = scheduler.schedule()
    assert [(item.seq, item.num_new_tokens) for item in step.scheduled] == [(seq, 10)]
    assert seq.status is SequenceStatus.RUNNING
    assert len(seq.block_table) == 3  # 10 tokens in blocks of 4
    assert scheduler.pool.num_free == 64 - 3


@pytest.mark.points(4)
def test_a_long_prompt_is_chunked_to_the_budget(submission, lab):
    """Chunked prefill: a prompt longer than the budget computes budget-sized chunks."""
    scheduler = lab.scheduler(submission.module("admission").AdmissionScheduler)
    seq = lab.sequence("long", prompt_length=40)
    scheduler.add(seq)
    first = scheduler.schedule()
    assert [item.num_new_tokens for item in first.scheduled] == [16]
    assert len(seq.block_table) == 4  # only the chunk's blocks
    scheduler.after_step(first)
    second = scheduler.schedule()
    assert [item.num_new_tokens for item in second.scheduled] == [16]

"""Part 4, visible: a verifiable environment (lecture L12)."""

import random

import pytest


@pytest.mark.points(5)
def test_a_sorting_task_and_its_rewards(submission):
    """A task asks to sort its numbers; the sorted answer earns 1, the same numbers out of
    order 0.5, anything else 0."""
    Sorting = submission.module("sort_env").Sorting
    env = Sorting(length=4, max_value=20)
    task = env.sample_task(random.Random(0))
    numbers = [int(n) for n in task.messages[0]["content"].removeprefix("sort: ").split()]
    assert task.messages[0]["role"] == "user" and len(numbers) == 4
    assert task.answer == " ".join(map(str, sorted(numbers)))
    assert env.reward(task, task.answer) == 1.0
    assert env.reward(task, " ".join(map(str, sorted(numbers, reverse=True)))) in (0.5, 1.0)
    assert env.reward(task, "I think it is sorted") == 0.0

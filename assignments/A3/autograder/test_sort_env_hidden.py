"""Part 4, hidden: the environment's rewards on the answers a model really writes."""

import random

import pytest

CASES = [
    ("3 5 9 12", 1.0),
    ("  3 5 9 12\n", 1.0),
    ("3, 5, 9, 12", 1.0),
    ("3,5,9,12", 1.0),
    ("12 9 5 3", 0.5),
    ("5 3 9 12", 0.5),
    ("3 5 9", 0.0),
    ("3 5 9 12 12", 0.0),
    ("3 5 9 13", 0.0),
    ("the answer is 3 5 9 12", 0.0),
    ("", 0.0),
    ("3 5 9 1 2", 0.0),
]


@pytest.mark.points(12)
def test_rewards_on_real_answers_and_tasks_that_repeat_with_the_seed(submission):
    """Sorted (spaces or commas, any surrounding whitespace) 1; a permutation 0.5; a missing,
    extra or changed number, words or nothing 0. The same seed gives the same task, and the
    numbers stay within [0, max_value]."""
    from scalable_ai.post.envs import Task

    Sorting = submission.module("sort_env").Sorting
    env = Sorting(length=4, max_value=20)
    task = Task([{"role": "user", "content": "sort: 12 5 3 9"}], answer="3 5 9 12")
    for completion, reward in CASES:
        assert env.reward(task, completion) == reward, completion
    first = env.sample_task(random.Random(7))
    assert env.sample_task(random.Random(7)) == first
    for seed in range(20):
        numbers = env.sample_task(random.Random(seed)).answer.split()
        assert len(numbers) == 4 and all(0 <= int(n) <= 20 for n in numbers)

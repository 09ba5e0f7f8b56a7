"""Part 4 (lecture L12: RL environments): a verifiable environment for the lab's RL loop.

``Sorting`` asks to sort a few integers (``sort: 5 3 9``) and rewards the answer: 1 when it
is the sorted list, 0.5 when it holds exactly the same numbers in another order (the model
kept the format and the content, only the order is wrong: a shaped reward), 0 otherwise.
Numbers are separated by spaces or commas; surrounding spaces do not matter. It is a
``scalable_ai.post.envs.Environment``, so ``sai grpo`` could train on it as on ``arithmetic``.
"""

from __future__ import annotations

import random
import re

from scalable_ai.post.envs import Environment, Task

NUMBER = re.compile(r"-?\d+")


class Sorting(Environment):
    """``sort: a b c`` -> ``a' b' c'`` ascending."""

    name = "sorting"

    def __init__(self, length: int = 4, max_value: int = 20) -> None:
        self.length, self.max_value = length, max_value

    def sample_task(self, rng: random.Random) -> Task:
        raise NotImplementedError("TODO(A3.7): sample_task")

    def reward(self, task: Task, completion: str) -> float:
        # TODO(A3.7): 1 sorted, 0.5 the same numbers in another order, 0 otherwise.
        raise NotImplementedError("TODO(A3.7): reward")

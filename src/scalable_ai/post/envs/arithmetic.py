"""Arithmetic: ``a+b=`` and friends, the answer checked exactly; and its tagged-format twin.

``arithmetic`` asks ``{a}{op}{b}=`` and rewards 1 when the completion is exactly the result
(after stripping spaces), 0 otherwise: the smallest verifiable task a tiny model can learn in
minutes, which is why the RL comparisons in ``bench/rl.py`` run on it.

``format`` asks the same question but wants the answer as ``<answer>N</answer>``: half the
reward for exactly one well-formed tag holding a number (the format reward of DeepSeek-R1's
rule-based rewards), the other half for the number being right.
"""

from __future__ import annotations

import random

from scalable_ai.errors import UserError
from scalable_ai.post.envs import Environment, Task, register
from scalable_ai.post.envs.answers import as_number, same_number, tagged_answers

OPERATIONS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def arithmetic_problem(rng: random.Random, max_operand: int, operations: str) -> tuple[str, str]:
    """(``"a+b"``, ``"result"``) with operands in [0, max_operand] and an op from ``operations``."""
    op = rng.choice(operations)
    a, b = rng.randint(0, max_operand), rng.randint(0, max_operand)
    return f"{a}{op}{b}", str(OPERATIONS[op](a, b))


def check_operations(operations: str) -> str:
    if not operations or any(op not in OPERATIONS for op in operations):
        raise UserError(
            f"operations must be drawn from {''.join(OPERATIONS)!r}, got {operations!r}",
            field="env_options.operations",
        )
    return operations


@register
class Arithmetic(Environment):
    """``a op b =`` → the exact result; reward 1 or 0."""

    name = "arithmetic"

    def __init__(self, max_operand: int = 20, operations: str = "+-") -> None:
        if max_operand < 1:
            raise UserError("max_operand must be at least 1", field="env_options.max_operand")
        self.max_operand = max_operand
        self.operations = check_operations(operations)

    def sample_task(self, rng: random.Random) -> Task:
        question, answer = arithmetic_problem(rng, self.max_operand, self.operations)
        return Task([{"role": "user", "content": f"{question}="}], answer=answer)

    def reward(self, task: Task, completion: str) -> float:
        return float(as_number(completion) is not None and same_number(completion, task.answer))


@register
class Format(Arithmetic):
    """Arithmetic answered as ``<answer>N</answer>``: 0.5 for the format, 0.5 for the value."""

    name = "format"

    def sample_task(self, rng: random.Random) -> Task:
        question, answer = arithmetic_problem(rng, self.max_operand, self.operations)
        prompt = f"{question}= Give the result as <answer>N</answer>."
        return Task([{"role": "user", "content": prompt}], answer=answer)

    def reward(self, task: Task, completion: str) -> float:
        tags = tagged_answers(completion)
        if len(tags) != 1 or as_number(tags[0]) is None:
            return 0.0
        return 0.5 + 0.5 * same_number(tags[0], task.answer)

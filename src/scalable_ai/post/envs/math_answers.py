"""Short math answers: one-line problems whose answer is a single exact number.

Four kinds of problem, each generated with its answer so no data set is needed: a linear
equation (``Solve for x: 3x + 5 = 20``), a sum of fractions (answered as ``p/q``), a
percentage, and a greatest common divisor. The model may box its answer (``\\boxed{5}``), tag
it (``<answer>5</answer>``) or end with it; :func:`~.answers.final_answer` reads it and the
reward is 1 only when it equals the reference exactly (``5/6`` is right, ``0.83`` is not).
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

from scalable_ai.post.envs import Environment, Task, register
from scalable_ai.post.envs.answers import final_answer, format_number, same_number

SUFFIX = " Put the final answer in \\boxed{}."


def linear_equation(rng: random.Random) -> tuple[str, Fraction]:
    x, a, b = rng.randint(-9, 12), rng.randint(2, 9), rng.randint(1, 30)
    return f"Solve for x: {a}x + {b} = {a * x + b}.", Fraction(x)


def fraction_sum(rng: random.Random) -> tuple[str, Fraction]:
    p = Fraction(rng.randint(1, 5), rng.randint(2, 9))
    q = Fraction(rng.randint(1, 5), rng.randint(2, 9))
    return f"What is {p} + {q}? Answer as a reduced fraction.", p + q


def percentage(rng: random.Random) -> tuple[str, Fraction]:
    percent, whole = rng.choice([5, 10, 15, 20, 25, 50, 75]), rng.randint(1, 40) * 4
    return f"What is {percent}% of {whole}?", Fraction(percent * whole, 100)


def greatest_common_divisor(rng: random.Random) -> tuple[str, Fraction]:
    common = rng.randint(2, 12)
    a, b = common * rng.randint(1, 12), common * rng.randint(1, 12)
    return f"What is the greatest common divisor of {a} and {b}?", Fraction(math.gcd(a, b))


PROBLEMS = (linear_equation, fraction_sum, percentage, greatest_common_divisor)


@register
class MathAnswers(Environment):
    """A short math problem → one exact number (boxed, tagged or last); reward 1 or 0."""

    name = "math"

    def sample_task(self, rng: random.Random) -> Task:
        make = rng.choice(PROBLEMS)
        question, value = make(rng)
        task = Task([{"role": "user", "content": question + SUFFIX}], answer=format_number(value))
        task.info["kind"] = make.__name__
        return task

    def reward(self, task: Task, completion: str) -> float:
        return float(same_number(final_answer(completion), task.answer))

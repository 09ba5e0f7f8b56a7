"""The verifiable-reward environments: each reward checked exactly on written-out answers."""

from __future__ import annotations

import random

import pytest

from scalable_ai.errors import UserError
from scalable_ai.post.envs import ENVIRONMENTS, Environment, Task, make_environment, register
from scalable_ai.post.envs.answers import final_answer, same_number
from scalable_ai.post.envs.calculator import CalculatorError, calculate


def test_arithmetic_rewards_exactly_the_result():
    env = make_environment("arithmetic", max_operand=9)
    task = env.sample_task(random.Random(0))
    question = task.messages[-1]["content"]
    assert question.endswith("=")
    right = str(eval(question[:-1]))  # the question is plain integer arithmetic
    assert env.reward(task, right) == 1.0
    assert env.reward(task, f" {right} ") == 1.0
    assert env.reward(task, right + "0") == 0.0
    assert env.reward(task, f"{right} apples") == 0.0  # exact: the answer alone
    assert env.reward(task, "") == 0.0


def test_arithmetic_refuses_unknown_operations():
    with pytest.raises(UserError, match="operations"):
        make_environment("arithmetic", operations="+^")


def test_format_reward_pays_half_for_the_tag_and_half_for_the_value():
    env = make_environment("format")
    task = Task([{"role": "user", "content": "2+3= ..."}], answer="5")
    assert env.reward(task, "<answer>5</answer>") == 1.0
    assert env.reward(task, "<answer>6</answer>") == 0.5
    assert env.reward(task, "5") == 0.0
    assert env.reward(task, "<answer>5</answer><answer>5</answer>") == 0.0  # exactly one tag
    assert env.reward(task, "<answer>five</answer>") == 0.0


def test_math_answers_compare_exact_numbers_wherever_the_answer_is_written():
    env = make_environment("math")
    task = Task([{"role": "user", "content": "What is 1/2 + 1/3?"}], answer="5/6")
    assert env.reward(task, "The sum is \\boxed{5/6}.") == 1.0
    assert env.reward(task, "<answer>10/12</answer>") == 1.0  # the same number
    assert env.reward(task, "so it is 0.83") == 0.0  # not exact
    assert env.reward(task, "no idea") == 0.0
    assert same_number("12.0", "12") and not same_number("1/3", "0.333")
    assert final_answer("x = 3, then \\boxed{4}") == "4"


def test_math_tasks_carry_answers_that_solve_them():
    env = make_environment("math")
    rng = random.Random(1)
    kinds = set()
    for _ in range(40):
        task = env.sample_task(rng)
        kinds.add(task.info["kind"])
        assert env.reward(task, f"\\boxed{{{task.answer}}}") == 1.0
    assert kinds == {"linear_equation", "fraction_sum", "percentage", "greatest_common_divisor"}


def test_calculator_evaluates_arithmetic_and_nothing_else():
    assert calculate("347*29+18") == 10081
    assert calculate("(1 + 2) / 4") == calculate("3/4")
    for hostile in ("__import__('os')", "2**100000", "x+1", "1/0", "9" * 20 + "*" + "9" * 20):
        with pytest.raises(CalculatorError):
            calculate(hostile)


def test_calculator_environment_runs_the_tool_then_judges_the_answer():
    env = make_environment("calculator", max_turns=3)
    task = env.sample_task(random.Random(0))
    expression = task.messages[0]["content"].split("What is ")[1].split("?")[0]
    first = env.respond(task, f"Let me compute. <calc>{expression}</calc>", turn=0)
    assert not first.done and first.message == {"role": "tool", "content": task.answer}
    assert env.respond(task, f"<answer>{task.answer}</answer>", turn=1).reward == 1.0
    assert env.respond(task, "<answer>0</answer>", turn=1).reward == 0.0
    bad = env.respond(task, "<calc>import os</calc>", turn=0)
    assert bad.message is not None and bad.message["content"].startswith("error:")
    last = env.respond(task, f"<calc>{expression}</calc>", turn=2)  # no turns left
    assert last.done and last.reward == 0.0


def test_unknown_environment_names_the_known_ones():
    with pytest.raises(UserError, match="known: arithmetic, calculator, format, math"):
        make_environment("chess")


def test_a_new_environment_is_a_class_with_a_sampler_and_a_reward():
    @register
    class Echo(Environment):
        name = "echo-test"

        def sample_task(self, rng: random.Random) -> Task:
            word = rng.choice(["cat", "dog"])
            return Task([{"role": "user", "content": f"Say {word}."}], answer=word)

        def reward(self, task: Task, completion: str) -> float:
            return float(completion.strip() == task.answer)

    try:
        env = make_environment("echo-test")
        task = env.sample_task(random.Random(0))
        reply = env.respond(task, task.answer, turn=0)
        assert reply.done and reply.reward == 1.0
    finally:
        ENVIRONMENTS.pop("echo-test")

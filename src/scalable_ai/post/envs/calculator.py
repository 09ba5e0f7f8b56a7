"""Multi-turn tool use: the model calls a calculator, the environment runs it and answers.

The task is a two-operation arithmetic problem with numbers too large to do in one's head
(``What is 347*29+18?``). On any turn the model may write ``<calc>EXPRESSION</calc>``; the
environment evaluates the expression (numbers, ``+ - * /`` and parentheses only, read with
``ast``, never ``eval``) and replies as the ``tool`` role with the result, and the model takes
another turn. A turn with ``<answer>N</answer>`` ends the episode: reward 1 if N is exactly
right, else 0. Running out of turns, or a turn with neither tag, ends it with reward 0. The
tool's replies are the environment's tokens: GRPO conditions on them but never trains on
them (they are masked out of the loss, as in agentic RL frameworks such as verl and NeMo RL).
"""

from __future__ import annotations

import ast
import operator
import random
import re
from fractions import Fraction

from scalable_ai.errors import UserError
from scalable_ai.post.envs import Environment, EnvReply, Task, register
from scalable_ai.post.envs.answers import format_number, same_number, tagged_answers

CALL = re.compile(r"<calc>(.*?)</calc>", re.DOTALL)
BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
#: Bigger intermediate results are refused (a model must not make the tool hang).
LARGEST = 10**15


class CalculatorError(ValueError):
    """An expression the calculator will not evaluate (the reply says why)."""


def calculate(expression: str) -> Fraction:
    """The exact value of ``expression`` (numbers, + - * /, parentheses, unary minus)."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise CalculatorError(f"cannot read {expression.strip()!r}") from None
    return _value(tree.body)


def _value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        result = Fraction(str(node.value))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand)
        result = -inner if isinstance(node.op, ast.USub) else inner
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise CalculatorError("division by zero")
        result = BINARY[type(node.op)](left, right)
    else:
        raise CalculatorError("only numbers, + - * / and parentheses are allowed")
    if abs(result) > LARGEST:
        raise CalculatorError("the result is too large")
    return result


@register
class Calculator(Environment):
    """Two-operation arithmetic with a ``<calc>`` tool; ``<answer>`` ends the episode."""

    name = "calculator"

    def __init__(self, max_turns: int = 3, max_operand: int = 999) -> None:
        if max_turns < 1:
            raise UserError("max_turns must be at least 1", field="env_options.max_turns")
        self.max_turns = max_turns
        self.max_operand = max_operand

    def sample_task(self, rng: random.Random) -> Task:
        a, b = rng.randint(10, self.max_operand), rng.randint(2, 99)
        c = rng.randint(1, self.max_operand)
        op = rng.choice("+-")
        expression = f"{a}*{b}{op}{c}"
        prompt = (
            f"What is {expression}? You may call a calculator by writing <calc>EXPRESSION</calc>; "
            "give the final result as <answer>N</answer>."
        )
        answer = format_number(calculate(expression))
        return Task([{"role": "user", "content": prompt}], answer=answer)

    def respond(self, task: Task, completion: str, turn: int) -> EnvReply:
        answers = tagged_answers(completion)
        if answers:
            return EnvReply(done=True, reward=float(same_number(answers[-1], task.answer)))
        calls = CALL.findall(completion)
        if not calls or turn + 1 >= self.max_turns:
            return EnvReply(done=True, reward=0.0)
        try:
            content = format_number(calculate(calls[-1]))
        except CalculatorError as error:
            content = f"error: {error}"
        return EnvReply(done=False, message={"role": "tool", "content": content})

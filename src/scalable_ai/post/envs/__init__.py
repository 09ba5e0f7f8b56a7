"""Verifiable-reward environments for RL post-training (``sai grpo --env NAME``).

An environment hands out tasks (a conversation to answer and the reference answer) and judges
what the model wrote: a number checked exactly, a tag that must be present, a tool call it
executes and answers. Rewards are computed by code, not by a learned model, so they cannot be
gamed by style (the "verifiable rewards" of Tülu 3 and DeepSeek-R1).

The interface is small on purpose (docs/post-training.md, "Adding an environment"):

- :meth:`Environment.sample_task` draws a :class:`Task` from a ``random.Random``;
- :meth:`Environment.respond` gets the model's latest turn and returns an :class:`EnvReply`:
  ``done`` with a ``reward``, or a ``message`` (a tool's answer) that continues the episode.
  A single-turn environment overrides only :meth:`Environment.reward`.

Register a new one with ``@register`` and it is available to ``sai grpo --env``::

    @register
    class Echo(Environment):
        name = "echo"
        def sample_task(self, rng):
            word = rng.choice(["cat", "dog"])
            return Task([{"role": "user", "content": f"Say {word}."}], answer=word)
        def reward(self, task, completion):
            return float(completion.strip() == task.answer)

A reward function that raises does not stop the run by default: the sample gets a failure
record with the exception (``rollouts.jsonl`` in the run) and is left out of the loss; with
``on_reward_error = "fail"`` the run stops, marked failed with that reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scalable_ai.errors import UserError


@dataclass
class Task:
    """One problem: the opening conversation (``role``/``content`` messages) and its answer."""

    messages: list[dict[str, str]]
    answer: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class EnvReply:
    """The environment's answer to one model turn: the episode ends with ``reward``, or goes
    on with ``message`` (e.g. ``{"role": "tool", "content": "42"}``) appended to the chat."""

    done: bool
    reward: float = 0.0
    message: dict[str, str] | None = None


class Environment:
    """Base class: a task sampler and a judge. ``max_turns`` > 1 makes it multi-turn."""

    name: ClassVar[str] = ""
    max_turns: int = 1

    def sample_task(self, rng: random.Random) -> Task:
        raise NotImplementedError

    def reward(self, task: Task, completion: str) -> float:
        """The reward of a single-turn answer (override this, or :meth:`respond`)."""
        raise NotImplementedError

    def respond(self, task: Task, completion: str, turn: int) -> EnvReply:
        """Judge turn ``turn`` (0-based) of the model; single-turn: the reward, done."""
        return EnvReply(done=True, reward=float(self.reward(task, completion)))


ENVIRONMENTS: dict[str, type[Environment]] = {}


def register(cls: type[Environment]) -> type[Environment]:
    """Class decorator: make an environment available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a class attribute `name`")
    ENVIRONMENTS[cls.name] = cls
    return cls


def make_environment(name: str, **options: Any) -> Environment:
    """The registered environment ``name``, built with ``options`` (its constructor's)."""
    _load_builtin()
    if name not in ENVIRONMENTS:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise UserError(f"unknown environment {name!r}; known: {known}", field="env")
    try:
        return ENVIRONMENTS[name](**options)
    except TypeError as error:
        raise UserError(f"environment {name!r}: {error}", field="env_options") from None


def _load_builtin() -> None:
    # Importing the modules runs their @register decorators.
    from scalable_ai.post.envs import arithmetic, calculator, math_answers  # noqa: F401

"""Guardrails in front of the OpenAI server: ``sai serve MODEL --guardrails [default|CONFIG]``.

The same rails as the agent loop (:mod:`.guardrails`, one TOML file), applied by the server
itself so every client of ``/v1/chat/completions`` and ``/v1/completions`` is guarded, the
way NeMo Guardrails' server sits in front of a model (Rebedea et al., EMNLP 2023 demo):

- input rails run on what the user wrote *in this turn*: the last ``user`` message and any
  ``tool`` results after it (earlier turns were checked when they were sent, so a refused
  turn left in the history does not refuse every later request), or each completions prompt.
  ``fix`` (PII redaction) rewrites the text the model sees; a block answers the refusal.
- output rails run on each choice's text as it is generated, through one
  :class:`~.guardrails.StreamGuard` per choice, so streamed and whole answers are guarded the
  same way: PII is redacted before it leaves the server even when split over deltas, and a
  block ends the choice with the refusal text.

A block is not an HTTP error: the client gets a normal assistant message whose content is
the configured refusal and whose ``finish_reason`` is ``"content_filter"``, OpenAI's value
for "content was omitted by a content filter", so a client can tell a refusal from a
natural ``stop`` without parsing text. This module is imported by ``sai serve`` only when
the flag is given: ``infer`` does not import ``apps`` (DESIGN.md's layering).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scalable_ai.apps.guardrails import Guardrails, StreamGuard
from scalable_ai.infer.engine import ChoiceDelta

CONTENT_FILTER = "content_filter"
JUDGE_HEADER = "X-Sai-Judge"


class ChoiceGuards:
    """One request's output rails: a :class:`StreamGuard` per choice."""

    def __init__(self, guardrails: Guardrails, num_choices: int) -> None:
        self.guards = [StreamGuard(guardrails) for _ in range(num_choices)]
        self.closed = [False] * num_choices

    def filter(self, index: int, delta: ChoiceDelta) -> ChoiceDelta | None:
        """The delta as the client may see it, or None once the choice was refused."""
        if self.closed[index]:
            return None
        guard = self.guards[index]
        text = guard.push(delta.text)
        finish = delta.finish_reason
        if guard.stopped is not None:
            finish = CONTENT_FILTER
        elif finish is not None:
            text += guard.finish()
        if finish is not None:
            self.closed[index] = True
        return dataclasses.replace(delta, text=text, finish_reason=finish)

    @property
    def all_refused(self) -> bool:
        """Every choice was blocked: the engine can stop generating for this request."""
        return all(g.stopped is not None for g in self.guards)


class ServerGuard:
    """What the server calls: input checks per request, output guards per response."""

    def __init__(self, guardrails: Guardrails) -> None:
        self.guardrails = guardrails
        self.judge_secret = ""  # set with a judge: its requests to this server skip the rails

    def exempt(self, headers: Any) -> bool:
        """Whether a request is the judge's own (``X-Sai-Judge``: this process's secret),
        which the rails must not judge again (that would recurse)."""
        given = headers.get(JUDGE_HEADER, "")
        return bool(self.judge_secret) and secrets.compare_digest(given, self.judge_secret)

    @classmethod
    def from_config(cls, config: str) -> ServerGuard:
        """``default`` (the packaged ``apps/data/guardrails.toml``) or a TOML file's path."""
        return cls(Guardrails.from_toml(None if config == "default" else Path(config)))

    def add_judge(self, model: str, base_url: str) -> None:
        """The LLM judge as the last input rail, asking ``model`` at ``base_url`` (possibly
        this server: the server runs input rails off its event loop, so it can answer its
        own judge). Input only: a whole-answer judge does not suit a stream."""
        import openai

        from scalable_ai.apps.guardrails import LLMJudge, with_judge

        self.judge_secret = secrets.token_urlsafe(24)
        client = openai.OpenAI(
            base_url=base_url, api_key="unused", max_retries=0, timeout=120,
            default_headers={JUDGE_HEADER: self.judge_secret},
        )  # fmt: skip
        with_judge(self.guardrails, LLMJudge(client, model), ("input",))

    @property
    def refusal(self) -> str:
        return self.guardrails.refusal

    def check_messages(self, messages: Sequence[Any]) -> str | None:
        """Run the input rails on this turn's messages (``ChatMessage``), redacting in place
        where a rail fixes; the refusal text when one blocks, else None."""
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            return None
        for message in messages[last_user:]:
            if message.role not in ("user", "tool"):
                continue
            verdict = self.guardrails.check_input(message.text())
            if verdict.blocked:
                return self.refusal  # never the rail's reason: that would teach the attacker
            if verdict.fired:
                message.content = verdict.text
        return None

    def check_prompts(
        self, prompts: list[str | list[int]], decode: Callable[[list[int]], str]
    ) -> tuple[list[str | list[int]], str | None]:
        """Each completions prompt through the input rails (token ids are decoded first):
        the prompts to generate from (redacted where fixed) and the refusal, if any."""
        checked: list[str | list[int]] = []
        for prompt in prompts:
            text = prompt if isinstance(prompt, str) else decode(prompt)
            verdict = self.guardrails.check_input(text)
            if verdict.blocked:
                return prompts, self.refusal
            checked.append(verdict.text if verdict.fired else prompt)
        return checked, None

    def for_choices(self, num_choices: int) -> ChoiceGuards:
        return ChoiceGuards(self.guardrails, num_choices)

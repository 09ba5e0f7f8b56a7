"""The OpenAI API's request shapes (completions and chat), validated at the server's edge.

Fields follow OpenAI's API reference; the extra sampling fields (``top_k``, ``min_p``,
``repetition_penalty``, ``min_tokens``, ``ignore_eos``, ``stop_token_ids``) are vLLM's
extensions, so clients written for vLLM work unchanged (the ``openai`` client passes them in
``extra_body``). Unknown fields are ignored, as OpenAI does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scalable_ai.errors import UserError
from scalable_ai.infer.grammar import Grammar
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.tools import (
    FunctionTool,
    chosen_tools,
    parse_tools,
    render_tool_calls,
    response_format_grammar,
    tool_call_grammar,
    tools_prompt,
)


class StreamOptions(BaseModel):
    include_usage: bool = False


class _SamplingFields(BaseModel):
    """What both endpoints share: the model, stopping, sampling and streaming."""

    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=16)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    seed: int | None = None
    user: str | None = None
    # vLLM's extensions
    top_k: int = Field(default=0, ge=-1)
    min_p: float = Field(default=0.0, ge=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.0, gt=0.0)
    min_tokens: int = Field(default=0, ge=0)
    ignore_eos: bool = False
    stop_token_ids: list[int] | None = None
    skip_special_tokens: bool = True
    # OpenAI's token id (as a string) -> bias in [-100, 100]
    logit_bias: dict[str, float] | None = None
    # ``{"type": "json_object"}`` or ``{"type": "json_schema", "json_schema": {...}}``
    response_format: dict[str, Any] | None = None
    # Speculative decoding for this request (infer/speculative.py): "ngram" or unset
    speculative: Literal["ngram", "draft"] | None = None
    num_speculative_tokens: int = Field(default=4, ge=1, le=16)

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def bias(self) -> dict[int, float]:
        """``logit_bias`` with integer token ids (OpenAI sends them as strings)."""
        try:
            return {int(token): float(value) for token, value in (self.logit_bias or {}).items()}
        except ValueError:
            raise UserError("keys must be token ids", field="logit_bias") from None

    def grammar(self) -> Grammar | None:
        """What constrains the output (``response_format``; chat adds tools)."""
        return response_format_grammar(self.response_format)

    def sampling_params(self, max_tokens: int, logprobs: int | None) -> SamplingParams:
        return SamplingParams(
            n=self.n,
            max_tokens=max_tokens,
            min_tokens=self.min_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            seed=self.seed,
            stop=self.stop_list(),
            stop_token_ids=self.stop_token_ids or [],
            ignore_eos=self.ignore_eos,
            logprobs=logprobs,
            skip_special_tokens=self.skip_special_tokens,
            logit_bias=self.bias(),
            grammar=self.grammar(),
            speculative=self.speculative,
            num_speculative_tokens=self.num_speculative_tokens,
        )


class CompletionRequest(_SamplingFields):
    """``POST /v1/completions``: one prompt (text or token ids) or a list of them."""

    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=16, ge=1)
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False
    suffix: str | None = None

    def prompts(self) -> list[str | list[int]]:
        prompt = self.prompt
        if isinstance(prompt, str):
            prompts: list[Any] = [prompt]
        elif prompt and all(isinstance(p, int) for p in prompt):
            prompts = [list(prompt)]
        else:
            prompts = list(prompt)
        if not prompts or any(len(p) == 0 for p in prompts):
            raise UserError("the prompt is empty", field="prompt")
        if self.suffix:
            raise UserError("suffix (insertion) is not supported by this model", field="suffix")
        return prompts


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # an assistant's earlier calls
    tool_call_id: str | None = None  # a tool message answers this call

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatCompletionRequest(_SamplingFields):
    """``POST /v1/chat/completions``: a conversation rendered with the model's template."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool = True

    def tool_mode(self) -> tuple[str, list[FunctionTool]]:
        """(``none``/``auto``/``required``, the tools the model may call)."""
        return chosen_tools(parse_tools(self.tools or []), self.tool_choice)

    def grammar(self) -> Grammar | None:
        mode, tools = self.tool_mode()
        if mode == "none":
            return super().grammar()
        if self.response_format and self.response_format.get("type") not in (None, "text"):
            raise UserError(
                "tools and a JSON response_format cannot constrain one answer together",
                field="response_format",
            )
        return tool_call_grammar(tools, mode, self.parallel_tool_calls)

    def conversation(self) -> list[dict[str, str]]:
        """The messages as the chat template takes them: earlier tool calls as the model
        writes them, tool results as ``tool`` turns, and the tools in the system message."""
        role = {"developer": "system"}
        messages = []
        for m in self.messages:
            text = m.text()
            if m.tool_calls:
                text = "\n".join(filter(None, [text, render_tool_calls(m.tool_calls)]))
            if m.role == "tool":
                text = f"<tool_response>\n{text}\n</tool_response>"
            messages.append({"role": role.get(m.role, m.role), "content": text})
        mode, tools = self.tool_mode()
        if mode != "none":
            prompt = tools_prompt(tools, mode)
            if messages and messages[0]["role"] == "system":
                messages[0]["content"] = f"{messages[0]['content']}\n\n{prompt}"
            else:
                messages.insert(0, {"role": "system", "content": prompt})
        return messages

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def logprobs_count(self) -> int | None:
        if not self.logprobs:
            if self.top_logprobs:
                raise UserError("top_logprobs needs logprobs to be true", field="top_logprobs")
            return None
        return self.top_logprobs or 0

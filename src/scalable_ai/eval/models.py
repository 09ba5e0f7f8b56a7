"""What the harness asks of a model, answered in-process or by an OpenAI-compatible endpoint.

Three questions, as lm-evaluation-harness asks them:

- ``loglikelihood(context, continuation)``: the summed logprob of the continuation's tokens
  after the context, and whether each was the greedy choice;
- ``text_logprob(text)``: the summed logprob of a text's tokens after its first;
- ``generate(prompt)``: a greedy continuation until a stop string.

Where the continuation starts is decided on characters, not tokens, so an endpoint needs no
tokenizer of ours: the text ``context + continuation`` is tokenized once (as the model sees
it), and the continuation's tokens are those that end after the context's last character
(a token straddling the boundary counts as the answer's). In-process this uses each token's
decoded length; an endpoint returns the same thing as ``logprobs.text_offset`` of an
``echo`` request, so both backends score identical token spans.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scalable_ai.errors import UserError
from scalable_ai.eval.tasks import Generation


@dataclass
class Continuation:
    """A continuation's summed logprob, whether every token was greedy, and the number of
    tokens and UTF-8 bytes it spans."""

    logprob: float
    greedy: bool
    num_tokens: int
    num_bytes: int


class LanguageModel(Protocol):
    name: str

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[Continuation]: ...

    def text_logprob(self, texts: list[str]) -> list[Continuation]: ...

    def generate(self, prompts: list[str], generation: Generation) -> list[str]: ...


def split_context(context: str, continuation: str) -> tuple[str, str]:
    """Trailing spaces of the context belong to the continuation (" Paris", not "Paris" after
    "is "): byte-level BPE tokenizers attach a space to the word after it (lm-eval does this)."""
    stripped = context.rstrip(" ")
    return stripped, context[len(stripped) :] + continuation


def first_answer_token(token_ends: list[int], context_chars: int) -> int:
    """Index of the first token ending after ``context_chars`` characters (at least 1)."""
    for index, end in enumerate(token_ends):
        if end > context_chars:
            return max(index, 1)
    return len(token_ends)


def is_quantized_checkpoint(name_or_path: str) -> bool:
    from scalable_ai.infer.quant import is_quantized_checkpoint as quantized

    return quantized(name_or_path)


def load_quantized_for_eval(path: str, dtype: str, device: Any) -> tuple[Any, Any]:
    """A ``sai quantize`` checkpoint: its codes kept, its float tensors (and the dtype its
    layers dequantize to) in ``dtype``, so it is scored as the float model it is compared to
    would be."""
    from scalable_ai.infer.quant import QuantizedLinear, load_quantized
    from scalable_ai.model.registry import parse_dtype
    from scalable_ai.model.tokenizer import Tokenizer

    model = load_quantized(Path(path), device=device)
    torch_dtype = parse_dtype(dtype)
    if torch_dtype is not None:
        model.to(torch_dtype)  # floats only: the uint8 codes stay codes
        for module in model.modules():
            if isinstance(module, QuantizedLinear):
                module.dtype = torch_dtype
    return model.eval(), Tokenizer.load(Path(path))


class LocalModel:
    """A model in this process: a registered name, a checkpoint folder, a GGUF file, or a run
    of ``sai train`` (its newest checkpoint) or ``sai sft``/``sai dpo`` (its ``model/``).

        Scoring is one batched forward per group of requests (``infer.scoring``); generation
        runs through the inference engine (continuous batching, greedy).
    """

    def __init__(
        self, name_or_path: str, dtype: str = "float32", device: str | None = None
    ) -> None:
        from scalable_ai.infer.engine import resolve_device
        from scalable_ai.model.registry import load_pretrained
        from scalable_ai.post.base import resolve_base

        self.name = name_or_path
        if is_quantized_checkpoint(name_or_path):  # sai quantize's folder: codes as saved
            self.model, self.tokenizer = load_quantized_for_eval(
                name_or_path, dtype, resolve_device(device)
            )
        else:
            self.model, self.tokenizer = load_pretrained(
                resolve_base(name_or_path), dtype=dtype, device=resolve_device(device)
            )
        self._engine: Any = None

    def _token_ends(self, ids: list[int], text: str) -> list[int]:
        """Cumulative characters after each token, measured from where ``text`` starts in the
        decoded ids (a BOS the tokenizer adds sits before it)."""
        pieces = [self.tokenizer.decode([token]) for token in ids]
        shift = "".join(pieces).find(text[: max(len(text), 1)])
        ends, total = [], -max(shift, 0)
        for piece in pieces:
            total += len(piece)
            ends.append(total)
        return ends

    def _score(self, texts: list[str], starts: list[int | None]) -> list[Continuation]:
        from scalable_ai.infer.scoring import score_tokens

        requests = []
        for text, context_chars in zip(texts, starts, strict=True):
            ids = self.tokenizer.encode(text)
            if len(ids) < 2:
                raise UserError(f"{text!r} has fewer than two tokens to score", field="examples")
            start = (
                1
                if context_chars is None
                else first_answer_token(self._token_ends(ids, text), context_chars)
            )
            requests.append((ids, start))
        scored = score_tokens(self.model, requests)
        decode = self.tokenizer.decode
        return [
            Continuation(
                sum(t.logprob for t in s),
                all(t.greedy for t in s),
                len(s),
                len(decode([t.token_id for t in s]).encode()),
            )
            for s in scored
        ]

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[Continuation]:
        split = [split_context(c, x) for c, x in pairs]
        return self._score([c + x for c, x in split], [len(c) for c, _ in split])

    def text_logprob(self, texts: list[str]) -> list[Continuation]:
        return self._score(texts, [None] * len(texts))

    def generate(self, prompts: list[str], generation: Generation) -> list[str]:
        from scalable_ai.infer.engine import EngineConfig, LLMEngine
        from scalable_ai.infer.sampling import SamplingParams

        if self._engine is None:
            self._engine = LLMEngine(
                self.model,
                self.tokenizer,
                EngineConfig(kv_cache_megabytes=256),
                model_name=self.name,
                eos_token_ids=sorted(self.tokenizer.stop_ids()),
            )
        if generation.chat:
            prompts = [
                self.tokenizer.apply_chat_template([{"role": "user", "content": p}])
                for p in prompts
            ]
        params = SamplingParams(
            temperature=0.0, max_tokens=generation.max_tokens, stop=list(generation.stop)
        )
        ids = [self._engine.add_request(p, params) for p in prompts]
        texts = dict.fromkeys(ids, "")
        while self._engine.has_unfinished_requests():
            for output in self._engine.step():
                texts[output.request_id] += "".join(c.text for c in output.choices)
        return [texts[i] for i in ids]


class Endpoint:
    """Any OpenAI-compatible server (``/v1/completions`` with ``echo`` + ``logprobs`` for
    scoring, ``/v1/completions`` or ``/v1/chat/completions`` for generation), through the
    official ``openai`` client, ``concurrency`` requests in flight."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        api_key: str = "unused",
    ) -> None:
        import openai

        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout = timeout
        self._client_args: dict[str, Any] = {
            "base_url": self.base_url,
            "api_key": api_key,
            "timeout": timeout,
        }
        if model is None:
            try:
                listed = openai.OpenAI(**self._client_args, max_retries=0).models.list()
            except openai.OpenAIError as error:
                raise UserError(
                    f"{self.base_url}: cannot list models ({error})", field="endpoint"
                ) from None
            names = [m.id for m in listed]
            if not names:
                raise UserError(f"{self.base_url} serves no model", field="model")
            model = names[0]
        self.name = model

    def _gather(self, calls: list[Any]) -> list[Any]:
        import openai

        async def main() -> list[Any]:
            client = openai.AsyncOpenAI(**self._client_args, max_retries=1)
            limit = asyncio.Semaphore(self.concurrency)

            async def one(call: Any) -> Any:
                async with limit:
                    return await call(client)

            try:
                return await asyncio.gather(*(one(c) for c in calls))
            finally:
                await client.close()

        try:
            return asyncio.run(main())
        except openai.APITimeoutError:
            raise UserError(
                f"{self.base_url} did not answer within {self.timeout:g} s", field="endpoint"
            ) from None
        except openai.APIConnectionError as error:
            raise UserError(f"{self.base_url}: {error}", field="endpoint") from None
        except openai.APIStatusError as error:
            raise UserError(
                f"{self.base_url} refused a request ({error.status_code}): {error.message}",
                field="endpoint",
            ) from None

    def _score(self, texts: list[str], starts: list[int | None]) -> list[Continuation]:
        def call(text: str) -> Any:
            async def run(client: Any) -> Any:
                return await client.completions.create(
                    model=self.name,
                    prompt=text,
                    max_tokens=1,
                    temperature=0,
                    echo=True,
                    logprobs=1,
                )

            return run

        answers = self._gather([call(t) for t in texts])
        results = []
        for text, context_chars, answer in zip(texts, starts, answers, strict=True):
            choice = answer.choices[0]
            logprobs = choice.logprobs
            shift = max(choice.text.find(text), 0)  # a BOS the server put before the prompt
            ends = [
                o + len(t) - shift
                for o, t in zip(logprobs.text_offset, logprobs.tokens, strict=True)
            ]
            last = len(ends) - 1  # the one generated token (max_tokens=1) is not the text's
            start = 1 if context_chars is None else first_answer_token(ends, context_chars)
            values = logprobs.token_logprobs[start:last]
            tops = logprobs.top_logprobs[start:last]
            greedy = all(
                v is not None and top and v >= max(top.values()) - 1e-6
                for v, top in zip(values, tops, strict=True)
            )
            total = sum(v for v in values if v is not None)
            num_bytes = len("".join(logprobs.tokens[start:last]).encode())
            results.append(
                Continuation(total if values else math.nan, greedy, len(values), num_bytes)
            )
        return results

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[Continuation]:
        split = [split_context(c, x) for c, x in pairs]
        return self._score([c + x for c, x in split], [len(c) for c, _ in split])

    def text_logprob(self, texts: list[str]) -> list[Continuation]:
        return self._score(texts, [None] * len(texts))

    def generate(self, prompts: list[str], generation: Generation) -> list[str]:
        def call(prompt: str) -> Any:
            async def run(client: Any) -> str:
                if generation.chat:
                    answer = await client.chat.completions.create(
                        model=self.name,
                        messages=[{"role": "user", "content": prompt}],
                        max_tokens=generation.max_tokens,
                        temperature=0,
                        stop=generation.stop or None,
                    )
                    return answer.choices[0].message.content or ""
                answer = await client.completions.create(
                    model=self.name,
                    prompt=prompt,
                    max_tokens=generation.max_tokens,
                    temperature=0,
                    stop=generation.stop or None,
                )
                return answer.choices[0].text

            return run

        return self._gather([call(p) for p in prompts])


def open_model(
    model: str,
    dtype: str = "float32",
    device: str | None = None,
    concurrency: int = 8,
    timeout: float = 120.0,
) -> LanguageModel:
    """An endpoint for an ``http(s)://`` URL (its ``/v1`` base), else a local checkpoint.
    ``URL#name`` picks one of the endpoint's models."""
    if model.startswith(("http://", "https://")):
        url, _, name = model.partition("#")
        return Endpoint(url, name or None, concurrency=concurrency, timeout=timeout)
    return LocalModel(model, dtype=dtype, device=device)

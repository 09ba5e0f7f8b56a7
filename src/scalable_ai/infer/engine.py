"""The inference engine: requests in, streamed tokens out, one continuous-batching step at a time.

vLLM's split, kept here: the :class:`~scalable_ai.infer.scheduler.Scheduler` decides what runs
this step, the :class:`~scalable_ai.infer.kv_cache.BlockPool` where the KV cache lives, the
:class:`~scalable_ai.infer.runner.ModelRunner` how the batch is computed, and the engine ties
them together: it tokenizes, samples, detokenizes incrementally, applies stop rules and
reports per-step deltas that a server can stream as they come.

``LLMEngine`` is single-threaded and synchronous; ``async_engine.AsyncEngine`` runs one in a
thread for the server.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from scalable_ai.errors import NotFound, UserError
from scalable_ai.infer.draft import DraftProposer
from scalable_ai.infer.grammar import GrammarCompiler, compiler_for
from scalable_ai.infer.kv_cache import BlockPool, KVCache, KVCacheSpec
from scalable_ai.infer.lora import LoraAdapter, LoraSet, read_adapter
from scalable_ai.infer.runner import ModelRunner
from scalable_ai.infer.sampling import SampledToken, SamplingParams, sample
from scalable_ai.infer.scheduler import ScheduledSequence, Scheduler, SchedulerConfig
from scalable_ai.infer.sequence import SequenceStatus, TokenSequence
from scalable_ai.infer.speculative import SpecStats, Verdict, fit_drafts, propose_drafts, verify
from scalable_ai.model.config import ModelConfig


class EngineTokenizer(Protocol):
    """What the engine and its server need from a tokenizer (``model.tokenizer.Tokenizer``
    has it): text to ids and back, and the model's chat template for chat requests."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str: ...

    def apply_chat_template(
        self, messages: list[dict[str, Any]], add_generation_prompt: bool = True
    ) -> str: ...


@dataclass
class EngineConfig:
    """Sizes of the engine: context, cache, and the per-step limits of continuous batching.

    ``kv_cache_megabytes`` sizes the paged cache when ``num_blocks`` is 0. On SmolLM2-135M a
    token's K/V in bf16 is 2 * 30 layers * 3 heads * 64 * 2 bytes = 23 KB, so 512 MB holds
    about 23,000 tokens: 16 concurrent 1,400-token contexts.
    """

    max_model_len: int = 2048
    block_size: int = 16
    num_blocks: int = 0
    kv_cache_megabytes: int = 512
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 512
    enable_prefix_caching: bool = True
    #: How a step is computed: ``auto`` (the fastest for this CPU and dtype; the
    #: ``SAI_FORWARD_PATH`` setting overrides it) or one of ``forward_paths.PATHS`` forced.
    forward_path: str = "auto"
    #: On a CUDA GPU, replay decode-only steps as captured CUDA graphs (``cuda_graphs``).
    use_cuda_graphs: bool = True


@dataclass
class TokenLogprob:
    """One token's log-probability and the top alternatives (OpenAI's shape); None for an
    echoed prompt's first token, which has no context to be scored on."""

    token_id: int
    logprob: float | None
    top: list[tuple[int, float]]


@dataclass
class ChoiceDelta:
    """What one choice (sequence) produced since the last report."""

    index: int
    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprob]
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    """A request's news from one step: deltas per choice, usage counts so far, done or not."""

    request_id: str
    choices: list[ChoiceDelta]
    finished: bool
    num_prompt_tokens: int
    num_cached_tokens: int
    num_output_tokens: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Request:
    """A request's sequences (one per choice) and when it arrived."""

    request_id: str
    sequences: list[TokenSequence]
    arrival_time: float

    @property
    def finished(self) -> bool:
        return all(seq.is_finished for seq in self.sequences)


def default_num_blocks(model: nn.Module, config: EngineConfig, dtype: torch.dtype) -> int:
    """Blocks that fit in ``kv_cache_megabytes``, but at least one full context's worth."""
    mc: ModelConfig = model.config  # type: ignore[assignment]  # the model family's seam
    spec = KVCacheSpec(mc.n_layers, mc.n_kv_heads, mc.head_size, 1, config.block_size, dtype)
    blocks = config.kv_cache_megabytes * 2**20 // spec.bytes_per_block
    return max(int(blocks), -(-config.max_model_len // config.block_size) + 1)


class LLMEngine:
    """Continuous batching over a paged KV cache for one model (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: EngineTokenizer,
        config: EngineConfig | None = None,
        model_name: str = "model",
        eos_token_ids: Sequence[int] = (),
        draft_model: nn.Module | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        self.model_name = model_name
        self.eos_token_ids = list(eos_token_ids)
        mc: ModelConfig = model.config  # type: ignore[assignment]  # the model family's seam
        if not mc.causal:
            raise UserError(
                f"{model_name} is a masked diffusion model (bidirectional attention): it has no "
                "KV cache to decode from; sample it with `sai generate` (docs/greenfields.md)",
                field="model",
            )
        self.model_config = mc
        self.config.max_model_len = min(self.config.max_model_len, mc.max_seq_len)
        weight = next(model.parameters())
        dtype, device = weight.dtype, weight.device
        num_blocks = self.config.num_blocks or default_num_blocks(model, self.config, dtype)
        self.cache = KVCache(
            KVCacheSpec(
                mc.n_layers,
                mc.n_kv_heads,
                mc.head_size,
                num_blocks,
                self.config.block_size,
                dtype,
                device,
            )
        )
        # A sequence longer than the whole cache could never run: it would preempt itself forever.
        self.config.max_model_len = min(
            self.config.max_model_len, num_blocks * self.config.block_size
        )
        self.pool = BlockPool(num_blocks)
        self.scheduler = Scheduler(
            SchedulerConfig(
                max_num_seqs=self.config.max_num_seqs,
                max_num_batched_tokens=self.config.max_num_batched_tokens,
                block_size=self.config.block_size,
                enable_prefix_caching=self.config.enable_prefix_caching,
            ),
            self.pool,
        )
        self.runner = ModelRunner(
            model,
            self.cache,
            self.config.forward_path,
            cuda_graphs=self.config.use_cuda_graphs,
            max_num_seqs=self.config.max_num_seqs,
            max_model_len=self.config.max_model_len,
        )
        self.requests: dict[str, Request] = {}
        self._incremental_decode = decodes_by_concatenation(tokenizer)
        #: One token's text by ``skip_special_tokens`` and id: a decode step's usual tail.
        self._token_texts: dict[bool, dict[int, str]] = {False: {}, True: {}}
        self.num_prefill_tokens = 0  # tokens run through the model for prompts (not cache hits)
        self.num_generated_tokens = 0
        self.speculation = SpecStats()
        #: ``speculative="draft"`` requests' proposer: a small model with our tokenizer.
        self.drafter: DraftProposer | None = None
        if draft_model is not None:
            self.set_draft_model(draft_model)
        self._ids = itertools.count()

    # -- requests ------------------------------------------------------------------------
    def add_request(
        self,
        prompt: str | list[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        arrival_time: float | None = None,
    ) -> str:
        """Queue a prompt (text or token ids); returns its request id. Over-long is refused."""
        params = params or SamplingParams()
        request_id = request_id or f"req-{next(self._ids)}"
        if request_id in self.requests:
            raise UserError(f"request id {request_id!r} is already in use", field="request_id")
        token_ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        self.check_length(len(token_ids), params.max_tokens)
        vocab = self.model_config.vocab_size
        if any(not 0 <= token < vocab for token in token_ids):
            raise UserError(f"token ids in the prompt must lie in [0, {vocab})", field="prompt")
        if any(not 0 <= token < vocab for token in params.logit_bias):
            raise UserError(f"logit_bias token ids must lie in [0, {vocab})", field="logit_bias")
        lora_id = self.lora_adapter(params.lora).id if params.lora else 0
        if params.speculative == "draft" and self.drafter is None:
            raise UserError(
                "this server has no draft model (sai serve --draft-model)", field="speculative"
            )
        constraint = None
        if params.grammar is not None:
            constraint = self.grammar_compiler().matcher(params.grammar)
        arrival = time.monotonic() if arrival_time is None else arrival_time
        stop_ids = frozenset(
            [*params.stop_token_ids, *(() if params.ignore_eos else self.eos_token_ids)]
        )
        sequences = [
            TokenSequence(
                request_id, i, list(token_ids), params, arrival_time=arrival, stop_ids=stop_ids
            )
            for i in range(params.n)
        ]
        for i, seq in enumerate(sequences):
            seq.lora_id = lora_id
            if constraint is not None:
                seq.constraint = constraint if i == 0 else constraint.copy()
        self.requests[request_id] = Request(request_id, sequences, arrival)
        for seq in sequences:
            self.scheduler.add(seq)
        return request_id

    def set_draft_model(self, draft_model: nn.Module) -> None:
        """Use ``draft_model`` (same vocabulary) for ``speculative="draft"`` requests; its
        KV cache holds as many tokens as the target's."""
        vocab = draft_model.config.vocab_size  # type: ignore[union-attr]
        if vocab != self.model_config.vocab_size:
            raise UserError(
                f"the draft model's vocabulary has {vocab} tokens, the target's "
                f"{self.model_config.vocab_size}: it must share the target's tokenizer",
                field="draft_model",
            )
        tokens = self.pool.num_blocks * self.config.block_size
        self.drafter = DraftProposer(draft_model, tokens, self.config.block_size)

    # -- LoRA adapters -------------------------------------------------------------------
    def add_lora(self, name: str, path: str) -> LoraAdapter:
        """Load a peft-layout adapter folder under ``name`` (replacing one of that name;
        requests already running keep the one they started with). See ``lora.py``."""
        adapter = read_adapter(name, path, self.model)
        if self.runner.lora is None:
            self.runner.lora = LoraSet(self.model)
        self.runner.lora.add(adapter, self._loras_in_use())
        return adapter

    def remove_lora(self, name: str) -> None:
        if self.runner.lora is None:
            raise NotFound(f"no adapter named {name!r} is loaded", field="lora_name")
        self.runner.lora.remove(name, self._loras_in_use())

    def lora_adapter(self, name: str) -> LoraAdapter:
        if self.runner.lora is None:
            raise NotFound(f"no adapter named {name!r}; loaded: none", field="model")
        return self.runner.lora.get(name)

    @property
    def lora_names(self) -> list[str]:
        return sorted(self.runner.lora.adapters) if self.runner.lora is not None else []

    def _loras_in_use(self) -> set[int]:
        return {s.lora_id for r in self.requests.values() for s in r.sequences if s.lora_id}

    def grammar_compiler(self) -> GrammarCompiler:
        """The grammar library's view of this model's tokens (built on first use, ~1 s)."""
        return compiler_for(self.tokenizer, self.model_config.vocab_size, self.eos_token_ids)

    def check_length(self, num_prompt_tokens: int, max_tokens: int) -> None:
        """Refuse a prompt that cannot fit the context with at least its requested output."""
        limit = self.config.max_model_len
        if num_prompt_tokens == 0:
            raise UserError("the prompt is empty", field="prompt")
        if num_prompt_tokens + max_tokens > limit:
            raise UserError(
                f"this model's maximum context length is {limit} tokens, but the prompt has "
                f"{num_prompt_tokens} tokens and max_tokens asks for {max_tokens} more; "
                "shorten the prompt or lower max_tokens",
                field="max_tokens" if num_prompt_tokens < limit else "prompt",
            )

    def abort(self, request_id: str) -> bool:
        """Stop a request now and free its blocks (a client went away). False if unknown."""
        request = self.requests.pop(request_id, None)
        if request is None:
            return False
        for seq in request.sequences:
            if not seq.is_finished:
                self.scheduler.finish(seq, "abort")
            if self.drafter is not None:
                self.drafter.release(seq.seq_id)
        return True

    def has_unfinished_requests(self) -> bool:
        return bool(self.requests)

    # -- one step ------------------------------------------------------------------------
    def step(self) -> list[RequestOutput]:
        """Schedule, run the model once, sample, and report what each request produced.

        Sequences that opted into speculative decoding first get their guesses appended
        (``speculative.py``); each such chunk returns logits at all its positions and is
        verified instead of sampled.
        """
        proposed = propose_drafts(self.scheduler.running, self.config.max_model_len, self.drafter)
        step = self.scheduler.schedule()
        scheduled = step.scheduled
        if proposed:
            fit_drafts(scheduled, self.scheduler.running, self.scheduler.waiting, proposed)
        if not scheduled:
            return []
        sampling: list[TokenSequence] = []
        checking: list[tuple[ScheduledSequence, int]] = []  # a draft chunk, its first row
        plain_rows: list[int] = []
        row = 0
        prefill_tokens = 0
        for item in scheduled:
            seq = item.seq
            start = seq.num_computed
            end = start + item.num_new_tokens
            prompt_length = len(seq.prompt_token_ids)
            if start < prompt_length:
                prefill_tokens += min(end, prompt_length) - start
            if end == len(seq.token_ids):  # item.samples
                if item.num_logits > 1:
                    checking.append((item, row))
                else:
                    sampling.append(seq)
                    plain_rows.append(row)
                row += item.num_logits
        self.num_prefill_tokens += prefill_tokens
        logits = self.runner.execute(scheduled)
        verdicts: list[tuple[TokenSequence, Verdict]] = []
        if checking:
            with torch.inference_mode():
                for item, first in checking:
                    rows = logits[first : first + item.num_logits]
                    verdicts.append((item.seq, verify(item, rows, self.speculation)))
                logits = logits[plain_rows]
        self.scheduler.after_step(step)
        for seq, verdict in verdicts:  # kept drafts come back as outputs, one by one
            del seq.token_ids[len(seq.token_ids) - verdict.num_accepted :]
        if not sampling and not verdicts:
            return []
        sampled: list[SampledToken] = []
        if sampling:
            with torch.inference_mode():  # the runner's logits are inference tensors
                sampled = sample(logits, sampling, self.eos_token_ids, overwrite=True)
        now = time.monotonic()
        self.num_generated_tokens += len(sampled)
        for seq, verdict in verdicts:
            for token_id in verdict.tokens:
                if seq.is_finished:
                    break
                self._append(seq, SampledToken(token_id), now)
                self.num_generated_tokens += 1
        requests = self.requests
        outputs: list[RequestOutput] = []
        touched: dict[str, Request] = {}  # requests with several sequences, reported once
        for seq, token in zip(sampling, sampled, strict=True):
            self._append(seq, token, now)
        for seq in [*sampling, *(seq for seq, _ in verdicts)]:
            request = requests[seq.request_id]
            if len(request.sequences) == 1:
                outputs.append(self._report(request))
            else:
                touched[seq.request_id] = request
        outputs += [self._report(request) for request in touched.values()]
        return outputs

    def _append(self, seq: TokenSequence, token: SampledToken, now: float) -> None:
        token_id = token.token_id
        output = seq.output_token_ids
        output.append(token_id)
        seq.token_ids.append(token_id)
        if seq.first_token_time is None:
            seq.first_token_time = now
        seq.last_token_time = now
        if token.logprob is not None:
            seq.logprobs.append(
                {
                    "token_id": token_id,
                    "logprob": token.logprob,
                    "top": token.top_logprobs or [],
                }
            )
        params = seq.params
        num_output = len(output)
        reason = None
        grammar_done = False
        if seq.constraint is not None:
            # A token the mask allowed always advances; refusing one would be our bug, and
            # the output would leave the grammar: end it there rather than go on.
            grammar_done = not seq.constraint.accept(token_id) or seq.constraint.finished
        if token_id in seq.stop_ids and (num_output > params.min_tokens - 1 or grammar_done):
            reason = "stop"
        elif grammar_done:
            reason = "grammar"
        elif num_output >= params.max_tokens or len(seq.token_ids) >= self.config.max_model_len:
            reason = "length"
        self._detokenize(seq, drop_last=reason == "stop")
        if reason == "grammar":
            reason = "stop"  # the grammar is complete: OpenAI calls that a natural stop
        if reason is None and params.stop and self._hit_stop_string(seq):
            reason = "stop"
        if reason is not None:
            self.scheduler.finish(seq, reason)
            if self.drafter is not None:
                self.drafter.release(seq.seq_id)

    def _detokenize(self, seq: TokenSequence, drop_last: bool) -> None:
        """``seq.text`` = the decoded output (without a final stop token).

        With a tokenizer whose text is the concatenation of its tokens' bytes (byte-level
        BPE, as GPT-2 and SmolLM), decoding is incremental: the text of the tokens already
        settled on a whole character is kept, and only the tokens after it are decoded, so
        a step costs the same at the 1,000th token as at the 1st. Other tokenizers (a
        SentencePiece decoder drops the first token's leading space) decode the whole output.
        """
        end = len(seq.output_token_ids) - (1 if drop_last else 0)
        skip = seq.params.skip_special_tokens
        if not self._incremental_decode:
            seq.text = self.tokenizer.decode(seq.output_token_ids[:end], skip_special_tokens=skip)
            return
        start = seq.num_settled_tokens
        if end - start == 1:  # the usual step: one new token after whole characters
            texts = self._token_texts[skip]
            token_id = seq.output_token_ids[start]
            tail = texts.get(token_id)
            if tail is None:
                tail = texts[token_id] = self.tokenizer.decode([token_id], skip_special_tokens=skip)
        else:
            ids = seq.output_token_ids[start:end]
            tail = self.tokenizer.decode(ids, skip_special_tokens=skip)
        seq.text = seq.settled_text + tail if tail else seq.settled_text
        # A trailing U+FFFD may be a character cut between tokens: settle only past whole ones.
        if not tail.endswith("\ufffd"):
            seq.num_settled_tokens = end
            seq.settled_text = seq.text

    def _hit_stop_string(self, seq: TokenSequence) -> bool:
        """Cut the text at the first stop string (it is not part of the output, as OpenAI)."""
        longest = max(len(s) for s in seq.params.stop)
        window_start = max(0, seq.num_text_sent - longest)
        cut = min(
            (i for i in (seq.text.find(s, window_start) for s in seq.params.stop) if i >= 0),
            default=-1,
        )
        if cut < 0:
            return False
        seq.text = seq.text[:cut]
        return True

    def _report(self, request: Request) -> RequestOutput:
        sequences = request.sequences
        first = sequences[0]
        if len(sequences) == 1:
            delta = self._take_delta(first)
            choices = [] if delta is None else [delta]
            finished = first.status is SequenceStatus.FINISHED
            num_output_tokens = len(first.output_token_ids)
        else:
            choices = []
            finished = True
            num_output_tokens = 0
            for seq in sequences:
                delta = self._take_delta(seq)
                if delta is not None:
                    choices.append(delta)
                finished = finished and seq.status is SequenceStatus.FINISHED
                num_output_tokens += len(seq.output_token_ids)
        metrics: dict[str, float] = {}
        if finished:
            self.requests.pop(request.request_id, None)
            metrics = request_metrics(request)
        return RequestOutput(
            request_id=request.request_id,
            choices=choices,
            finished=finished,
            num_prompt_tokens=len(first.prompt_token_ids),
            num_cached_tokens=max(first.num_cached_prompt_tokens, 0),
            num_output_tokens=num_output_tokens,
            metrics=metrics,
        )

    def _take_delta(self, seq: TokenSequence) -> ChoiceDelta | None:
        """New text and tokens since the last report, holding back a possible stop string's
        start and an incomplete UTF-8 character until they are settled."""
        text, sent = seq.text, seq.num_text_sent
        end = len(text)
        finished = seq.status is SequenceStatus.FINISHED
        if not finished:
            if seq.params.stop:
                end -= max(len(s) for s in seq.params.stop) - 1
            while end > sent and text[end - 1] == "\ufffd":
                end -= 1
        if end < sent:
            end = sent
        output = seq.output_token_ids
        num_tokens = len(output)
        if end == sent and num_tokens == seq.num_tokens_sent and not finished:
            return None
        logprobs = (
            [
                TokenLogprob(e["token_id"], e["logprob"], e["top"])
                for e in seq.logprobs[seq.num_tokens_sent :]
            ]
            if seq.logprobs
            else []
        )
        delta = ChoiceDelta(
            index=seq.index,
            text=text[sent:end],
            token_ids=output[seq.num_tokens_sent :],
            logprobs=logprobs,
            finish_reason=seq.finish_reason if finished else None,
        )
        seq.num_text_sent = end
        seq.num_tokens_sent = num_tokens
        return delta

    # -- conveniences and seams ----------------------------------------------------------
    def generate(
        self, prompts: Sequence[str | list[int]], params: SamplingParams | None = None
    ) -> list[list[list[int]]]:
        """Run prompts to completion (offline batch); token ids per prompt per choice."""
        ids = [self.add_request(p, params) for p in prompts]
        results: dict[str, list[list[int]]] = {
            rid: [[] for _ in range((params or SamplingParams()).n)] for rid in ids
        }
        while self.has_unfinished_requests():
            for out in self.step():
                for choice in out.choices:
                    results[out.request_id][choice.index].extend(choice.token_ids)
        return [results[rid] for rid in ids]

    def stream(
        self, prompt: str | list[int], params: SamplingParams | None = None
    ) -> Iterator[ChoiceDelta]:
        """Run one request to its end, yielding its deltas as they come: ``sai generate`` and
        ``sai chat`` take the same steps (sampler, weights, stop rules) as a server request.
        Closing the iterator early aborts the request and frees its blocks."""
        request_id = self.add_request(prompt, params)
        try:
            while request_id in self.requests:
                for out in self.step():
                    if out.request_id == request_id:
                        yield from out.choices
        finally:
            self.abort(request_id)

    @torch.no_grad()
    def swap_weights(self, state_dict: dict[str, Any]) -> None:
        """Load new weights into the live model in place (same shapes), e.g. after a training
        step (RL rollouts), and invalidate every cached K/V computed with the old ones."""
        self.model.load_state_dict(state_dict, strict=True)
        self.runner.weights_changed()
        self.pool.reset_prefix_cache()
        for seq in list(self.scheduler.running):
            self.scheduler.preempt(seq)

    def stats(self) -> dict[str, float]:
        """Gauges a server exports: queue depth, cache use, prefix-cache hit rate."""
        return {
            "num_waiting": len(self.scheduler.waiting),
            "num_running": len(self.scheduler.running),
            "kv_blocks_used": self.pool.num_used,
            "kv_blocks_total": self.pool.num_blocks,
            "prefix_cache_hit_rate": self.pool.hit_rate,
            "num_preemptions": self.scheduler.num_preemptions,
            "spec_draft_tokens": self.speculation.num_draft_tokens,
            "spec_accepted_tokens": self.speculation.num_accepted_tokens,
            "spec_acceptance_rate": self.speculation.acceptance_rate,
            "spec_tokens_per_step": self.speculation.tokens_per_step,
        }


def decodes_by_concatenation(tokenizer: Any) -> bool:
    """Whether ``decode(a + b) == decode(a) + decode(b)`` whenever ``decode(a)`` ends on a whole
    character: a tokenizer that says so itself, or a Hugging Face ``tokenizers`` backend with
    the byte-level decoder (tokens map to bytes, joined, then read as UTF-8 with
    replacement), which is what our GGUF tokenizers build."""
    declared = getattr(tokenizer, "decodes_by_concatenation", None)
    if declared is not None:
        return bool(declared)
    try:
        from tokenizers import decoders
    except ImportError:  # pragma: no cover - tokenizers is a dependency
        return False
    backend = getattr(tokenizer, "backend", None)
    return isinstance(getattr(backend, "decoder", None), decoders.ByteLevel)


def request_metrics(request: Request) -> dict[str, float]:
    """Time to first token and time per output token of a finished request (seconds)."""
    seqs = [s for s in request.sequences if s.first_token_time is not None]
    if not seqs:
        return {}
    first = min(s.first_token_time for s in seqs if s.first_token_time is not None)
    out = {"ttft": first - request.arrival_time}
    gaps = [
        (s.last_token_time - s.first_token_time) / (len(s.output_token_ids) - 1)
        for s in seqs
        if len(s.output_token_ids) > 1
        and s.last_token_time is not None
        and s.first_token_time is not None
    ]
    if gaps:
        out["tpot"] = sum(gaps) / len(gaps)
    out["e2e"] = max(s.last_token_time or 0.0 for s in seqs) - request.arrival_time
    return out


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: CUDA when present, else CPU; anything else as torch reads it."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise UserError(f"unknown device {device!r}: {error}", field="device") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' asked for, but this machine has no CUDA GPU", field="device")
    return resolved


def load_engine(
    name_or_path: str,
    dtype: str | torch.dtype | None = "bfloat16",
    config: EngineConfig | None = None,
    model_name: str | None = None,
    device: str | torch.device | None = None,
    quant: str | None = None,
) -> LLMEngine:
    """An engine for a registered model name, one of our checkpoint folders (plain or
    quantized by ``sai quantize``), or a GGUF file.

    The served name is the registered name, or the checkpoint folder's (or file's) name.
    ``device`` None or ``"auto"`` is the first CUDA GPU when there is one, else the CPU.
    ``quant`` ``int8`` or ``int4`` quantizes the weights on load (round to nearest,
    ``infer/quant.py``); ``gguf`` keeps a GGUF file's Q8_0/Q4_0/Q4_1 blocks as they are.
    """
    from pathlib import Path

    from scalable_ai.infer.quant import load_for_serving
    from scalable_ai.model.registry import REGISTRY

    model, tokenizer = load_for_serving(name_or_path, dtype, resolve_device(device), quant)
    if model_name is None:
        model_name = name_or_path if name_or_path in REGISTRY else Path(name_or_path).stem
    return LLMEngine(
        model, tokenizer, config, model_name=model_name, eos_token_ids=sorted(tokenizer.stop_ids())
    )

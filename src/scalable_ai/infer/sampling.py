"""Sampling parameters and the sampler that turns a step's logits into next tokens.

The order of the logits processors follows common practice (Hugging Face's and vLLM's): the
repetition penalty (Keskar et al., CTRL 2019) divides positive and multiplies negative logits
of every token already seen; presence and frequency penalties (OpenAI's API) subtract a flat
amount and an amount per occurrence for tokens already generated; then temperature scales,
top-k keeps the k most likely tokens, top-p (nucleus sampling, Holtzman et al. 2020) keeps the
smallest set whose probability reaches p, and min-p keeps tokens at least ``min_p`` times as
likely as the best one (Nguyen et al. 2024). Temperature 0 means greedy (argmax). Reported
log-probabilities are those of the model's own distribution, before any processor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.device_sampling import sample_on_device, samples_on_device
from scalable_ai.infer.grammar import apply_constraints, greedy_under_constraints

if TYPE_CHECKING:
    from scalable_ai.infer.grammar import Constraint, Grammar
    from scalable_ai.infer.sequence import TokenSequence

#: OpenAI caps top log-probabilities per position at 20.
MAX_TOP_LOGPROBS = 20


@dataclass
class SamplingParams:
    """How one request picks its tokens and when it stops (OpenAI's fields plus vLLM's)."""

    n: int = 1
    max_tokens: int = 16
    min_tokens: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    #: ``None``: no log-probabilities; ``k >= 0``: the chosen token's plus the top ``k``.
    logprobs: int | None = None
    skip_special_tokens: bool = True
    #: OpenAI's ``logit_bias``: token id -> a value in [-100, 100] added to its logit.
    logit_bias: dict[int, float] = field(default_factory=dict)
    #: Constrained decoding: every sequence's output stays inside this grammar (``grammar.py``).
    grammar: Grammar | None = None
    #: The loaded LoRA adapter to run with (the server's ``model: "base:adapter"``), or None.
    lora: str | None = None
    #: Speculative decoding (``speculative.py``): ``"ngram"`` (prompt lookup), ``"draft"``
    #: (the engine's draft model, ``draft.py``) or None (off), and the guesses per step.
    speculative: str | None = None
    num_speculative_tokens: int = 4

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first field outside its OpenAI range."""
        checks = [
            (self.n >= 1, "n", "must be at least 1"),
            (self.max_tokens >= 1, "max_tokens", "must be at least 1"),
            (self.min_tokens >= 0, "min_tokens", "must be 0 or more"),
            (0.0 <= self.temperature <= 2.0, "temperature", "must be between 0 and 2"),
            (0.0 < self.top_p <= 1.0, "top_p", "must be in (0, 1]"),
            (self.top_k >= -1, "top_k", "must be -1 or 0 (off) or a positive count"),
            (0.0 <= self.min_p <= 1.0, "min_p", "must be between 0 and 1"),
            (self.repetition_penalty > 0.0, "repetition_penalty", "must be positive"),
            (-2.0 <= self.presence_penalty <= 2.0, "presence_penalty", "must be in [-2, 2]"),
            (-2.0 <= self.frequency_penalty <= 2.0, "frequency_penalty", "must be in [-2, 2]"),
            (
                self.logprobs is None or 0 <= self.logprobs <= MAX_TOP_LOGPROBS,
                "logprobs",
                f"must be between 0 and {MAX_TOP_LOGPROBS}",
            ),
            (len(self.stop) <= 4, "stop", "at most 4 stop sequences"),
            (
                self.speculative in (None, "ngram", "draft"),
                "speculative",
                "must be 'ngram', 'draft' or unset",
            ),
            (
                1 <= self.num_speculative_tokens <= 16,
                "num_speculative_tokens",
                "must be between 1 and 16",
            ),
            (all(self.stop), "stop", "stop sequences must not be empty"),
            (
                all(-100.0 <= b <= 100.0 for b in self.logit_bias.values()),
                "logit_bias",
                "each bias must be between -100 and 100",
            ),
        ]
        for ok, name, reason in checks:
            if not ok:
                raise UserError(f"{reason}, got {getattr(self, name)!r}", field=name)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def shapes_logits(self) -> bool:
        """A bias or a grammar changes this request's logits before sampling."""
        return bool(self.logit_bias) or self.grammar is not None

    @property
    def has_penalties(self) -> bool:
        return (
            self.repetition_penalty != 1.0
            or self.presence_penalty != 0.0
            or self.frequency_penalty != 0.0
        )


@dataclass
class SampledToken:
    """The chosen token, and its log-probability with the top alternatives when asked."""

    token_id: int
    logprob: float | None = None
    top_logprobs: list[tuple[int, float]] | None = None


def apply_penalties(logits: torch.Tensor, seq: TokenSequence) -> None:
    """Repetition, presence and frequency penalties on one row, in place."""
    params = seq.params
    if params.repetition_penalty != 1.0:
        seen = torch.tensor(sorted(set(seq.token_ids)), dtype=torch.long)
        chosen = logits[seen]
        logits[seen] = torch.where(
            chosen > 0, chosen / params.repetition_penalty, chosen * params.repetition_penalty
        )
    if seq.output_token_ids and (params.presence_penalty or params.frequency_penalty):
        generated = torch.tensor(seq.output_token_ids, dtype=torch.long)
        counts = torch.bincount(generated, minlength=logits.shape[-1]).to(logits.dtype)
        logits -= params.frequency_penalty * counts + params.presence_penalty * (counts > 0)


def apply_logit_bias(logits: torch.Tensor, bias: dict[int, float]) -> None:
    """OpenAI's ``logit_bias`` on one row, in place: each listed token's logit plus its bias
    (-100 bans a token in practice, 100 all but forces it)."""
    ids = torch.tensor(list(bias), dtype=torch.long)
    logits[ids] += torch.tensor(list(bias.values()), dtype=logits.dtype)


def filter_top_k_top_p(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor) -> None:
    """Mask (to -inf, in place) tokens outside each row's top-k and nucleus (top-p) set."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    vocab = logits.shape[-1]
    rank = torch.arange(vocab).expand_as(sorted_logits)
    k = torch.where(top_k > 0, top_k, vocab).unsqueeze(1)
    drop = rank >= k
    probs = sorted_logits.masked_fill(drop, float("-inf")).softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability of the strictly better tokens
    drop |= before > top_p.unsqueeze(1)
    drop[:, 0] = False  # the best token always survives
    logits.scatter_(1, order, sorted_logits.masked_fill(drop, float("-inf")))


def greedy_tokens(logits: torch.Tensor) -> list[int]:
    """Each row's argmax (the first one on ties, as ``torch.argmax``), as Python ints.

    Through NumPy on f32: torch's CPU argmax over the last dimension is not vectorized and
    took 2.8 ms on (16, 49152) bf16 logits and 0.67 ms on f32, NumPy's 0.05 ms on f32 (plus
    0.08 ms for the exact bf16 -> f32 widening); one 2-core EPYC, one thread.
    """
    if logits.dtype != torch.float32:
        logits = logits.float()
    return np.argmax(logits.detach().contiguous().numpy(), axis=-1).tolist()


def sample(
    logits: torch.Tensor,
    seqs: Sequence[TokenSequence],
    eos_token_ids: Sequence[int] = (),
    overwrite: bool = False,
) -> list[SampledToken]:
    """One next token for each row of ``logits`` (N, vocab), row ``i`` belonging to ``seqs[i]``.

    ``overwrite``: the caller has no further use for ``logits`` (the engine's step), so the
    random rows may be scaled in place instead of copied (under ``torch.inference_mode`` if
    they are inference tensors).
    """
    if logits.device.type != "cpu":  # a GPU's logits: sampled there when the rows allow
        if all(_plain_greedy(s) for s in seqs):
            return [SampledToken(token_id) for token_id in logits.argmax(dim=-1).tolist()]
        if samples_on_device(seqs):
            tokens = sample_on_device(logits, seqs, _uniforms(seqs))
            return [SampledToken(token_id) for token_id in tokens]
        logits = logits.float().cpu()
    if all(_plain_greedy(s) for s in seqs):
        return [SampledToken(token_id) for token_id in greedy_tokens(logits)]
    if all(_plain_greedy(s, constrained=True) for s in seqs):  # greedy rows, some under grammars
        tokens = greedy_tokens(logits)
        rows = [i for i, s in enumerate(seqs) if s.constraint is not None]
        greedy_under_constraints(logits, tokens, rows, _constraints(seqs, rows))
        return [SampledToken(token_id) for token_id in tokens]
    overwrite = overwrite or logits.dtype != torch.float32  # .float() makes our own copy
    logits = logits.float()
    want_logprobs = [i for i, s in enumerate(seqs) if s.params.logprobs is not None]
    model_logprobs = None
    if want_logprobs:
        wanted = logits if len(want_logprobs) == len(seqs) else logits[want_logprobs]
        model_logprobs = wanted.log_softmax(dim=-1)
    if any(s.params.has_penalties or s.params.min_tokens or s.params.shapes_logits for s in seqs):
        logits = logits.clone()
        overwrite = True
        constrained: list[int] = []
        for i, seq in enumerate(seqs):
            if seq.params.has_penalties:
                apply_penalties(logits[i], seq)
            if seq.params.logit_bias:
                apply_logit_bias(logits[i], seq.params.logit_bias)
            if seq.constraint is not None:
                constrained.append(i)  # the grammar alone decides where the output ends
            elif len(seq.output_token_ids) < seq.params.min_tokens:
                banned = [*seq.params.stop_token_ids, *eos_token_ids]
                if banned:
                    logits[i, banned] = float("-inf")
        if constrained:
            apply_constraints(logits, constrained, _constraints(seqs, constrained))
    random_rows = [i for i, s in enumerate(seqs) if not s.params.greedy]
    # Greedy rows' argmax, read before the random rows are overwritten below.
    chosen_list = greedy_tokens(logits) if len(random_rows) < len(seqs) else [0] * len(seqs)
    if random_rows:
        own = overwrite and len(random_rows) == len(seqs)
        drawing = logits if own else logits[random_rows]  # a (16, 49152) copy costs ~0.5 ms
        drawn = _sample_random(drawing, [seqs[i] for i in random_rows]).tolist()
        for i, token_id in zip(random_rows, drawn, strict=True):
            chosen_list[i] = token_id
    result = [SampledToken(token_id) for token_id in chosen_list]
    if model_logprobs is not None:
        chosen = torch.tensor([chosen_list[i] for i in want_logprobs])
        chosen_logprobs = model_logprobs.gather(1, chosen.unsqueeze(1)).squeeze(1).tolist()
        most = max(seqs[i].params.logprobs or 0 for i in want_logprobs)
        top_values: list[list[float]] = []
        top_ids: list[list[int]] = []
        if most:  # one top-k for all rows, each row keeps its own k
            values, ids = model_logprobs.topk(most, dim=-1)
            top_values, top_ids = values.tolist(), ids.tolist()
        for row, i in enumerate(want_logprobs):
            result[i].logprob = chosen_logprobs[row]
            k = seqs[i].params.logprobs or 0
            if k:
                pairs = zip(top_ids[row][:k], top_values[row][:k], strict=True)
                result[i].top_logprobs = list(pairs)
    return result


def _constraints(seqs: Sequence[TokenSequence], rows: list[int]) -> list[Constraint]:
    """The grammar state of each of ``rows`` (rows chosen because they have one)."""
    found = [seqs[i].constraint for i in rows]
    return [c for c in found if c is not None]


def _plain_greedy(seq: TokenSequence, constrained: bool = False) -> bool:
    """Temperature 0 and nothing else that changes the logits (``constrained``: except a
    grammar, which ``greedy_under_constraints`` handles)."""
    params = seq.params
    return (
        params.temperature == 0.0
        and params.logprobs is None
        and params.repetition_penalty == 1.0
        and params.presence_penalty == 0.0
        and params.frequency_penalty == 0.0
        and not params.logit_bias
        and (constrained or seq.constraint is None)
        and len(seq.output_token_ids) >= params.min_tokens
    )


def _sample_random(logits: torch.Tensor, seqs: Sequence[TokenSequence]) -> torch.Tensor:
    """Temperature, top-k, top-p and min-p, then one draw per row (seeded rows their own).

    ``logits`` is the caller's own copy (it is scaled in place). Rows are kept as unnormalized
    weights ``w = exp(x - max x)``, so the best token weighs exactly 1 and min-p keeps
    ``w >= min_p``. Top-k and top-p look only at candidates: ``topk(k)``, or for top-p the
    tokens above 1e-4 (else 1e-6) of the probability mass when those already hold more than
    ``top_p`` (every token outside then has more than ``top_p`` before it and is dropped);
    otherwise the row is sorted whole as :func:`filter_top_k_top_p` does. One uniform number
    per row picks the token by inverse CDF (:func:`draw`). On (16, 49152) logits at
    temperature 1 this took 1.2 ms where softmax + ``torch.multinomial`` took 22 ms, and
    top-p 0.9 ~3 ms instead of 96 ms (one 2-core EPYC thread); the distribution is the same,
    the random stream is not.
    """
    params = [s.params for s in seqs]
    temperatures = [p.temperature for p in params]
    if all(t == temperatures[0] for t in temperatures):
        logits.div_(temperatures[0])
    else:
        logits.div_(torch.tensor(temperatures, dtype=logits.dtype).unsqueeze(1))
    uniforms = _uniforms(seqs)
    drawn = torch.empty(len(seqs), dtype=torch.long)
    full_rows = []
    for i, p in enumerate(params):
        if p.top_k > 0 or p.top_p < 1.0:
            candidates = _nucleus_candidates(logits[i], p)
            if candidates is not None:
                ids, weights = candidates
                if p.min_p > 0.0:
                    keep = weights >= p.min_p
                    ids, weights = ids[keep], weights[keep]
                picked = draw(torch.from_numpy(weights[None]), uniforms[i : i + 1])
                drawn[i] = int(ids[int(picked[0])])
                continue
            filter_top_k_top_p(
                logits[i : i + 1],
                torch.tensor([max(p.top_k, 0)]),
                torch.tensor([p.top_p], dtype=logits.dtype),
            )
        full_rows.append(i)
    if full_rows:
        rows = logits if len(full_rows) == len(seqs) else logits[full_rows]
        # In place on our copy (a new (16, 49152) tensor costs ~0.5 ms of page faults here);
        # ``amax``, as torch's ``max(dim)`` over the last dimension is 18x slower.
        row_weights = _exp_(rows.sub_(rows.amax(dim=-1, keepdim=True)))
        min_p = [params[i].min_p for i in full_rows]
        if any(min_p):
            threshold = torch.tensor(min_p, dtype=row_weights.dtype).unsqueeze(1)
            row_weights.masked_fill_(row_weights < threshold, 0.0)
        drawn[full_rows] = draw(row_weights, uniforms[full_rows])
    return drawn


def _exp_(weights: torch.Tensor) -> torch.Tensor:
    """``weights.exp_()``, through NumPy's vectorized ``exp`` when it can (0.36 ms instead of
    0.68 ms on (16, 49152) float32 here)."""
    if weights.dtype == torch.float32 and weights.is_contiguous():
        array = weights.numpy()
        np.exp(array, out=array)
        return weights
    return weights.exp_()


def _uniforms(seqs: Sequence[TokenSequence]) -> torch.Tensor:
    """One uniform [0, 1) number per row: seeded sequences from their own generator."""
    uniforms = torch.rand(len(seqs), dtype=torch.float64)
    for i, seq in enumerate(seqs):
        if seq.generator is not None:
            uniforms[i] = torch.rand((), dtype=torch.float64, generator=seq.generator)
    return uniforms


def _nucleus_candidates(
    row: torch.Tensor, params: SamplingParams
) -> tuple[np.ndarray, np.ndarray] | None:
    """Token ids and weights (best first, the best weighing 1) that survive top-k and top-p,
    or None when top-p's nucleus may reach past the candidates (then the row is sorted).
    In NumPy, where each of these small steps costs a fraction of a torch call."""
    if params.top_k > 0:
        values, top = row.topk(min(params.top_k, row.shape[0]))
        ids = top.numpy()
        weights = np.exp(values.numpy() - values.numpy()[0])
    else:
        x = row.detach().contiguous().numpy()
        all_weights = np.exp(x - x.max())  # a new array: the row stays as it was
        total = float(all_weights.sum())
        for share in (1e-4, 1e-6):  # a peaked row has few tokens above 1e-4, a flat one many
            ids = np.flatnonzero(all_weights > total * share)
            if float(all_weights[ids].sum()) > params.top_p * total:
                break
        else:
            return None
        ids = ids[np.argsort(-all_weights[ids], kind="stable")]
        weights = all_weights[ids]
    if params.top_p < 1.0:
        probs = weights / (weights.sum() if params.top_k > 0 else total)
        # Probability of the strictly better tokens, summed as torch sums it (float32).
        before = torch.from_numpy(probs).cumsum(0).numpy() - probs
        keep = before <= params.top_p
        keep[0] = True
        ids, weights = ids[keep], weights[keep]
    return ids, weights


def draw(weights: torch.Tensor, uniforms: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """Row ``r`` of non-negative ``weights`` (R, W) picks index ``i`` with probability
    ``w[r, i] / sum(w[r])``, by inverse CDF at ``uniforms[r]`` (R,) in [0, 1).

    The CDF is in float64 (a float32 cumulative sum over 49,152 tokens would shift each
    token's share by up to 6e-8). Wide rows go in two levels: a block of ``block`` tokens
    by the blocks' sums, then the token inside it, so only one block per row is summed in
    float64. A zero-weight token is never picked. In NumPy: a row is a handful of small
    operations, each ~10x cheaper than a torch call (0.1 ms per 49,152-token row).
    """
    w = weights.detach().contiguous().numpy()
    u = uniforms.detach().double().numpy()
    rows, width = w.shape
    picked = np.empty(rows, dtype=np.int64)
    if width <= 4 * block:
        for r in range(rows):
            cdf = np.cumsum(w[r], dtype=np.float64)
            _check_total(cdf[-1])
            index = int(np.searchsorted(cdf, u[r] * cdf[-1], side="right"))
            picked[r] = min(index, _last_positive(w[r]))
        return torch.from_numpy(picked)
    num_blocks = -(-width // block)
    if num_blocks * block != width:
        w = np.pad(w, ((0, 0), (0, num_blocks * block - width)))
    blocks = w.reshape(rows, num_blocks, block)
    masses = blocks.sum(axis=-1).astype(np.float64)
    for r in range(rows):
        mass = masses[r]
        cdf = np.cumsum(mass)
        _check_total(cdf[-1])
        target = u[r] * cdf[-1]
        chosen = min(int(np.searchsorted(cdf, target, side="right")), _last_positive(mass))
        inner = blocks[r, chosen]
        inner_cdf = np.cumsum(inner, dtype=np.float64)
        # Where the target falls inside the block, rescaled to the block's own float64 sum.
        before = cdf[chosen - 1] if chosen else 0.0
        inner_target = (target - before) / mass[chosen] * inner_cdf[-1]
        index = int(np.searchsorted(inner_cdf, inner_target, side="right"))
        picked[r] = chosen * block + min(index, _last_positive(inner))
    return torch.from_numpy(picked)


def _check_total(total: float) -> None:
    """NaN or infinite logits (a broken model) fail loudly, as ``torch.multinomial`` did."""
    if not np.isfinite(total) or total <= 0:
        raise RuntimeError("sampling weights must be finite and not all zero (NaN logits?)")


def _last_positive(weights: np.ndarray) -> int:
    """Index of the last positive entry (the clamp for a target at the very end)."""
    return len(weights) - 1 - int(np.argmax(weights[::-1] > 0))

"""A draft model as the speculative proposer: a small model with the target's tokenizer.

Leviathan et al. (2023) and Chen et al. (2023) draft with a smaller model of the same
family: it proposes ``k`` tokens one by one (``d_i ~ q_i``, its own distribution after the
request's temperature, top-k, top-p and min-p), and the target verifies them with the
rejection rule of ``speculative.py``, which needs ``q`` at every drafted position.

The draft keeps its own paged KV cache (``KVCache`` + ``BlockPool``, sized like the
target's in tokens) and runs through its own :class:`ModelRunner`, batched over every
speculating sequence of the step: one catch-up chunk (the tokens the target accepted since
the last proposal, usually one or two), then ``k - 1`` single-token decodes. Each sequence
has a shadow (:class:`DraftSequence`) with the draft's block table and how much of the
sequence the draft has computed; after verification the shadow's count falls back to the
length both agree on, so rejected drafts are recomputed, never trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from scalable_ai.infer.kv_cache import BlockPool, KVCache, KVCacheSpec
from scalable_ai.infer.runner import ModelRunner
from scalable_ai.infer.scheduler import ScheduledSequence
from scalable_ai.infer.sequence import TokenSequence
from scalable_ai.infer.speculative import target_probs
from scalable_ai.model.config import ModelConfig


@dataclass
class DraftSequence:
    """The draft model's view of one target sequence (what ``ModelRunner`` reads)."""

    token_ids: list[int] = field(default_factory=list)
    num_computed: int = 0
    block_table: list[int] = field(default_factory=list)
    lora_id: int = 0

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)


class DraftProposer:
    """Proposes ``k`` tokens per speculating sequence with a small model, and their ``q``."""

    def __init__(
        self, model: nn.Module, max_tokens: int, block_size: int = 16, forward_path: str = "auto"
    ) -> None:
        config: ModelConfig = model.config  # type: ignore[assignment]  # the model family's seam
        weight = next(model.parameters())
        num_blocks = -(-max_tokens // block_size) + 1
        spec = KVCacheSpec(
            config.n_layers,
            config.n_kv_heads,
            config.head_size,
            num_blocks,
            block_size,
            weight.dtype,
            weight.device,
        )
        self.model = model.eval()
        self.cache = KVCache(spec)
        self.pool = BlockPool(num_blocks)
        self.runner = ModelRunner(model, self.cache, forward_path, cuda_graphs=False)
        self.block_size = block_size
        self.shadows: dict[int, DraftSequence] = {}

    def propose(
        self, seqs: Sequence[TokenSequence], room: Sequence[int]
    ) -> dict[int, tuple[list[int], torch.Tensor | None]]:
        """seq_id -> (drafts, q) for each sequence with room > 0; q is (len(drafts), V)
        float64 for sampled requests, None for greedy ones (argmax drafts, one-hot q)."""
        self._forget_finished({seq.seq_id for seq in seqs})
        active = [(seq, r) for seq, r in zip(seqs, room, strict=True) if r > 0]
        if not active:
            return {}
        shadows = [self._sync(seq) for seq, _ in active]
        drafts: list[list[int]] = [[] for _ in active]
        probs: list[list[torch.Tensor]] = [[] for _ in active]
        rounds = max(r for _, r in active)
        live = list(range(len(active)))
        for step in range(rounds):
            live = [i for i in live if step < active[i][1]]
            if not live or not self._grow([shadows[i] for i in live]):
                break
            scheduled = [
                ScheduledSequence(
                    shadows[i],  # type: ignore[arg-type]  # the runner reads these fields only
                    len(shadows[i].token_ids) - shadows[i].num_computed,
                )
                for i in live
            ]
            with torch.inference_mode():
                logits = self.runner.execute(scheduled)
            for row, i in enumerate(live):
                shadow, seq = shadows[i], active[i][0]
                shadow.num_computed = len(shadow.token_ids)
                token, q = self._pick(logits[row], seq)
                drafts[i].append(token)
                if q is not None:
                    probs[i].append(q)
                shadow.token_ids.append(token)
        out: dict[int, tuple[list[int], torch.Tensor | None]] = {}
        for i, (seq, _) in enumerate(active):
            if drafts[i]:
                out[seq.seq_id] = (drafts[i], torch.stack(probs[i]) if probs[i] else None)
        return out

    def _pick(self, logits: torch.Tensor, seq: TokenSequence) -> tuple[int, torch.Tensor | None]:
        if seq.params.greedy:
            return int(logits.float().argmax()), None
        q = target_probs(logits[None].float().cpu(), seq.params)[0]
        u = torch.rand((), dtype=torch.float64, generator=seq.generator)
        cdf = q.cumsum(0)
        token = int(torch.searchsorted(cdf, (u * cdf[-1]).reshape(1), right=True))
        return min(token, int(torch.nonzero(q > 0)[-1])), q

    def _sync(self, seq: TokenSequence) -> DraftSequence:
        """The shadow agrees with the sequence up to their common prefix; the rest of the
        sequence is what the draft computes next."""
        shadow = self.shadows.setdefault(seq.seq_id, DraftSequence())
        common = 0
        limit = min(len(shadow.token_ids), len(seq.token_ids))
        while common < limit and shadow.token_ids[common] == seq.token_ids[common]:
            common += 1
        shadow.num_computed = min(shadow.num_computed, common, len(seq.token_ids) - 1)
        shadow.token_ids = list(seq.token_ids)
        return shadow

    def _grow(self, shadows: list[DraftSequence]) -> bool:
        """Blocks for every shadow's next computation; False (no drafts) when the pool is
        short, as a draft is only ever an optimization."""
        for shadow in shadows:
            needed = -(-len(shadow.token_ids) // self.block_size) - len(shadow.block_table)
            if needed > self.pool.num_free:
                return False
            for _ in range(max(needed, 0)):
                shadow.block_table.append(self.pool.allocate())
        return True

    def _forget_finished(self, running: set[int]) -> None:
        for seq_id in [s for s in self.shadows if s not in running]:
            self.release(seq_id)

    def release(self, seq_id: int) -> None:
        """Free a finished (or no longer speculating) sequence's draft blocks."""
        shadow = self.shadows.pop(seq_id, None)
        if shadow is not None:
            for block in reversed(shadow.block_table):
                self.pool.release(block)

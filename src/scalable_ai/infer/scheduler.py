"""Continuous batching: every step decides which sequences run and how many tokens each computes.

Orca (Yu et al., OSDI 2022) schedules at the granularity of one iteration: finished sequences
leave and waiting ones join after *every* step, instead of a static batch waiting for its
longest member. The per-step *token budget* (``max_num_batched_tokens``) bounds how much work a
step does; a long prompt is split into chunks that fit the budget (chunked prefill, Sarathi,
Agrawal et al., 2023), so decodes of running sequences are never stalled behind a long prefill.

Running sequences are served first, oldest first. When the paged cache has no block for a
running sequence, the *newest* running sequence is preempted: its blocks are released and it
goes back to the front of the waiting queue to be recomputed later (vLLM's recompute
preemption: for short contexts recomputing is cheaper than swapping to host memory). Its full
blocks usually stay in the prefix cache, so the recompute is mostly cache hits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from scalable_ai.infer.kv_cache import BlockPool, block_hash, prompt_block_hashes, root_hash
from scalable_ai.infer.sequence import SequenceStatus, TokenSequence


@dataclass
class SchedulerConfig:
    """Limits of one step: sequences in flight, tokens computed, and the cache's block size."""

    max_num_seqs: int = 64
    max_num_batched_tokens: int = 512
    block_size: int = 16
    enable_prefix_caching: bool = True


@dataclass
class ScheduledSequence:
    """One sequence's share of a step: compute ``num_new_tokens`` from ``seq.num_computed``."""

    seq: TokenSequence
    num_new_tokens: int
    #: Trailing positions whose logits the step returns (more than 1: speculative drafts).
    num_logits: int = 1

    @property
    def samples(self) -> bool:
        """Whether this step reaches the end of the known tokens, so a new token is sampled."""
        return self.seq.num_computed + self.num_new_tokens == self.seq.num_tokens


@dataclass
class SchedulerOutput:
    """What a step runs: single-token queries (decodes) first, then multi-token chunks."""

    scheduled: list[ScheduledSequence] = field(default_factory=list)
    preempted: list[TokenSequence] = field(default_factory=list)

    @property
    def num_tokens(self) -> int:
        return sum(item.num_new_tokens for item in self.scheduled)


class Scheduler:
    """Owns the waiting queue, the running list and the block pool's bookkeeping per sequence."""

    def __init__(self, config: SchedulerConfig, pool: BlockPool) -> None:
        self.config = config
        self.pool = pool
        self.waiting: deque[TokenSequence] = deque()
        self.running: list[TokenSequence] = []
        self.num_preemptions = 0

    # -- queue changes -------------------------------------------------------------------
    def add(self, seq: TokenSequence) -> None:
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)

    def finish(self, seq: TokenSequence, reason: str) -> None:
        """Retire ``seq`` (stop, length or abort): its blocks go back to the pool at once."""
        if seq.status is SequenceStatus.RUNNING:
            self.running.remove(seq)
        elif seq.status is SequenceStatus.WAITING:
            self.waiting.remove(seq)
        self._release_blocks(seq)
        seq.status = SequenceStatus.FINISHED
        seq.finish_reason = reason

    @property
    def num_unfinished(self) -> int:
        """Sequences waiting or running (the A4 kit's simulator stops at 0)."""
        return len(self.waiting) + len(self.running)

    # -- one step ------------------------------------------------------------------------
    def schedule(self) -> SchedulerOutput:
        """Pick this step's work within the token budget, preempting when blocks run out."""
        budget = self.config.max_num_batched_tokens
        out = SchedulerOutput()
        scheduled: list[ScheduledSequence] = []
        index = 0
        while index < len(self.running) and budget > 0:
            seq = self.running[index]
            num_new = min(len(seq.token_ids) - seq.num_computed, budget)
            while not self._grow(seq, num_new):
                victim = self.running[-1]
                self.preempt(victim)
                out.preempted.append(victim)
                if victim is seq:
                    break
            if seq.status is not SequenceStatus.RUNNING:
                break
            scheduled.append(ScheduledSequence(seq, num_new))
            budget -= num_new
            index += 1
        if not out.preempted:
            budget = self._admit(scheduled, budget)
        # Single-token queries first: the runner batches them into one attention call.
        # (A stable partition, as sorting on ``num_new_tokens != 1`` would give.)
        decodes = [item for item in scheduled if item.num_new_tokens == 1]
        if len(decodes) < len(scheduled):
            decodes += [item for item in scheduled if item.num_new_tokens != 1]
        out.scheduled = decodes
        return out

    def _admit(self, scheduled: list[ScheduledSequence], budget: int) -> int:
        """Move waiting sequences to running while the budget and the cache allow, in order."""
        while self.waiting and budget > 0 and len(self.running) < self.config.max_num_seqs:
            seq = self.waiting[0]
            hits = self._prefix_hits(seq)
            num_cached = len(hits) * self.config.block_size
            num_new = min(seq.num_tokens - num_cached, budget)
            blocks_needed = self._blocks_for(num_cached + num_new) - len(hits)
            hits_in_free_queue = sum(1 for b in hits if self.pool.ref_count[b] == 0)
            if blocks_needed > self.pool.num_free - hits_in_free_queue:
                break
            self.waiting.popleft()
            for block in hits:
                self.pool.share(block)
            seq.block_table = list(hits)
            seq.block_hashes = prompt_block_hashes(
                seq.token_ids, self.config.block_size, root_hash(seq.lora_id)
            )[: len(hits)]
            seq.num_computed = num_cached
            if seq.num_cached_prompt_tokens < 0:
                seq.num_cached_prompt_tokens = num_cached
                self.pool.queried_tokens += seq.num_tokens
                self.pool.hit_tokens += num_cached
            for _ in range(blocks_needed):
                seq.block_table.append(self.pool.allocate())
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            scheduled.append(ScheduledSequence(seq, num_new))
            budget -= num_new
        return budget

    def _prefix_hits(self, seq: TokenSequence) -> list[int]:
        """Cached blocks that start ``seq``, leaving at least one token to compute for logits."""
        if not self.config.enable_prefix_caching:
            return []
        hashes = prompt_block_hashes(seq.token_ids, self.config.block_size, root_hash(seq.lora_id))
        hits = self.pool.lookup_prefix(hashes)
        if len(hits) * self.config.block_size >= seq.num_tokens:
            hits = hits[:-1]
        return hits

    def after_step(self, step: SchedulerOutput) -> None:
        """Advance ``num_computed`` and register every block that became full in the cache."""
        size = self.config.block_size
        for item in step.scheduled:
            seq = item.seq
            seq.num_computed += item.num_new_tokens
            if not self.config.enable_prefix_caching:
                continue
            while len(seq.block_hashes) < seq.num_computed // size:
                i = len(seq.block_hashes)
                parent = seq.block_hashes[-1] if seq.block_hashes else root_hash(seq.lora_id)
                h = block_hash(parent, seq.token_ids[i * size : (i + 1) * size])
                seq.block_hashes.append(h)
                self.pool.register_full(seq.block_table[i], h)

    # -- blocks --------------------------------------------------------------------------
    def _blocks_for(self, num_tokens: int) -> int:
        return -(-num_tokens // self.config.block_size)

    def _grow(self, seq: TokenSequence, num_new: int) -> bool:
        """Give ``seq`` the blocks for ``num_new`` more tokens; False when the pool is short."""
        size = self.config.block_size
        needed = -(-(seq.num_computed + num_new) // size) - len(seq.block_table)
        if needed <= 0:
            return True
        if needed > self.pool.num_free:
            return False
        for _ in range(needed):
            seq.block_table.append(self.pool.allocate())
        return True

    def preempt(self, seq: TokenSequence) -> None:
        """Recompute preemption: drop the sequence's cache and requeue it first in line."""
        self.running.remove(seq)
        self._release_blocks(seq)
        seq.num_computed = 0
        seq.status = SequenceStatus.WAITING
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.appendleft(seq)

    def _release_blocks(self, seq: TokenSequence) -> None:
        # Last block first, so the tail of a prefix is evicted before its head.
        for block in reversed(seq.block_table):
            self.pool.release(block)
        seq.block_table = []
        seq.block_hashes = []

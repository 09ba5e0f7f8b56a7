"""Decode steps replayed as CUDA graphs: one launch for the whole forward pass.

On a GPU a small model's decode step is bound by launching kernels, not by the GPU: a
SmolLM2-135M step is about 450 kernels (30 layers of norms, products, RoPE, cache writes and
attention) of a few microseconds each, while the bytes it must read (its 270 MB of weights)
take ~60 us at an H100's bandwidth. A CUDA graph records the kernels of one step once and
replays them with a single launch, which removes the host from the step (the "CUDA graph"
decode mode of vLLM and SGLang; PyTorch exposes it as ``torch.cuda.CUDAGraph``).

A graph replays fixed shapes and fixed addresses, so:
- the step's inputs (token ids, positions, cache slots, block tables, lengths) live in static
  device buffers that each step overwrites with one host-to-device copy;
- one graph is captured per (batch bucket, block-table width bucket), lazily, the first time a
  step needs it; a step pads its batch up to the bucket with rows that write their keys and
  values to the cache's scratch block (``KVCache.scratch_block``) and attend to one key there,
  and pads every block table with the scratch block up to the width bucket;
- attention gathers each sequence's keys through its padded block table and masks those past
  its length (and outside a sliding window), so the shapes never depend on the lengths.

Only decode-only steps of dense models run this way (a Mixture of Experts routes tokens with
data-dependent shapes); prefill and mixed steps run eagerly. With ``capture=False`` the same
code runs eagerly on the static buffers, on any device: the tests use it on the CPU to check
the padding and masking against the eager path, token for token.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import torch
from torch import nn

from scalable_ai.infer.kv_cache import KVCache
from scalable_ai.infer.runner import PagedAttentionBackend, decode_attention, visible_keys
from scalable_ai.infer.scheduler import ScheduledSequence

#: Batch sizes a graph is captured for (vLLM pads the same way: small steps, then coarser).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def supports(model: nn.Module) -> bool:
    """Dense models: their decode step has the same kernels whatever the tokens are."""
    return not model.config.n_experts


def bucket_of(n: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket that holds ``n``."""
    return buckets[bisect.bisect_left(buckets, n)]


def width_buckets(max_blocks: int) -> tuple[int, ...]:
    """Block-table widths 1, 2, 4, ... up to one that holds ``max_blocks``."""
    widths = [1]
    while widths[-1] < max_blocks:
        widths.append(widths[-1] * 2)
    return tuple(widths)


class StaticDecodeAttention(PagedAttentionBackend):
    """Paged attention for a padded decode batch whose metadata are device tensors.

    Nothing here reads a tensor's value on the host, so the whole step can be captured.
    """

    def __init__(
        self,
        cache: KVCache,
        slot_mapping: torch.Tensor,  # (B,) where each row's new K/V goes
        block_tables: torch.Tensor,  # (B, W) physical blocks, scratch-padded
        lengths: torch.Tensor,  # (B,) tokens each row attends to, its new one included
        window: int = 0,
    ) -> None:
        self.cache = cache
        self.slot_mapping = slot_mapping
        self.block_tables = block_tables
        self.lengths = lengths
        self.window = window
        self.gather: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None

    def _index(self) -> None:
        """Gather index and mask, made once per step by the first layer that needs them (the
        fused GPU forward reads the tables directly and never does)."""
        block_size = self.cache.spec.block_size
        tables, lengths = self.block_tables, self.lengths
        batch, width = tables.shape
        offsets = torch.arange(block_size, device=tables.device)
        self.gather = (tables[:, :, None] * block_size + offsets).view(batch, -1)
        # each row's query sits at position length - 1 (B, 1, 1, L)
        self.mask = visible_keys(lengths - 1, width * block_size, self.window)[:, None, None]

    def attend_tokens(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        if self.gather is None:
            self._index()
        assert self.gather is not None
        key_store = self.cache.keys[layer_index]
        value_store = self.cache.values[layer_index]
        key_store.index_copy_(0, self.slot_mapping, k)
        value_store.index_copy_(0, self.slot_mapping, v)
        shape = (*self.gather.shape, *key_store.shape[1:])
        flat = self.gather.view(-1)
        keys = key_store.index_select(0, flat).view(shape)
        values = value_store.index_select(0, flat).view(shape)
        return decode_attention(q, keys, values, self.mask)


class DecodeGraphs:
    """Captures and replays decode steps (see the module docstring).

    ``forward(input_ids, positions, backend, logits_indices)`` is the token-major forward
    (``PackedTransformer.forward``, or the model's own through :func:`model_forward`).
    """

    def __init__(
        self,
        forward: Callable[..., torch.Tensor],
        cache: KVCache,
        max_batch: int,
        max_blocks: int,
        window: int = 0,
        capture: bool = True,
    ) -> None:
        self.forward = forward
        self.cache = cache
        self.window = window
        self.capture = capture
        # The largest bucket is the engine's own limit on running sequences.
        self.batch_buckets = (*(b for b in BATCH_BUCKETS if b < max_batch), max_batch)
        self.widths = width_buckets(max_blocks)
        self.device = torch.device(cache.spec.device)
        rows, width = self.batch_buckets[-1], self.widths[-1]
        scratch = cache.scratch_block
        long = {"dtype": torch.long, "device": self.device}
        self.input_ids = torch.zeros(rows, **long)
        self.positions = torch.zeros(rows, **long)
        self.slots = torch.full((rows,), scratch * cache.spec.block_size, **long)
        self.lengths = torch.ones(rows, **long)
        self.tables = torch.full((rows, width), scratch, **long)
        self.rows = torch.arange(rows, **long)
        self.graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self.pool = torch.cuda.graph_pool_handle() if capture else None
        self.num_replays = 0

    def can_run(self, scheduled: list[ScheduledSequence]) -> bool:
        """A decode-only step that fits the largest bucket."""
        if len(scheduled) > self.batch_buckets[-1]:
            return False
        block_size = self.cache.spec.block_size
        for item in scheduled:
            if item.num_new_tokens != 1 or not item.samples:
                return False
            if -(-(item.seq.num_computed + 1) // block_size) > self.widths[-1]:
                return False
        return True

    def clear(self) -> None:
        """Forget every captured graph (the weights they read were replaced).

        New captures take a new memory pool: the old one is kept by PyTorch while any of its
        blocks is still cached, with no graph using it, and capturing into it again fails an
        internal assertion (seen on an H200 with torch 2.11, ``use_count > 0``)."""
        self.graphs.clear()
        if self.capture:
            self.pool = torch.cuda.graph_pool_handle()

    def _step(self, batch: int, width: int) -> torch.Tensor:
        backend = StaticDecodeAttention(
            self.cache,
            self.slots[:batch],
            self.tables[:batch, :width],
            self.lengths[:batch],
            self.window,
        )
        return self.forward(
            self.input_ids[:batch], self.positions[:batch], backend, self.rows[:batch]
        )

    def _load(self, scheduled: list[ScheduledSequence], batch: int, width: int) -> None:
        """Write the step into the static buffers (padding rows point at the scratch block)."""
        block_size = self.cache.spec.block_size
        scratch = self.cache.scratch_block
        n = len(scheduled)
        pad = batch - n
        ids, positions, slots, lengths, tables = [], [], [], [], []
        for item in scheduled:
            seq = item.seq
            position = seq.num_computed
            table = seq.block_table
            ids.append(seq.token_ids[position])
            positions.append(position)
            slots.append(table[position // block_size] * block_size + position % block_size)
            lengths.append(position + 1)
            used = -(-(position + 1) // block_size)
            tables.extend(table[:used])
            tables.extend([scratch] * (width - used))
        ids += [0] * pad
        positions += [0] * pad
        slots += [scratch * block_size] * pad
        lengths += [1] * pad
        tables += [scratch] * (pad * width)
        host = torch.tensor(ids + positions + slots + lengths + tables, dtype=torch.long)
        staged = host.to(self.device, non_blocking=False)
        self.input_ids[:batch].copy_(staged[:batch])
        self.positions[:batch].copy_(staged[batch : 2 * batch])
        self.slots[:batch].copy_(staged[2 * batch : 3 * batch])
        self.lengths[:batch].copy_(staged[3 * batch : 4 * batch])
        self.tables[:batch, :width].copy_(staged[4 * batch :].view(batch, width))

    @torch.inference_mode()
    def run(self, scheduled: list[ScheduledSequence]) -> torch.Tensor:
        """Logits (N, vocab) of the N decodes, in schedule order."""
        n = len(scheduled)
        batch = bucket_of(n, self.batch_buckets)
        block_size = self.cache.spec.block_size
        longest = max(-(-(item.seq.num_computed + 1) // block_size) for item in scheduled)
        width = bucket_of(longest, self.widths)
        self._load(scheduled, batch, width)
        if not self.capture:
            return self._step(batch, width)[:n]
        key = (batch, width)
        if key not in self.graphs:
            self.graphs[key] = self._capture(batch, width)
        graph, output = self.graphs[key]
        graph.replay()
        self.num_replays += 1
        return output[:n]

    def _capture(self, batch: int, width: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        """Warm up on a side stream (lazy library setup must not happen inside a capture),
        then record one step. The warm-up steps run on the real inputs just loaded, so the
        keys and values they write are the ones the replay writes again."""
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(2):
                self._step(batch, width)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool, capture_error_mode="thread_local"):
            output = self._step(batch, width)
        return graph, output


def model_forward(model: nn.Module) -> Callable[..., torch.Tensor]:
    """The model's own ``forward`` in the token-major calling convention."""

    def forward(
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        backend: PagedAttentionBackend,
        logits_indices: torch.Tensor,
    ) -> torch.Tensor:
        return model(
            input_ids[None], positions[None], backend=backend, logits_indices=logits_indices
        )

    return forward

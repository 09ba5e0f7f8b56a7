"""The model runner: one forward pass over a step's mixed prefill and decode tokens.

All scheduled sequences' new tokens are concatenated into one row (B=1, T = the step's tokens)
with per-token positions, so every linear layer runs once as a matrix-matrix product over the
whole step: this is what makes continuous batching pay on a CPU, where one token's
matrix-vector product is bound by memory bandwidth and many tokens share each weight read.
Only attention needs to know which token belongs to which sequence; the
:class:`PagedAttentionBackend` holds that segmentation and the block tables for the step.

Attention per layer:
- the step's new keys and values are written to their slots with one ``index_copy_``;
- every single-token query (a decode) is batched into one ``scaled_dot_product_attention``
  call over its sequence's keys, gathered from the paged store with one ``index_select`` into
  a padded ``(B, L_max)`` layout with a padding mask;
- each multi-token chunk (a prefill or a prefill chunk) attends causally, offset by the
  tokens already cached, to its sequence's cached plus new keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.infer import cpu
from scalable_ai.infer.cpu.native import NativeForward
from scalable_ai.infer.forward_paths import NATIVE_KINDS, choose_path, model_dtype
from scalable_ai.infer.kv_cache import KVCache
from scalable_ai.infer.packed_model import (
    PACKED_PROJECTIONS,
    PackedTransformer,
    onednn_bf16_available,
)
from scalable_ai.infer.packed_model import supports as packed_supports
from scalable_ai.infer.quant import QuantizedLinear
from scalable_ai.infer.scheduler import ScheduledSequence
from scalable_ai.settings import get_settings

if TYPE_CHECKING:
    from scalable_ai.infer.cuda_graphs import DecodeGraphs
    from scalable_ai.infer.lora import LoraSet


@dataclass
class PrefillSegment:
    """A multi-token chunk: queries ``[start, end)`` of the step, context slots ``slots``."""

    start: int
    end: int
    slots: torch.Tensor | None  # None: nothing cached before, attend to the new keys only
    mask: torch.Tensor | None  # (t, L) bool, True = may attend; None = plain causal


@dataclass
class StepLayout:
    """What attention needs to know about a step, built once and used by every layer."""

    slot_mapping: torch.Tensor  # (T,) where each new token's K/V goes
    num_decodes: int
    decode_slots: torch.Tensor | None  # (B_d, L_max) gather index into the flat store
    decode_mask: torch.Tensor | None  # (B_d, 1, 1, L_max) bool, None when no padding
    prefills: list[PrefillSegment]

    def to(self, device: torch.device) -> StepLayout:
        """The same layout with every tensor on ``device`` (built on the host, used there)."""

        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=True)

        return StepLayout(
            slot_mapping=self.slot_mapping.to(device, non_blocking=True),
            num_decodes=self.num_decodes,
            decode_slots=move(self.decode_slots),
            decode_mask=move(self.decode_mask),
            prefills=[
                PrefillSegment(p.start, p.end, move(p.slots), move(p.mask)) for p in self.prefills
            ],
        )


def _slots_of(block_table: list[int], length: int, block_size: int) -> torch.Tensor:
    """Flat slot index of a sequence's first ``length`` tokens."""
    blocks = torch.tensor(block_table[: -(-length // block_size)], dtype=torch.long)
    return (blocks[:, None] * block_size + torch.arange(block_size)).flatten()[:length]


def visible_keys(query_positions: torch.Tensor, length: int, window: int) -> torch.Tensor:
    """(Tq, length) bool: key j is visible to a query at position p iff ``0 <= p - j`` and,
    with a sliding window W (Mistral, Longformer), ``p - j < W``."""
    distance = query_positions[:, None] - torch.arange(length, device=query_positions.device)
    visible = distance >= 0
    if window > 0:
        visible &= distance < window
    return visible


def build_layout(
    scheduled: list[ScheduledSequence],
    block_size: int,
    window: int = 0,
    device: torch.device | None = None,
) -> StepLayout:
    """Slot mapping and attention metadata for a step (decodes must come first)."""
    slot_parts: list[torch.Tensor] = []
    decode_tables: list[list[int]] = []
    decode_lengths: list[int] = []
    prefills: list[PrefillSegment] = []
    position = 0
    for item in scheduled:
        seq, start, count = item.seq, item.seq.num_computed, item.num_new_tokens
        total = start + count
        slots = _slots_of(seq.block_table, total, block_size)
        slot_parts.append(slots[start:])
        if count == 1:
            decode_tables.append(seq.block_table[: -(-total // block_size)])
            decode_lengths.append(total)
        elif start == 0:
            mask = visible_keys(torch.arange(count), count, window) if 0 < window < count else None
            prefills.append(PrefillSegment(position, position + count, None, mask))
        else:
            mask = visible_keys(torch.arange(start, total), total, window)
            prefills.append(PrefillSegment(position, position + count, slots, mask))
        position += count
    decode_slots = decode_mask = None
    if decode_tables:
        width = max(len(t) for t in decode_tables)
        tables = torch.tensor([t + [0] * (width - len(t)) for t in decode_tables])
        max_length = max(decode_lengths)
        decode_slots = (tables[:, :, None] * block_size + torch.arange(block_size)).flatten(1)
        decode_slots = decode_slots[:, :max_length].contiguous()
        if min(decode_lengths) != max_length or 0 < window < max_length:
            lengths = torch.tensor(decode_lengths)
            decode_mask = visible_keys(lengths - 1, max_length, window)[:, None, None]
    layout = StepLayout(
        slot_mapping=torch.cat(slot_parts),
        num_decodes=len(decode_tables),
        decode_slots=decode_slots,
        decode_mask=decode_mask,
        prefills=prefills,
    )
    return layout if device is None or device.type == "cpu" else layout.to(device)


def decode_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """One query per sequence: q (B, Hq, D) over keys/values (B, L, Hkv, D) -> (B, Hq, D).

    Written as two small batched products in f32 rather than ``scaled_dot_product_attention``,
    whose CPU kernel is tiled for long queries and spent ~0.9 ms per layer on 16 one-token
    queries here (15% of a decode step). Query head ``h`` reads key/value head ``h // G``
    (grouped-query attention, as ``enable_gqa`` does).
    """
    batch, n_heads, head_dim = q.shape
    n_kv_heads = keys.shape[2]
    grouped = q.reshape(batch, n_kv_heads, n_heads // n_kv_heads, head_dim).float()
    scores = grouped @ keys.permute(0, 2, 3, 1).float()  # (B, Hkv, G, L)
    scores = scores * head_dim**-0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    out = scores.softmax(dim=-1) @ values.transpose(1, 2).float()  # (B, Hkv, G, D)
    return out.reshape(batch, n_heads, head_dim).to(q.dtype)


class PagedAttentionBackend:
    """The model's attention backend for one step: writes new K/V, attends over the pages."""

    def __init__(self, cache: KVCache, layout: StepLayout) -> None:
        self.cache = cache
        self.layout = layout

    def attend(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        """The model's seam: q (1, Hq, T, D), k/v (1, Hkv, T, D) -> (1, Hq, T, D)."""
        out = self.attend_tokens(
            layer_index, q[0].transpose(0, 1), k[0].transpose(0, 1), v[0].transpose(0, 1)
        )
        return out.transpose(0, 1).unsqueeze(0)

    def attend_tokens(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        """Token-major attention: q (T, Hq, D), k/v (T, Hkv, D) -> (T, Hq, D)."""
        layout = self.layout
        key_store = self.cache.keys[layer_index]
        value_store = self.cache.values[layer_index]
        key_store.index_copy_(0, layout.slot_mapping, k)
        value_store.index_copy_(0, layout.slot_mapping, v)
        parts: list[torch.Tensor] = []
        n = layout.num_decodes
        if n:
            assert layout.decode_slots is not None
            shape = (*layout.decode_slots.shape, *key_store.shape[1:])
            flat = layout.decode_slots.view(-1)
            keys = key_store.index_select(0, flat).view(shape)
            values = value_store.index_select(0, flat).view(shape)
            parts.append(decode_attention(q[:n], keys, values, layout.decode_mask))
        for segment in layout.prefills:
            seg_q = q[segment.start : segment.end].transpose(0, 1).unsqueeze(0)
            if segment.slots is None:
                seg_k = k[segment.start : segment.end].transpose(0, 1).unsqueeze(0)
                seg_v = v[segment.start : segment.end].transpose(0, 1).unsqueeze(0)
                out = F.scaled_dot_product_attention(
                    seg_q,
                    seg_k,
                    seg_v,
                    attn_mask=segment.mask,
                    is_causal=segment.mask is None,
                    enable_gqa=True,
                )
            else:
                seg_k = key_store.index_select(0, segment.slots).transpose(0, 1).unsqueeze(0)
                seg_v = value_store.index_select(0, segment.slots).transpose(0, 1).unsqueeze(0)
                out = F.scaled_dot_product_attention(
                    seg_q, seg_k, seg_v, attn_mask=segment.mask, enable_gqa=True
                )
            parts.append(out[0].transpose(0, 1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)


def decode_graphs_support(model: nn.Module) -> bool:
    """Whether ``cuda_graphs`` can capture this model's decode step (imported late: that
    module builds on this one)."""
    from scalable_ai.infer.cuda_graphs import supports

    return supports(model)


class ModelRunner:
    """Runs a scheduled step through the model and returns the logits of sampling rows.

    ``forward_path`` is one of :data:`~scalable_ai.infer.forward_paths.PATHS` or ``auto``
    (the table in ``forward_paths``, for this CPU and dtype; ``SAI_FORWARD_PATH`` overrides
    ``auto``): a native path runs the whole step in C
    (:class:`~scalable_ai.infer.cpu.native.NativeForward`), a packed path through
    :class:`PackedTransformer` (fused projections, token-major), ``model`` through the
    model's own ``forward`` with the paged backend. ``path`` says which one runs.
    """

    def __init__(
        self,
        model: nn.Module,
        cache: KVCache,
        forward_path: str = "auto",
        cuda_graphs: bool = True,
        max_num_seqs: int = 64,
        max_model_len: int = 2048,
    ) -> None:
        self.model = model
        self.cache = cache
        self.device = torch.device(cache.spec.device)
        if forward_path == "auto":
            forward_path = get_settings().forward_path
        self.path = choose_path(model, self.device, forward_path)
        self.native = (
            NativeForward(model, cache, lib=cpu.library_for(NATIVE_KINDS[self.path]))
            if self.path in NATIVE_KINDS
            else None
        )
        self.packed = (
            PackedTransformer(
                model,
                onednn=self.path.startswith("packed-onednn"),
                half_for_single_token=self.path == "packed-onednn-f16",
            )
            if self.path.startswith("packed")
            else None
        )
        #: LoRA adapters (``lora.py``): a step with adapter rows runs a packed forward that
        #: adds their terms after each product (``lora_forward``), else the model's own.
        self.lora: LoraSet | None = None
        self._lora_packed: PackedTransformer | None = None
        self._lora_packed_tried = False
        self.graphs: DecodeGraphs | None = None
        if cuda_graphs and self.device.type == "cuda" and decode_graphs_support(model):
            self.graphs = self.decode_graphs(max_num_seqs, max_model_len, capture=True)

    def decode_graphs(
        self, max_num_seqs: int, max_model_len: int, capture: bool, fused: bool | None = None
    ) -> DecodeGraphs:
        """The decode-step graphs for this runner's forward (``capture=False``: run eagerly
        on the static buffers, which is how the tests check them on a CPU). ``fused``: the
        Triton decode forward (``infer/gpu``), by default where its kernels run."""
        from scalable_ai.infer import gpu
        from scalable_ai.infer.cuda_graphs import DecodeGraphs, model_forward
        from scalable_ai.infer.gpu.decode import FusedDecode
        from scalable_ai.infer.gpu.decode import supports as fused_supports

        forward: Callable[..., torch.Tensor]
        if (
            self.packed is not None
            and fused_supports(self.packed, self.cache)
            and (gpu.available(self.device) if fused is None else fused)
        ):
            forward = FusedDecode(self.packed, self.cache)
        elif self.packed is not None:
            forward = self.packed.forward
        else:
            forward = model_forward(self.model)
        return DecodeGraphs(
            forward,
            self.cache,
            max_num_seqs,
            -(-max_model_len // self.cache.spec.block_size),
            getattr(self.model.config, "sliding_window", 0),
            capture=capture,
        )

    def weights_changed(self) -> None:
        if self.graphs is not None:
            self.graphs.clear()
        if self.native is not None:
            self.native.repack()
        if self.packed is not None:
            self.packed.repack()
        if self._lora_packed is not None:
            self._lora_packed.repack()

    def lora_forward(self) -> PackedTransformer | None:
        """The packed forward a step with adapter rows runs, or None for the model's own.

        The packed path's own; on the native path (whose C forward has no place to add an
        adapter's term) a oneDNN-packed one for bf16, built at the first adapter step: one
        more copy of the projections' weights, for 1.5x the model forward's decode speed
        (SmolLM2, 8 rows, AMD EPYC: 271 vs 179 tokens/s). Of an int8/int4 base the copy holds
        the dequantized weights (``QuantizedLinear.weight``: the same numbers its forward
        computes, without dequantizing every projection on every step). None when the pack
        does not cover the model (Mixture of Experts, ...) or an adapter adapts a module
        outside the seven projections of each layer."""
        assert self.lora is not None
        if not all(PACKED_PROJECTIONS.fullmatch(name) for name in self.lora.module_names()):
            return None
        if self.packed is not None:
            return self.packed
        if not self._lora_packed_tried:
            self._lora_packed_tried = True
            projections = (
                module
                for name, module in self.model.named_modules()
                if PACKED_PROJECTIONS.fullmatch(name)
            )
            if (
                self.native is not None
                and packed_supports(self.model)
                and all(type(module) in (nn.Linear, QuantizedLinear) for module in projections)
            ):
                on_cpu_bf16 = model_dtype(self.model) == torch.bfloat16
                self._lora_packed = PackedTransformer(
                    self.model, onednn=on_cpu_bf16 and onednn_bf16_available()
                )
        return self._lora_packed

    def execute_native(self, scheduled: list[ScheduledSequence]) -> torch.Tensor:
        """The step as one flat int list for the C forward (``NativeForward.forward_flat``)."""
        assert self.native is not None
        block_size = self.cache.spec.block_size
        tables = [item.seq.block_table for item in scheduled]
        width = max(map(len, tables))
        token_ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        owners: list[int] = []
        logits_rows: list[int] = []
        for row, item in enumerate(scheduled):
            seq, count = item.seq, item.num_new_tokens
            start, table = seq.num_computed, tables[row]
            if count == 1:  # a decode: most rows of most steps
                token_ids.append(seq.token_ids[start])
                positions.append(start)
                slots.append(table[start // block_size] * block_size + start % block_size)
                owners.append(row)
            else:
                end = start + count
                token_ids += seq.token_ids[start:end]
                positions += range(start, end)
                slots += [
                    table[p // block_size] * block_size + p % block_size for p in range(start, end)
                ]
                owners += [row] * count
            if start + count == len(seq.token_ids):  # item.samples
                end_row = len(token_ids)
                logits_rows.extend(range(end_row - item.num_logits, end_row))
        flat = token_ids + positions + slots + owners + logits_rows
        for table in tables:
            flat += table
            if len(table) < width:
                flat += [0] * (width - len(table))
        # Token ids were checked against the vocabulary when each request was added
        # (LLMEngine.add_request); the C code indexes the embedding with them unchecked.
        return self.native.forward_flat(flat, len(token_ids), len(logits_rows), width)

    @torch.inference_mode()
    def execute(self, scheduled: list[ScheduledSequence]) -> torch.Tensor:
        """Logits (N, vocab) for the N scheduled sequences that sample, in schedule order
        (``num_logits`` rows for a sequence checking speculative drafts)."""
        if self.lora is not None and any(item.seq.lora_id for item in scheduled):
            return self.execute_torch(scheduled, with_lora=True)
        if self.native is not None:
            return self.execute_native(scheduled)
        if self.graphs is not None and self.graphs.can_run(scheduled):
            return self.graphs.run(scheduled)
        return self.execute_torch(scheduled)

    def execute_torch(
        self, scheduled: list[ScheduledSequence], with_lora: bool = False
    ) -> torch.Tensor:
        """The step through PyTorch: the packed forward, or the model's own; with
        ``with_lora``, LoRA adapters' terms are added to their rows (``lora_forward``)."""
        token_ids: list[int] = []
        positions: list[int] = []
        logits_indices: list[int] = []
        lora_rows: dict[int, list[int]] = {}
        for item in scheduled:
            start, end = item.seq.num_computed, item.seq.num_computed + item.num_new_tokens
            if item.seq.lora_id:
                first = len(token_ids)
                lora_rows.setdefault(item.seq.lora_id, []).extend(range(first, first + end - start))
            token_ids.extend(item.seq.token_ids[start:end])
            positions.extend(range(start, end))
            if item.samples:
                logits_indices.extend(range(len(token_ids) - item.num_logits, len(token_ids)))
        window = getattr(self.model.config, "sliding_window", 0)
        layout = build_layout(scheduled, self.cache.spec.block_size, window, self.device)
        backend = PagedAttentionBackend(self.cache, layout)
        device = self.device
        indices = torch.tensor(logits_indices, dtype=torch.long, device=device)
        if self.packed is not None and not with_lora:
            return self.packed.forward(
                torch.tensor(token_ids, device=device),
                torch.tensor(positions, device=device),
                backend,
                indices,
            )
        if with_lora:
            assert self.lora is not None
            packed = self.lora_forward()
            with self.lora.step(lora_rows, device):
                if packed is not None:
                    return packed.forward(
                        torch.tensor(token_ids, device=device),
                        torch.tensor(positions, device=device),
                        backend,
                        indices,
                        lora=self.lora,
                    )
                return self.model(
                    torch.tensor([token_ids], device=device),
                    torch.tensor([positions], device=device),
                    backend=backend,
                    logits_indices=indices,
                )
        return self.model(
            torch.tensor([token_ids], device=device),
            torch.tensor([positions], device=device),
            backend=backend,
            logits_indices=indices,
        )

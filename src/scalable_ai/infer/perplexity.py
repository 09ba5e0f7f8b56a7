"""Perplexity of a served model on our corpus's held-out text, through the forward that serves it.

Quality of a quantized model is measured, not assumed (lecture 17): the same rows of held-out
text (documents ``data.bpe.is_held_out`` puts in the held-out split of the Debian-package
corpus, ``data.corpus``), scored by the forward path the engine would run, so the native
int8/int4 kernels (with their int8 activations) are what is measured. Calibration text for
AWQ/GPTQ comes from the other split of the same corpus: the two never share a document.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.errors import UserError

HELD_OUT_FRACTION = 0.1


def corpus_rows(
    tokenizer: object,
    split: str,
    rows: int,
    length: int,
    max_bytes: int = 4 << 20,
    blend: str | None = None,
    root: Path = Path("/"),
) -> list[torch.Tensor]:
    """``rows`` token rows of ``length`` from the corpus split ``held_out`` or
    ``calibration`` (documents concatenated in corpus order, each ending with a newline),
    read from the Debian packages installed under ``root``."""
    from scalable_ai.data.bpe import is_held_out
    from scalable_ai.data.corpus import DEFAULT_BLEND, iter_corpus

    if split not in ("held_out", "calibration"):
        raise UserError("split must be held_out or calibration", field="split")
    want = rows * length
    ids: list[int] = []
    for document in iter_corpus(blend or DEFAULT_BLEND, max_bytes=max_bytes, root=root):
        if is_held_out(document.id, HELD_OUT_FRACTION) != (split == "held_out"):
            continue
        ids += tokenizer.encode(document.text + "\n")  # type: ignore[attr-defined]
        if len(ids) >= want:
            break
    if len(ids) < want:
        raise UserError(
            f"the corpus gave {len(ids)} {split} tokens, fewer than {rows} x {length}",
            field="max_bytes",
        )
    flat = torch.tensor(ids[:want], dtype=torch.int64)
    return list(flat.view(rows, length))


@torch.no_grad()
def perplexity(model: nn.Module, rows: list[torch.Tensor], forward_path: str = "auto") -> float:
    """exp(mean next-token negative log-likelihood) over the rows, every position scored.

    Each row runs as one prefill step of the engine's forward path for this model (the
    native C forward when it is chosen, else the model's own forward)."""
    from scalable_ai.infer.cpu import library_for
    from scalable_ai.infer.cpu.native import NativeForward
    from scalable_ai.infer.forward_paths import NATIVE_KINDS, choose_path
    from scalable_ai.infer.kv_cache import KVCache, KVCacheSpec

    device = model.embed.weight.device
    path = choose_path(model, device, forward_path)
    length = max(len(row) for row in rows)
    native = None
    if path in NATIVE_KINDS:
        config = model.config
        block = 16
        blocks = -(-length // block)
        cache = KVCache(
            KVCacheSpec(
                config.n_layers,
                config.n_kv_heads,
                config.head_size,
                blocks,
                block,
                dtype=model.embed.weight.dtype,
            )
        )
        native = NativeForward(model, cache, lib=library_for(NATIVE_KINDS[path]))
    total, count = 0.0, 0
    for row in rows:
        n = len(row)
        if native is not None:
            positions = list(range(n))
            tables = list(range(-(-n // 16)))
            flat = [*row.tolist(), *positions, *positions, *([0] * n), *positions, *tables]
            logits = native.forward_flat(flat, n, n, len(tables))
        else:
            logits = model(row.reshape(1, -1).to(device))[0].float().cpu()
        loss = F.cross_entropy(logits[:-1], row[1:], reduction="sum")
        total += float(loss)
        count += n - 1
    if native is not None:
        native.close()
    return math.exp(total / count)


def relative_change(value: float, reference: float) -> float:
    return float(np.float64(value) / np.float64(reference) - 1.0)

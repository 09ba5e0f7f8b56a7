"""Part 2 (lecture L6: the data pipeline): documents packed into training windows, and the
windows shared out among data-parallel ranks.

Pre-training does not pad: documents are concatenated into one token stream, each followed
by the end-of-text id (so the model learns where documents end), and the stream is cut into
windows of ``seq_len + 1`` tokens with stride ``seq_len`` (input = window[:-1], target =
window[1:]; consecutive windows share one token so no next-token prediction is lost). The
incomplete tail is dropped. This is what the lab stack's loader does on its token shards
(``scalable_ai/data/loader.py``).

Each epoch visits every window once, in an order drawn from ``(seed, epoch)`` alone, so
every rank computes the same order without talking to the others; at each step the next
``world_size * batch_size`` windows of the order are taken and rank ``r`` keeps the ``r``-th
block of ``batch_size``. Together the ranks read what one process with
``world_size * batch_size`` rows would have read.
"""

from __future__ import annotations

import torch


def pack_documents(documents: list[list[int]], seq_len: int, eos_id: int) -> torch.Tensor:
    """A ``(windows, seq_len + 1)`` int64 tensor of the packed stream's windows."""
    stream: list[int] = []
    for document in documents:
        stream.extend(document)
        stream.append(eos_id)
    count = (len(stream) - 1) // seq_len if len(stream) > seq_len else 0
    tokens = torch.tensor(stream, dtype=torch.long)
    return (
        torch.stack([tokens[i * seq_len : i * seq_len + seq_len + 1] for i in range(count)])
        if count
        else torch.empty(0, seq_len + 1, dtype=torch.long)
    )


def epoch_order(num_windows: int, seed: int, epoch: int) -> list[int]:
    """A permutation of the windows that depends only on ``(seed, epoch)``."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_windows, generator=generator).tolist()


def rank_batches(
    num_windows: int, batch_size: int, rank: int, world_size: int, seed: int, epoch: int
) -> list[list[int]]:
    """The window indices rank ``rank`` trains on at each step of one epoch (only whole
    global batches: the epoch's last incomplete one is dropped)."""
    order = epoch_order(num_windows, seed, epoch)
    global_batch = batch_size * world_size
    steps = num_windows // global_batch
    return [
        order[
            step * global_batch + rank * batch_size : step * global_batch + (rank + 1) * batch_size
        ]
        for step in range(steps)
    ]

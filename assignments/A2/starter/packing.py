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
    raise NotImplementedError("TODO(A2.4): pack_documents")


def epoch_order(num_windows: int, seed: int, epoch: int) -> list[int]:
    """A permutation of the windows that depends only on ``(seed, epoch)``."""
    # TODO(A2.5): a torch.Generator seeded from (seed, epoch) and torch.randperm.
    raise NotImplementedError("TODO(A2.5): epoch_order")


def rank_batches(
    num_windows: int, batch_size: int, rank: int, world_size: int, seed: int, epoch: int
) -> list[list[int]]:
    """The window indices rank ``rank`` trains on at each step of one epoch (only whole
    global batches: the epoch's last incomplete one is dropped)."""
    raise NotImplementedError("TODO(A2.5): rank_batches")

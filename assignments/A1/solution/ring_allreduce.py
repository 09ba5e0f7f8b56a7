"""Part 1a (lecture: data parallelism): ring all-reduce from point-to-point messages.

The ring algorithm (Patarasuk and Yuan 2009; what NCCL and Horovod use for large buffers)
cuts the tensor into ``N`` chunks and passes them around a ring of ``N`` ranks. In the
**reduce-scatter** phase (``N - 1`` steps) each rank sends one chunk to its right neighbour
and adds the chunk it receives from its left one, so that afterwards rank ``r`` holds the
full sum of chunk ``(r + 1) mod N``. In the **all-gather** phase (``N - 1`` more steps) the
finished chunks travel once more around the ring. Every rank sends ``2 (N - 1) / N`` of the
tensor in total, whatever ``N`` is: the bandwidth-optimal cost the lecture derives.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def _exchange(send: torch.Tensor, receive: torch.Tensor, right: int, left: int) -> None:
    """Send ``send`` to the right neighbour while receiving ``receive`` from the left one."""
    outgoing = dist.isend(send.contiguous(), right)
    dist.recv(receive, left)
    outgoing.wait()


def ring_all_reduce(tensor: torch.Tensor) -> None:
    """Sum ``tensor`` over every rank of the default group, in place, with a ring.

    Works for any shape and any number of elements (chunks may be uneven or empty); uses
    only ``dist.isend``/``dist.irecv``/``dist.send``/``dist.recv``, never a collective.
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    if world == 1:
        return
    flat = tensor.view(-1) if tensor.is_contiguous() else tensor.reshape(-1).clone()
    chunks = list(torch.tensor_split(flat, world))
    right, left = (rank + 1) % world, (rank - 1) % world
    buffer = torch.empty(max(chunk.numel() for chunk in chunks), dtype=flat.dtype)
    # Reduce-scatter: at step s, send chunk (rank - s) and add into chunk (rank - s - 1).
    for step in range(world - 1):
        send_index = (rank - step) % world
        receive_index = (rank - step - 1) % world
        incoming = buffer[: chunks[receive_index].numel()]
        _exchange(chunks[send_index], incoming, right, left)
        chunks[receive_index].add_(incoming)
    # All-gather: rank r now owns the sum of chunk (r + 1); pass the sums around.
    for step in range(world - 1):
        send_index = (rank + 1 - step) % world
        receive_index = (rank - step) % world
        incoming = buffer[: chunks[receive_index].numel()]
        _exchange(chunks[send_index], incoming, right, left)
        chunks[receive_index].copy_(incoming)
    if not tensor.is_contiguous():
        tensor.copy_(flat.view_as(tensor))

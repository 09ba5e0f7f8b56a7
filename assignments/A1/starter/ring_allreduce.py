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


def ring_all_reduce(tensor: torch.Tensor) -> None:
    """Sum ``tensor`` over every rank of the default group, in place, with a ring.

    Works for any shape and any number of elements (chunks may be uneven or empty); uses
    only ``dist.isend``/``dist.irecv``/``dist.send``/``dist.recv``, never a collective.
    """
    # TODO(A1.1): the ring. Hints:
    #   * ``torch.tensor_split(tensor.view(-1), world)`` gives N views (uneven, maybe empty);
    #     writing into a view writes into the tensor.
    #   * rank r sends to (r + 1) % N and receives from (r - 1) % N. A blocking send to the
    #     right while the right neighbour also sends first can deadlock: start the send with
    #     ``dist.isend`` (it returns a request to ``.wait()``), then ``dist.recv``.
    #   * reduce-scatter: N - 1 steps, at step s send chunk (r - s) and add the received
    #     chunk into chunk (r - s - 1); all-gather: N - 1 steps passing the finished sums.
    #   * call them as ``dist.isend(...)``: the tests count the bytes you send.
    raise NotImplementedError("TODO(A1.1): ring_all_reduce")

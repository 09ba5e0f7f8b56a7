"""Part 1b (lecture: data parallelism): gradient buckets and a data-parallel wrapper that
overlaps their all-reduce with the backward pass.

PyTorch's DDP (Li et al., VLDB 2020) does not all-reduce one tensor per parameter (too many
small messages, each paying the latency) nor one tensor for the whole model after backward
(no overlap). It groups parameters into **buckets** of about ``bucket_bytes`` in the order
their gradients become ready, which is roughly the reverse of the order they were registered
(backward runs from the last layer to the first), and starts a bucket's all-reduce, without
waiting for it, as soon as its last gradient is ready. Communication of the last layers then
runs while the first layers are still computing their gradients.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def build_buckets(parameters: list[nn.Parameter], bucket_bytes: int) -> list[list[int]]:
    """Indices into ``parameters``, grouped into buckets in backward order (last parameter
    first). A bucket takes parameters while its total size stays within ``bucket_bytes``; a
    parameter larger than that gets a bucket of its own. Parameters without ``requires_grad``
    are left out."""
    buckets: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in reversed(range(len(parameters))):
        parameter = parameters[index]
        if not parameter.requires_grad:
            continue
        nbytes = parameter.numel() * parameter.element_size()
        if current and size + nbytes > bucket_bytes:
            buckets.append(current)
            current, size = [], 0
        current.append(index)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


class DataParallel(nn.Module):
    """``module`` replicated on every rank of the default group: the same start (rank 0's
    parameters are broadcast), different rows of the batch, averaged gradients.

    After ``loss.backward()`` call :meth:`finish_gradient_sync`; then every rank's ``.grad``
    holds the average over ranks, as if one process had run the whole batch.
    """

    def __init__(self, module: nn.Module, bucket_bytes: int = 25 * 2**20) -> None:
        super().__init__()
        self.module = module
        self.world_size = dist.get_world_size()
        self.parameters_list = [p for p in module.parameters()]
        with torch.no_grad():
            for parameter in self.parameters_list:
                dist.broadcast(parameter, src=0)
        self.buckets = build_buckets(self.parameters_list, bucket_bytes)
        self._bucket_of = {i: b for b, bucket in enumerate(self.buckets) for i in bucket}
        self._pending: list[tuple[dist.Work, torch.Tensor, list[int]]] = []
        self._ready = [0] * len(self.buckets)
        # PLANTED: no gradient hooks; every gradient is all-reduced on its own after backward.

    def _hook(self, index: int):  # type: ignore[no-untyped-def]
        def on_gradient(parameter: nn.Parameter) -> None:
            bucket = self._bucket_of[index]
            self._ready[bucket] += 1
            if self._ready[bucket] == len(self.buckets[bucket]):
                self._launch(bucket)

        return on_gradient

    def _launch(self, bucket: int) -> None:
        """All-reduce one bucket as one flat buffer, without waiting for it."""
        members = self.buckets[bucket]
        flat = torch.cat([self.parameters_list[i].grad.reshape(-1) for i in members])
        work = dist.all_reduce(flat, async_op=True)
        self._pending.append((work, flat, members))

    def forward(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.module(*args, **kwargs)

    def finish_gradient_sync(self) -> None:
        """Wait for every bucket's all-reduce and write the averaged gradients back."""
        for parameter in self.parameters_list:  # PLANTED: one message per parameter, no overlap
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= self.world_size
        return
        for work, flat, members in self._pending:
            work.wait()
            flat /= self.world_size
            offset = 0
            for i in members:
                grad = self.parameters_list[i].grad
                grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
                offset += grad.numel()
        self._pending.clear()
        self._ready = [0] * len(self.buckets)

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
    raise NotImplementedError("TODO(A1.2): build_buckets")


class DataParallel(nn.Module):
    """``module`` replicated on every rank of the default group: the same start (rank 0's
    parameters are broadcast), different rows of the batch, averaged gradients.

    After ``loss.backward()`` call :meth:`finish_gradient_sync`; then every rank's ``.grad``
    holds the average over ranks, as if one process had run the whole batch.
    """

    def __init__(self, module: nn.Module, bucket_bytes: int = 25 * 2**20) -> None:
        super().__init__()
        self.module = module
        # TODO(A1.3): broadcast rank 0's parameters (``dist.broadcast``), build the buckets,
        #   and register a hook on every trainable parameter
        #   (``parameter.register_post_accumulate_grad_hook``: it runs when that parameter's
        #   ``.grad`` is final). When a bucket's last gradient is ready, flatten the bucket's
        #   gradients into one tensor and start ``dist.all_reduce(flat, async_op=True)``
        #   without waiting: the tests check one all-reduce per bucket, all started during
        #   backward. Call collectives as ``dist.all_reduce(...)`` (the tests count them).
        raise NotImplementedError("TODO(A1.3): DataParallel.__init__")

    def forward(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.module(*args, **kwargs)

    def finish_gradient_sync(self) -> None:
        """Wait for every bucket's all-reduce and write the averaged gradients back."""
        # TODO(A1.3): wait for each started all-reduce, divide by the world size, copy each
        #   slice back into its parameter's ``.grad``, and get ready for the next step.
        raise NotImplementedError("TODO(A1.3): finish_gradient_sync")

"""Context parallel: the sequence split over ``cp`` ranks, for contexts too long for one.

Every layer except attention works token by token, so each rank simply holds ``T / cp``
tokens. Attention needs every earlier key: each rank all-gathers the keys and values of its
``cp`` group (differentiable: the backward reduce-scatters their gradients) and attends its
own queries to them under the causal mask of the tokens' true positions. This is the
all-gather form of context parallelism the Llama 3 paper (Dubey et al. 2024, section 3.3.2)
chose over ring attention (Liu et al. 2023) for GQA models, where keys and values are small
next to queries: the same memory saving for activations outside attention, one collective
per layer instead of ``cp - 1`` ring steps. (PyTorch's own experimental ``context_parallel``
dispatches the fused CUDA attention kernels to a ring; it was not tried on the CPU here, and
this backend needs nothing but the model's existing seam.)

Load balance: with a causal mask, late tokens attend to more keys. The sequence is cut into
``2 x cp`` chunks and rank ``i`` takes chunks ``i`` and ``2cp - 1 - i`` (one early, one late),
so every rank does the same work (Llama 3; also Megatron-LM's CP).

The model is reached through its attention-backend seam (``Transformer.forward(...,
positions, backend)``): the rank's positions drive RoPE and this backend does the gather.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributed._functional_collectives import all_gather_single_autograd
from torch.distributed.device_mesh import DeviceMesh

from scalable_ai.model.attention import sliding_window_mask


def chunk_order(cp: int) -> list[int]:
    """Chunk indices in rank order: rank i holds chunks i and 2cp-1-i."""
    return [chunk for rank in range(cp) for chunk in (rank, 2 * cp - 1 - rank)]


def shard_sequence(tensor: torch.Tensor, rank: int, cp: int, dim: int = 1) -> torch.Tensor:
    """This rank's two load-balanced chunks of ``tensor`` along ``dim``, concatenated."""
    chunks = tensor.chunk(2 * cp, dim=dim)
    return torch.cat((chunks[rank], chunks[2 * cp - 1 - rank]), dim=dim)


def unshard_sequence(shards: list[torch.Tensor], dim: int = 1) -> torch.Tensor:
    """Inverse of :func:`shard_sequence` given every rank's shard in rank order."""
    cp = len(shards)
    pieces: dict[int, torch.Tensor] = {}
    for rank, shard in enumerate(shards):
        first, second = shard.chunk(2, dim=dim)
        pieces[rank], pieces[2 * cp - 1 - rank] = first, second
    return torch.cat([pieces[i] for i in range(2 * cp)], dim=dim)


class ContextParallelAttention:
    """The attention backend of one context-parallel rank (see the module docstring)."""

    def __init__(self, cp_mesh: DeviceMesh, seq_len: int, sliding_window: int = 0) -> None:
        self.mesh = cp_mesh
        self.cp = cp_mesh.size()
        self.rank = cp_mesh.get_local_rank()
        full = torch.arange(seq_len)
        self.positions = shard_sequence(full, self.rank, self.cp, dim=0)
        gathered = torch.cat([shard_sequence(full, r, self.cp, dim=0) for r in range(self.cp)])
        self.mask = sliding_window_mask(self.positions, gathered, sliding_window)

    def attend(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        group = self.mesh.get_group()
        k_all = all_gather_single_autograd(k.contiguous(), gather_dim=2, group=group)
        v_all = all_gather_single_autograd(v.contiguous(), gather_dim=2, group=group)
        mask = self.mask.to(q.device)
        return F.scaled_dot_product_attention(
            q, k_all, v_all, attn_mask=mask, enable_gqa=q.shape[1] != k.shape[1]
        )

    def batch_positions(self, batch: int, device: torch.device) -> torch.Tensor:
        return self.positions.to(device).expand(batch, -1)

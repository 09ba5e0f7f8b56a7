"""Expert parallel (GShard, Lepikhin et al. 2020; Switch Transformer, Fedus et al. 2021):
each of ``ep`` ranks holds ``n_experts / ep`` experts of every MoE layer, and tokens travel
to the rank of their expert and back with two all-to-alls.

Per layer and step, on each rank:
1. route the rank's own tokens (top-k, the same router as one process);
2. sort the (token, expert) assignments by expert, so those for rank r are contiguous;
   exchange how many go where (a small all-to-all of counts), then the token vectors
   (``all_to_all_single``, differentiable: its backward is the reverse all-to-all);
3. regroup the received rows by local expert and run all local experts at once as batched
   matmuls, exactly as :class:`~scalable_ai.model.moe.MixtureOfExperts` does;
4. send the outputs back (the second all-to-all) and combine them with the router weights.

Expert weights are DTensors sharded on the expert axis (``Shard(0)``) of the ``ep`` mesh, so
a distributed checkpoint stores whole layers. Their gradient arrives summed over the ``ep``
ranks' losses (the all-to-all's backward adds every rank's contribution), while the step
minimises the mean: a hook divides it by ``ep``. The ``ep`` ranks see different tokens, so the
rest of the model is averaged over them by FSDP like any data-parallel dimension.

Capacity: an expert takes at most ``capacity_factor x tokens x k / n_experts`` assignments
counted over all ``ep`` ranks' tokens, as one process would over the whole batch; which
assignments are dropped when over capacity differs (rank order, not slot order), so the
equivalence tests use a capacity that drops none.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed._functional_collectives import all_to_all_single_autograd
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import DTensor, Shard, distribute_tensor

from scalable_ai.model.moe import MixtureOfExperts, load_balance_loss

EXPERT_WEIGHTS = ("gate_weight", "up_weight", "down_weight")


def _local(weight: torch.Tensor) -> torch.Tensor:
    return weight.to_local() if isinstance(weight, DTensor) else weight


class ExpertParallelMixtureOfExperts(MixtureOfExperts):
    """A :class:`MixtureOfExperts` whose experts live on ``ep`` ranks (set by
    :func:`apply_expert_parallel`; same parameters and names, sharded)."""

    ep_mesh: DeviceMesh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        n_tokens = tokens.shape[0]
        group = self.ep_mesh.get_group()
        ep = self.ep_mesh.size()
        local_experts = self.n_experts // ep

        router_probs = F.softmax(
            self.router(tokens).to(torch.promote_types(x.dtype, torch.float32)), -1
        )
        top_probs, top_experts = router_probs.topk(self.top_k, dim=-1)
        top_probs = top_probs / top_probs.sum(dim=-1, keepdim=True)
        self.aux_loss = load_balance_loss(router_probs, top_experts)

        expert_of = top_experts.t().reshape(-1)
        token_of = torch.arange(n_tokens, device=x.device).repeat(self.top_k)
        weight_of = top_probs.t().reshape(-1).to(x.dtype)
        order = torch.sort(expert_of, stable=True).indices
        expert_of, token_of, weight_of = expert_of[order], token_of[order], weight_of[order]

        # How many rows go to each (destination rank, its local expert), and come back.
        send_counts = torch.bincount(expert_of, minlength=self.n_experts).view(ep, local_experts)
        recv_counts = torch.empty_like(send_counts)
        dist.all_to_all_single(recv_counts, send_counts, group=group)
        send_splits = send_counts.sum(1).tolist()
        recv_splits = recv_counts.sum(1).tolist()
        received = all_to_all_single_autograd(tokens[token_of], recv_splits, send_splits, group)

        # Received rows come grouped by source rank, then by local expert: regroup by expert.
        expert_ids = torch.arange(local_experts, device=x.device).repeat(ep)
        local_expert = torch.repeat_interleave(expert_ids, recv_counts.flatten())
        regroup = torch.sort(local_expert, stable=True).indices
        local_expert = local_expert[regroup]
        per_expert = recv_counts.sum(0)
        self.tokens_per_expert = per_expert
        starts = torch.cumsum(per_expert, 0) - per_expert
        slot = torch.arange(local_expert.numel(), device=x.device) - starts[local_expert]

        limit = self.capacity(n_tokens * ep)
        longest = int(per_expert.max()) if per_expert.numel() else 0
        capacity = longest if limit is None else min(limit, longest)
        kept = slot < capacity
        self.dropped_fraction = 1.0 - float(kept.sum()) / max(1, kept.numel())
        rows = regroup[kept]
        expert_kept, slot_kept = local_expert[kept], slot[kept]

        buffer = tokens.new_zeros(local_experts, max(capacity, 1), shape[-1])
        buffer = buffer.index_put((expert_kept, slot_kept), received[rows])
        gate, up, down = (_local(getattr(self, name)) for name in EXPERT_WEIGHTS)
        hidden = F.silu(torch.bmm(buffer, gate.transpose(1, 2))) * torch.bmm(
            buffer, up.transpose(1, 2)
        )
        expert_out = torch.bmm(hidden, down.transpose(1, 2))

        outputs = received.new_zeros(received.shape).index_put(
            (rows,), expert_out[expert_kept, slot_kept]
        )
        returned = all_to_all_single_autograd(outputs, send_splits, recv_splits, group)
        out = tokens.new_zeros(tokens.shape).index_add(0, token_of, returned * weight_of[:, None])
        return out.reshape(shape)


def apply_expert_parallel(model: nn.Module, ep_mesh: DeviceMesh) -> set[nn.Parameter]:
    """Shard every MoE layer's experts over ``ep_mesh``; returns the expert parameters (FSDP
    must leave them alone: they are already split, and averaged by their own hook)."""
    ep = ep_mesh.size()
    expert_params: set[nn.Parameter] = set()
    for module in list(model.modules()):
        if not isinstance(module, MixtureOfExperts):
            continue
        for name in EXPERT_WEIGHTS:
            full = getattr(module, name)
            sharded = nn.Parameter(distribute_tensor(full.detach(), ep_mesh, [Shard(0)]))
            sharded.register_hook(lambda grad, ep=ep: grad / ep)
            setattr(module, name, sharded)
            expert_params.add(sharded)
        module.__class__ = ExpertParallelMixtureOfExperts
        module.ep_mesh = ep_mesh
    return expert_params

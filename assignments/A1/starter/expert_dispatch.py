"""Part 4 (lecture: expert parallelism): sending each token to the rank of its expert.

With ``E`` experts over ``ep`` ranks, rank ``r`` holds experts ``r·E/ep .. (r+1)·E/ep - 1``
(GShard, Lepikhin et al. 2020). A rank routes its own tokens (top-``k``), sorts the
(token, expert) assignments by expert so those for each rank are contiguous, tells every
rank how many rows to expect (a small all-to-all of counts), then sends the rows
(``all_to_all_single`` with uneven splits). The lab stack does the same in
``scalable_ai/parallel/expert.py``; read it after you have written yours.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def dispatch_order(
    top_experts: torch.Tensor, n_experts: int, ep: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """For assignments ``top_experts`` of shape ``(tokens, k)``:

    * ``order``: the flat assignment indices (``token * k + slot``) sorted by expert, ties
      kept in flat order (a stable sort);
    * ``send_counts``: a length-``ep`` tensor, how many assignments go to each rank.
    """
    raise NotImplementedError("TODO(A1.11): dispatch_order")


def exchange_counts(send_counts: torch.Tensor) -> torch.Tensor:
    """Every rank's ``send_counts`` in, ``recv_counts`` out: ``recv_counts[r]`` is how many
    rows rank ``r`` sends here (one all-to-all over the default group)."""
    raise NotImplementedError("TODO(A1.12): exchange_counts (dist.all_to_all_single)")


def exchange_rows(
    rows: torch.Tensor, send_counts: torch.Tensor, recv_counts: torch.Tensor
) -> torch.Tensor:
    """Send ``rows`` (already in dispatch order) to their ranks; return the rows received,
    grouped by source rank."""
    raise NotImplementedError("TODO(A1.12): exchange_rows (dist.all_to_all_single with splits)")

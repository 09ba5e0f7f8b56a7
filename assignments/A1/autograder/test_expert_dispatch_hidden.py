"""Part 4, hidden: the two all-to-alls deliver every token to the rank of its expert."""

import pytest
import torch

N_EXPERTS, TOP_K, TOKENS, DIM = 8, 2, 6, 3


def _routed(rank):
    generator = torch.Generator().manual_seed(100 + rank)
    tokens = torch.randn(TOKENS, DIM, generator=generator)
    top = torch.stack(
        [torch.randperm(N_EXPERTS, generator=generator)[:TOP_K] for _ in range(TOKENS)]
    )
    return tokens, top


def _exchange(rank, world_size, module):
    tokens, top = _routed(rank)
    order, send_counts = module.dispatch_order(top, N_EXPERTS, world_size)
    recv_counts = module.exchange_counts(send_counts)
    received = module.exchange_rows(tokens[order // TOP_K], send_counts, recv_counts)
    return recv_counts, received


@pytest.mark.points(6)
def test_every_token_reaches_the_rank_of_its_expert(submission, lab):
    """Over 4 ranks with 8 experts (top-2), rank r receives exactly the token rows routed to
    experts 2r and 2r+1, from each source rank in expert order, and the counts it was told."""
    module = submission.module("expert_dispatch")
    per_rank = N_EXPERTS // lab.WORLD
    for rank, (recv_counts, received) in enumerate(lab.world(_exchange, module)):
        expected_rows, expected_counts = [], []
        for source in range(lab.WORLD):
            tokens, top = _routed(source)
            flat = top.reshape(-1)
            mine = [
                i
                for i in torch.sort(flat, stable=True).indices.tolist()
                if flat[i] // per_rank == rank
            ]
            expected_counts.append(len(mine))
            expected_rows += [tokens[i // TOP_K] for i in mine]
        assert recv_counts.tolist() == expected_counts, f"rank {rank}"
        torch.testing.assert_close(received, torch.stack(expected_rows), msg=f"rank {rank}")

"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner.

Vyas, Morwani, Zhao, Shapira, Brandfonbrener, Janson, Kakade, "SOAP: Improving and
Stabilizing Shampoo using Adam" (2024, arXiv:2409.11321). For a weight matrix W with
gradient G, Shampoo (Gupta et al. 2018) keeps the two Kronecker factors

    L <- b L + (1 - b) G G^T        R <- b R + (1 - b) G^T G

and preconditions by ``L^(-1/4) G R^(-1/4)``. SOAP observes that this is an Adafactor-like
diagonal step in the eigenbasis of L and R, and runs full Adam there instead:

    G' = Q_L^T G Q_R                       rotate into the eigenbasis
    m, v <- Adam moments of G'             (kept in that basis)
    W  <- W (1 - lr wd) - lr * Q_L (m_hat / (sqrt(v_hat) + eps)) Q_R^T

The eigenbases Q_L, Q_R are refreshed only every ``precondition_frequency`` steps (the
paper's frequency; 10 by default), which is where SOAP saves over Shampoo's inverse roots:
the first refresh is an exact ``eigh``, later ones one step of power iteration plus QR from
the previous basis (the paper's Algorithm 4), reordering ``v`` with the eigenvalues. The
momentum ``m`` is rotated exactly into each new basis. A side longer than
``max_precondition_dim`` (a vocabulary-sized embedding) keeps the identity there, and
1-D/3-D tensors are not preconditioned at all: with identity bases SOAP *is* AdamW, which
the unit tests check (``precondition_frequency=0`` never leaves the identity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from scalable_ai.train.optim.adamw import adam_direction, count_step
from scalable_ai.train.optim.sharding import full_tensor, shard_like

SIDES = ("left", "right")


class SOAP(torch.optim.Optimizer):
    """SOAP for every parameter; groups set ``lr``, ``betas``, ``eps``, ``weight_decay``,
    ``precondition_frequency`` (0: never leave the identity basis), ``max_precondition_dim``
    and ``shampoo_beta`` (the factors' EMA; a negative value means ``betas[1]``).

    State per matrix: ``step``, ``exp_avg`` and ``exp_avg_sq`` (in the eigenbasis), and for
    each preconditioned side ``left_statistic``/``left_basis`` (rows x rows) and
    ``right_statistic``/``right_basis`` (cols x cols), in the parameter's dtype (torch's
    ``load_state_dict`` casts floating state to it, so this keeps resume exact).
    """

    def __init__(
        self,
        params: Iterable[dict[str, Any]] | Iterable[torch.Tensor],
        lr: float = 3e-3,
        betas: tuple[float, float] = (0.95, 0.95),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        precondition_frequency: int = 10,
        max_precondition_dim: int = 2048,
        shampoo_beta: float = -1.0,
    ) -> None:
        if precondition_frequency < 0:
            raise ValueError("precondition_frequency must be >= 0 (0 never updates the basis)")
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            precondition_frequency=precondition_frequency,
            max_precondition_dim=max_precondition_dim,
            shampoo_beta=shampoo_beta,
        )
        super().__init__(list(params), defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    soap_step(param, group, self.state[param])
        return loss


def soap_step(param: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
    """One SOAP step of ``param`` (its ``.grad`` set)."""
    assert param.grad is not None
    if "step" not in state:
        start_bases(param, state, group["max_precondition_dim"])
    step = count_step(state)
    preconditioned = any(f"{side}_basis" in state for side in SIDES)
    # Rotations need the whole matrix; elementwise Adam works on a shard as it is.
    grad = full_tensor(param.grad) if preconditioned else param.grad
    rotated = rotate(grad, state)
    direction = unrotate(adam_direction(rotated, state, step, group["betas"], group["eps"]), state)
    param.mul_(1 - group["lr"] * group["weight_decay"])
    param.add_(shard_like(direction, param) if preconditioned else direction, alpha=-group["lr"])
    if not preconditioned:
        return
    shampoo_beta = group["shampoo_beta"] if group["shampoo_beta"] >= 0 else group["betas"][1]
    accumulate_statistics(grad, state, shampoo_beta)
    frequency = group["precondition_frequency"]
    if frequency and (step == 1 or step % frequency == 0):
        refresh_bases(state, first=step == 1)


def start_bases(param: torch.Tensor, state: dict[str, Any], max_dim: int) -> None:
    """Identity bases and zero statistics for each side of a matrix short enough."""
    if param.dim() != 2:
        return
    for side, size in zip(SIDES, param.shape, strict=True):
        if size <= max_dim:
            options = dict(dtype=param.dtype, device=param.device)
            state[f"{side}_statistic"] = torch.zeros(size, size, **options)  # type: ignore[arg-type]
            state[f"{side}_basis"] = torch.eye(size, **options)  # type: ignore[arg-type]


def rotate(tensor: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
    """``Q_L^T tensor Q_R`` with the sides that have a basis."""
    if "left_basis" in state:
        tensor = state["left_basis"].T @ tensor
    if "right_basis" in state:
        tensor = tensor @ state["right_basis"]
    return tensor


def unrotate(tensor: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
    """``Q_L tensor Q_R^T``: back from the eigenbasis to the parameter's coordinates."""
    if "left_basis" in state:
        tensor = state["left_basis"] @ tensor
    if "right_basis" in state:
        tensor = tensor @ state["right_basis"].T
    return tensor


def accumulate_statistics(grad: torch.Tensor, state: dict[str, Any], beta: float) -> None:
    """Shampoo's Kronecker factors: EMAs of ``G G^T`` (left) and ``G^T G`` (right).

    No bias correction is needed: it would scale a factor uniformly, which leaves its
    eigenvectors, all SOAP uses of it, unchanged.
    """
    if "left_statistic" in state:
        state["left_statistic"].lerp_(grad @ grad.T, 1 - beta)
    if "right_statistic" in state:
        state["right_statistic"].lerp_(grad.T @ grad, 1 - beta)


def refresh_bases(state: dict[str, Any], first: bool) -> None:
    """New eigenbases from the statistics; momentum rotated exactly, ``v`` reordered."""
    momentum = unrotate(state["exp_avg"], state)
    exp_avg_sq = state["exp_avg_sq"]
    for axis, side in enumerate(SIDES):
        if f"{side}_basis" not in state:
            continue
        statistic, basis = state[f"{side}_statistic"], state[f"{side}_basis"]
        if first:
            new_basis = eigenbasis(statistic)
        else:
            new_basis, order = power_iteration_basis(statistic, basis)
            exp_avg_sq = exp_avg_sq.index_select(axis, order)
        state[f"{side}_basis"] = new_basis.to(basis.dtype)
    state["exp_avg"] = rotate(momentum, state)
    state["exp_avg_sq"] = exp_avg_sq


def eigenbasis(statistic: torch.Tensor) -> torch.Tensor:
    """Eigenvectors of a symmetric PSD factor, largest eigenvalue first (exact, ``eigh``)."""
    matrix = statistic.float()
    # A tiny ridge keeps eigh well defined when the factor is rank-deficient (one batch).
    ridge = 1e-30 * torch.eye(matrix.size(0), dtype=matrix.dtype, device=matrix.device)
    _, vectors = torch.linalg.eigh(matrix + ridge)
    return vectors.flip(-1)


def power_iteration_basis(
    statistic: torch.Tensor, basis: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One power-iteration step plus QR from the previous basis (SOAP's Algorithm 4).

    Columns are first ordered by their estimated eigenvalue ``diag(Q^T P Q)``, largest
    first; ``order`` says where each new column came from so ``v`` can follow it.
    """
    matrix, previous = statistic.float(), basis.float()
    estimates = torch.diagonal(previous.T @ matrix @ previous)
    order = torch.argsort(estimates, descending=True)
    new_basis, _ = torch.linalg.qr(matrix @ previous[:, order])
    return new_basis, order

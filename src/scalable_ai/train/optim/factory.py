"""One way to make the model's optimizer: ``build_optimizer(model, name, **settings)``.

``OptimizerConfig`` holds every setting of the three optimizers flat, so the trainer's
config embeds it whole (``--optim.muon_lr 0.03`` on the command line) and saves it into the
run. Parameters are sorted by what they are, not by where they sit:

- *hidden matrices*: the 2-D (or batched 3-D, MoE experts) weights inside the blocks;
- *embeddings*: ``nn.Embedding`` tables and the output head (one tensor when tied);
- *gains*: 1-D tensors (norm gains, biases), never weight-decayed.

AdamW and SOAP decay hidden matrices and embeddings alike; Muon orthogonalizes the hidden
matrices and gives embeddings and gains to AdamW at ``lr`` (Jordan 2024).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.train.optim.adamw import adamw
from scalable_ai.train.optim.muon import Muon
from scalable_ai.train.optim.soap import SOAP

OPTIMIZERS = ("adamw", "muon", "soap")


@dataclass
class OptimizerConfig:
    """Settings of the three optimizers; ``name`` picks one, the others' fields are unused.

    Defaults: AdamW's betas (0.9, 0.95) and decay 0.1 are the GPT-3/nanoGPT recipe; Muon's
    lr 0.02, momentum 0.95 with Nesterov and 5 Newton-Schulz steps are Keller Jordan's;
    SOAP's frequency 10 and betas (0.95, 0.95) are the paper's. The learning rates are the
    peaks a schedule scales; ``bench/optimizers.py`` tuned them for the tiny preset.
    """

    name: str = "adamw"
    lr: float = 3e-3  # AdamW and SOAP; Muon's embeddings and gains
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    muon_lr: float = 0.02
    muon_momentum: float = 0.95
    muon_nesterov: bool = True
    muon_ns_steps: int = 5
    muon_weight_decay: float = 0.0
    soap_beta1: float = 0.95
    soap_beta2: float = 0.95
    soap_precondition_frequency: int = 10
    soap_max_precondition_dim: int = 2048
    soap_shampoo_beta: float = -1.0  # negative: the same as soap_beta2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first setting that makes no optimizer."""
        if self.name not in OPTIMIZERS:
            raise UserError(
                f"unknown optimizer {self.name!r}; known: {', '.join(OPTIMIZERS)}", field="name"
            )
        for name in ("lr", "muon_lr", "eps"):
            if not getattr(self, name) > 0:
                raise UserError(f"must be positive, got {getattr(self, name)}", field=name)
        for name in ("beta1", "beta2", "muon_momentum", "soap_beta1", "soap_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"must be in [0, 1), got {getattr(self, name)}", field=name)
        for name in ("weight_decay", "muon_weight_decay", "soap_precondition_frequency"):
            if getattr(self, name) < 0:
                raise UserError(f"must be >= 0, got {getattr(self, name)}", field=name)
        for name in ("muon_ns_steps", "soap_max_precondition_dim"):
            if getattr(self, name) < 1:
                raise UserError(f"must be >= 1, got {getattr(self, name)}", field=name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown optimizer setting: {', '.join(unknown)}", field=unknown[0])
        return cls(**data)

    def build(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimizer these settings describe, over ``model``'s parameters."""
        return build_optimizer(model, **self.to_dict())


@dataclass
class ParameterRoles:
    """A model's trainable parameters sorted by what the optimizers treat differently."""

    hidden_matrices: list[nn.Parameter]
    embeddings: list[nn.Parameter]
    gains: list[nn.Parameter]


def parameter_roles(model: nn.Module) -> ParameterRoles:
    """Sort ``model``'s trainable parameters (a tied head counted once) into roles.

    Embeddings are the weights of ``nn.Embedding`` modules and of the output head
    (``lm_head``), which maps the residual stream to the vocabulary like an embedding.
    """
    embedding_ids = {
        id(module.weight) for module in model.modules() if isinstance(module, nn.Embedding)
    }
    head = getattr(model, "lm_head", None)
    if isinstance(head, nn.Linear):
        embedding_ids.add(id(head.weight))
    roles = ParameterRoles([], [], [])
    for parameter in model.parameters():  # parameters() yields a shared tensor once
        if not parameter.requires_grad:
            continue
        if id(parameter) in embedding_ids:
            roles.embeddings.append(parameter)
        elif parameter.dim() >= 2:
            roles.hidden_matrices.append(parameter)
        else:
            roles.gains.append(parameter)
    return roles


def build_optimizer(
    model: nn.Module, name: str = "adamw", **settings: Any
) -> torch.optim.Optimizer:
    """``name`` ("adamw", "muon" or "soap") over ``model``, configured by ``settings``
    (fields of :class:`OptimizerConfig`; an unknown one raises a :class:`UserError`)."""
    config = OptimizerConfig.from_dict({"name": name, **settings})
    roles = parameter_roles(model)
    decayed = roles.hidden_matrices + roles.embeddings
    betas = (config.beta1, config.beta2)
    if config.name == "adamw":
        groups = _groups(decayed, roles.gains, config.weight_decay)
        return adamw(groups, lr=config.lr, betas=betas, eps=config.eps)
    if config.name == "soap":
        return SOAP(
            _groups(decayed, roles.gains, config.weight_decay),
            lr=config.lr,
            betas=(config.soap_beta1, config.soap_beta2),
            eps=config.eps,
            precondition_frequency=config.soap_precondition_frequency,
            max_precondition_dim=config.soap_max_precondition_dim,
            shampoo_beta=config.soap_shampoo_beta,
        )
    adamw_groups = [
        dict(group, use_muon=False, lr=config.lr)
        for group in _groups(roles.embeddings, roles.gains, config.weight_decay)
    ]
    muon_group = dict(
        params=roles.hidden_matrices,
        use_muon=True,
        lr=config.muon_lr,
        weight_decay=config.muon_weight_decay,
    )
    return Muon(
        [muon_group, *adamw_groups] if roles.hidden_matrices else adamw_groups,
        momentum=config.muon_momentum,
        nesterov=config.muon_nesterov,
        ns_steps=config.muon_ns_steps,
        betas=betas,
        eps=config.eps,
    )


def _groups(
    decayed: list[nn.Parameter], not_decayed: list[nn.Parameter], weight_decay: float
) -> list[dict[str, Any]]:
    """Two parameter groups, skipping an empty one (torch rejects empty groups)."""
    groups = [
        dict(params=decayed, weight_decay=weight_decay),
        dict(params=not_decayed, weight_decay=0.0),
    ]
    return [group for group in groups if group["params"]]

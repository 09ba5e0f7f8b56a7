"""The trainer's optimizers: AdamW (torch's), Muon and SOAP, and one factory for all three.

``build_optimizer(model, "muon", muon_lr=0.02)`` or ``OptimizerConfig(name="soap").build(model)``
returns a ``torch.optim.Optimizer`` whose ``state_dict`` round-trips exactly.
"""

from scalable_ai.train.optim.factory import (
    OPTIMIZERS,
    OptimizerConfig,
    ParameterRoles,
    build_optimizer,
    parameter_roles,
)
from scalable_ai.train.optim.muon import Muon, newton_schulz
from scalable_ai.train.optim.soap import SOAP

__all__ = [
    "OPTIMIZERS",
    "SOAP",
    "Muon",
    "OptimizerConfig",
    "ParameterRoles",
    "build_optimizer",
    "newton_schulz",
    "parameter_roles",
]

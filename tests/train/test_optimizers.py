"""The optimizers' known properties: Muon orthogonalizes, SOAP in the identity basis is Adam,
AdamW is torch's, every state_dict resumes bit for bit, and each one trains a tiny model."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.transformer import Transformer
from scalable_ai.train.optim import (
    OPTIMIZERS,
    SOAP,
    Muon,
    OptimizerConfig,
    build_optimizer,
    newton_schulz,
    parameter_roles,
)


def tiny_model(seed: int = 0, **overrides: object) -> Transformer:
    torch.manual_seed(seed)
    fields = dict(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=48,
                  max_seq_len=64)  # fmt: skip
    fields.update(overrides)
    return Transformer(ModelConfig(**fields))  # type: ignore[arg-type]


def singular_values(matrix: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(matrix.double())


def fixed_gradients(params: list[torch.Tensor], steps: int, seed: int = 1) -> list[list]:
    generator = torch.Generator().manual_seed(seed)
    return [[torch.randn(p.shape, generator=generator) for p in params] for _ in range(steps)]


def run_steps(optimizer: torch.optim.Optimizer, params: list, gradients: list[list]) -> None:
    for step_gradients in gradients:
        for param, grad in zip(params, step_gradients, strict=True):
            param.grad = grad.clone()
        optimizer.step()


# ---- Muon ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(48, 32), (32, 80), (4, 24, 16)])
def test_newton_schulz_sends_every_singular_value_near_one(shape):
    """Jordan 2024: five quintic steps give U S' V^T with S' in about [0.7, 1.2], even for a
    matrix whose singular values span two decades (a batch of matrices each on its own)."""
    torch.manual_seed(0)
    left, _ = torch.linalg.qr(torch.randn(*shape[:-1], shape[-2]))
    right, _ = torch.linalg.qr(torch.randn(*shape[:-2], shape[-1], shape[-1]))
    rank = min(shape[-2:])
    spread = torch.logspace(0, -2, rank)
    matrix = left[..., :rank] @ torch.diag_embed(spread.expand(*shape[:-2], rank))
    matrix = matrix @ right[..., :rank, :]
    values = singular_values(newton_schulz(matrix))
    assert values.min() > 0.6 and values.max() < 1.25
    # Same singular vectors: U^T O V is diagonal.
    projected = left[..., :rank].mT @ newton_schulz(matrix) @ right[..., :rank, :].mT
    off_diagonal = projected - torch.diag_embed(torch.diagonal(projected, dim1=-2, dim2=-1))
    assert off_diagonal.abs().max() < 1e-4


def test_muon_update_of_a_hidden_matrix_is_near_orthogonal():
    weight = nn.Parameter(torch.randn(64, 32))
    before = weight.detach().clone()
    optimizer = Muon([dict(params=[weight])], lr=0.1)
    weight.grad = torch.randn(64, 32) @ torch.diag(torch.logspace(0, -2, 32))
    optimizer.step()
    scale = (64 / 32) ** 0.5  # tall matrix: modded-nanogpt's sqrt(rows / cols)
    update = (before - weight.detach()) / (0.1 * scale)
    values = singular_values(update)
    assert values.min() > 0.6 and values.max() < 1.25


def test_muon_matches_torch_muon_on_matrices():
    """torch.optim.Muon (same algorithm, always bf16 Newton-Schulz) as an independent
    reference: trajectories agree to bf16's precision."""
    ours = [nn.Parameter(torch.randn(24, 40)), nn.Parameter(torch.randn(40, 24))]
    theirs = [nn.Parameter(p.detach().clone()) for p in ours]
    gradients = fixed_gradients(ours, steps=4)
    run_steps(Muon([dict(params=ours)], lr=0.02, weight_decay=0.1), ours, gradients)
    reference = torch.optim.Muon(theirs, lr=0.02, weight_decay=0.1, adjust_lr_fn="original")
    run_steps(reference, theirs, gradients)
    for mine, torchs in zip(ours, theirs, strict=True):
        assert torch.allclose(mine, torchs, atol=2e-3, rtol=0)


def test_muon_adamw_groups_are_torch_adamw():
    params = [nn.Parameter(torch.randn(16, 8)), nn.Parameter(torch.randn(8))]
    reference = [nn.Parameter(p.detach().clone()) for p in params]
    gradients = fixed_gradients(params, steps=5)
    settings = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    run_steps(Muon([dict(params=params, use_muon=False, **settings)]), params, gradients)
    run_steps(torch.optim.AdamW(reference, foreach=False, **settings), reference, gradients)
    for mine, torchs in zip(params, reference, strict=True):
        assert torch.allclose(mine, torchs, rtol=1e-6, atol=1e-7)


# ---- SOAP ------------------------------------------------------------------------------


def test_soap_in_the_identity_basis_is_adam():
    """Vyas et al. 2024: SOAP is Adam in Shampoo's eigenbasis; never leaving the identity
    basis (precondition_frequency=0), it is AdamW exactly."""
    params = [nn.Parameter(torch.randn(12, 20)), nn.Parameter(torch.randn(20))]
    reference = [nn.Parameter(p.detach().clone()) for p in params]
    gradients = fixed_gradients(params, steps=6)
    settings = dict(lr=1e-2, betas=(0.95, 0.95), eps=1e-8, weight_decay=0.1)
    run_steps(SOAP(params, precondition_frequency=0, **settings), params, gradients)
    run_steps(torch.optim.AdamW(reference, foreach=False, **settings), reference, gradients)
    for mine, torchs in zip(params, reference, strict=True):
        assert torch.allclose(mine, torchs, rtol=1e-6, atol=1e-7)


def test_soap_bases_diagonalize_shampoo_factors_and_stay_orthogonal():
    weight = nn.Parameter(torch.randn(16, 24))
    optimizer = SOAP([weight], precondition_frequency=3, lr=1e-3)
    run_steps(optimizer, [weight], fixed_gradients([weight], steps=1))
    state = optimizer.state[weight]
    for side in ("left", "right"):  # after step 1: exact eigh of the factor
        basis, statistic = state[f"{side}_basis"], state[f"{side}_statistic"]
        rotated = basis.T @ statistic @ basis
        off_diagonal = rotated - torch.diag(torch.diagonal(rotated))
        assert off_diagonal.abs().max() < 1e-4 * rotated.abs().max()
    run_steps(optimizer, [weight], fixed_gradients([weight], steps=5, seed=2))
    for side in ("left", "right"):  # power iteration + QR keeps an orthonormal basis
        basis = state[f"{side}_basis"]
        assert torch.allclose(basis.T @ basis, torch.eye(basis.size(0)), atol=1e-5)


def test_soap_leaves_long_sides_and_non_matrices_in_the_identity_basis():
    weight, gain = nn.Parameter(torch.randn(40, 8)), nn.Parameter(torch.randn(8))
    optimizer = SOAP([weight, gain], max_precondition_dim=16)
    run_steps(optimizer, [weight, gain], fixed_gradients([weight, gain], steps=1))
    assert set(optimizer.state[weight]) >= {"right_basis"}
    assert "left_basis" not in optimizer.state[weight]
    assert not any(key.endswith("_basis") for key in optimizer.state[gain])


# ---- the factory and the trainer's needs -------------------------------------------------


def test_roles_muon_takes_hidden_matrices_and_adamw_the_rest():
    model = tiny_model()
    roles = parameter_roles(model)
    assert [p is model.embed.weight for p in roles.embeddings] == [True]  # tied head once
    assert all(p.dim() == 1 for p in roles.gains)
    assert len(roles.hidden_matrices) == 2 * 7  # q k v o gate up down per layer
    optimizer = build_optimizer(model, "muon")
    muon_groups = [g for g in optimizer.param_groups if g["use_muon"]]
    assert [len(g["params"]) for g in muon_groups] == [14]
    no_decay = [g for g in optimizer.param_groups if g["weight_decay"] == 0 and not g["use_muon"]]
    assert {id(p) for g in no_decay for p in g["params"]} == {id(p) for p in roles.gains}


def test_untied_head_is_an_embedding_for_muon():
    model = tiny_model(tie_embeddings=False)
    roles = parameter_roles(model)
    assert {id(p) for p in roles.embeddings} == {id(model.embed.weight), id(model.lm_head.weight)}


def test_bad_settings_name_the_field():
    with pytest.raises(UserError) as error:
        build_optimizer(tiny_model(), "muon", muon_lrr=0.1)
    assert error.value.field == "muon_lrr"
    with pytest.raises(UserError) as error:
        OptimizerConfig(name="lion")
    assert error.value.field == "name"
    with pytest.raises(UserError) as error:
        OptimizerConfig(beta2=1.0)
    assert error.value.field == "beta2"


def batch_of_patterns(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences that count up from a random start modulo the vocabulary: learnable."""
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, 64, (8, 1), generator=generator)
    tokens = (starts + torch.arange(33)) % 64
    return tokens[:, :-1], tokens[:, 1:]


def train(model: Transformer, optimizer: torch.optim.Optimizer, steps: int, seed: int = 0):
    losses = []
    for step in range(steps):
        inputs, targets = batch_of_patterns(seed + step)
        loss = model.loss(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_trains_a_tiny_model(name):
    model = tiny_model()
    settings = {"soap": dict(soap_precondition_frequency=5)}.get(name, {})
    losses = train(model, build_optimizer(model, name, lr=1e-2, **settings), steps=25)
    assert losses[-1] < 0.6 * losses[0], losses


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_resumes_bit_for_bit(name):
    """The trainer's exact resume: save after 3 steps, load into a fresh model and optimizer
    (through bytes, as a checkpoint would), and the next steps are identical."""
    settings = dict(lr=1e-2, soap_precondition_frequency=2)
    model = tiny_model()
    optimizer = build_optimizer(model, name, **settings)
    train(model, optimizer, steps=3)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    train(model, optimizer, steps=3, seed=3)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = tiny_model(seed=99)
    resumed.load_state_dict(saved["model"])
    resumed_optimizer = build_optimizer(resumed, name, **settings)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    train(resumed, resumed_optimizer, steps=3, seed=3)
    for (key, value), resumed_value in zip(
        model.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(value, resumed_value), key


def test_muon_orthogonalizes_each_expert_of_a_mixture():
    model = tiny_model(n_experts=4, experts_per_token=2)
    optimizer = build_optimizer(model, "muon")
    experts = model.layers[0].mlp.gate_weight
    assert any(experts is p for g in optimizer.param_groups if g["use_muon"] for p in g["params"])
    train(model, optimizer, steps=2)
    assert optimizer.state[experts]["momentum_buffer"].shape == experts.shape


@pytest.fixture
def one_rank_mesh(tmp_path):
    """A gloo process group of one rank and its DeviceMesh (no torchrun needed)."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("optimizer_class", [Muon, SOAP])
def test_matrix_optimizers_step_sharded_weights_like_whole_ones(one_rank_mesh, optimizer_class):
    """DTensor weights (as FSDP2 makes them): the per-matrix math runs on the gathered
    matrix and each rank keeps its shard, so the result equals the unsharded step."""
    from torch.distributed.tensor import Shard, distribute_tensor

    generator = torch.Generator().manual_seed(0)
    weight, grad = torch.randn(16, 8, generator=generator), torch.randn(16, 8, generator=generator)
    whole = nn.Parameter(weight.clone())
    sharded = nn.Parameter(distribute_tensor(weight.clone(), one_rank_mesh, [Shard(0)]))
    settings = {"precondition_frequency": 1} if optimizer_class is SOAP else {}
    optimizers = [optimizer_class([dict(params=[p])], **settings) for p in (whole, sharded)]
    for _ in range(3):
        whole.grad = grad.clone()
        sharded.grad = distribute_tensor(grad.clone(), one_rank_mesh, [Shard(0)])
        for optimizer in optimizers:
            optimizer.step()
    assert torch.equal(whole.detach(), sharded.detach().full_tensor())

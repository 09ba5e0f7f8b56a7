"""Many LoRA adapters on one served base model, chosen per request (``model: "base:adapter"``).

An adapter (Hu et al. 2021) changes a projection ``W x`` into ``W x + s · B (A x)`` with small
``A`` (r × d_in) and ``B`` (d_out × r). Merging ``s · B A`` into ``W`` would need one copy of
the model per adapter; instead, as in S-LoRA (Sheng et al. 2023) and Punica (Chen et al.
2023), the base weights are shared and each adapter adds its low-rank product to the rows
of the step that belong to its requests: one batch holds base requests and requests of
several adapters together, and an adapter costs ``r (d_in + d_out)`` per projection.

A step with adapter rows adds each adapter's ``s · (x Aᵀ) Bᵀ`` to its rows, in float32, after
each adapted projection's product. It runs the packed forward (``packed_model``), which calls
``LoraSet.add_to`` on each projection's slice of its fused products: the packed path's own,
or on the native path (whose C forward has no place for the term) a oneDNN-packed copy built
at the first adapter step (of an int8/int4 base, its dequantized weights: the same numbers
as its ``QuantizedLinear`` modules compute, for a bf16 copy's memory). Where the pack does
not cover the model (Mixture of Experts, sliding windows; an adapter on a module outside
the seven projections), it runs the model's own forward with a forward hook per adapted
projection calling the same ``add_to``. Steps without adapter rows keep the fast path
(native C or packed), which reads and writes the same paged cache.

The step's adapters are applied together, not one after another: their ``A`` are stacked
into one (ΣR × d_in) matrix and their scaled ``B`` into one (d_out × ΣR), and a 0/1 mask
keeps each row to its own adapter's columns, so a projection costs the same six operations
however many adapters share the step (Punica's BGMV computes the same per-row products with
a gather; on a CPU two small dense products and a mask are cheaper than per-row weight
gathers, and the wasted columns are ΣR of d_in). Measured on SmolLM2-135M, 8 decode rows
over 4 adapters (``bench/lora_serving.py``, AMD EPYC, 2026-12-05): 91 tokens/s with one
adapter after another on the model forward, 108 stacked, 164-198 on the packed forward.

On a quantized base the adapter's delta is added beside the quantized product,
unquantized, as QLoRA (Dettmers et al. 2023) trains it and vLLM serves it: the base term is
the dequantized weight's product (the packed copy's; steps without adapter rows keep the
native int8/int4 kernels). int8 SmolLM2, same benchmark: 36.8 tokens/s with the model
forward dequantizing each projection per call, 171.8 on the packed copy.
A sequence's cached blocks are keyed by its adapter too (an adapter changes keys and
values), so a prefix is shared only between requests of the same adapter.

Adapters are read in Hugging Face ``peft``'s layout, which ``sai sft`` writes
(``post/lora.py``): ``adapter_config.json`` (``r``, ``lora_alpha``, ``use_rslora``,
``target_modules``) and ``adapter_model.safetensors`` with
``base_model.model.<module>.lora_A.weight`` (r × d_in) and ``...lora_B.weight`` (d_out × r).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from scalable_ai.errors import NotFound, UserError
from scalable_ai.infer.quant import QuantizedLinear

CONFIG_FILE, WEIGHTS_FILE = "adapter_config.json", "adapter_model.safetensors"
_PREFIX = "base_model.model."
_ids = itertools.count(1)


@dataclass
class LoraAdapter:
    """One adapter's matrices per module name (float32), its scale, and a unique id."""

    name: str
    path: str
    scale: float
    #: module name -> (A (r, d_in), B (d_out, r)), float32 on the model's device
    weights: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def rank(self) -> int:
        return next(iter(self.weights.values()))[0].shape[0]


def read_adapter(name: str, path: str | Path, model: nn.Module) -> LoraAdapter:
    """An adapter folder checked against ``model``: every matrix must fit the projection it
    names. Refusals name the file and what does not fit."""
    from safetensors.torch import load_file

    folder = Path(path).expanduser()
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise UserError(
            f"{folder} is not a LoRA adapter folder (needs {CONFIG_FILE} and {WEIGHTS_FILE})",
            field="lora",
        )
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{config_path}: not JSON ({error})", field="lora") from None
    unsupported = [
        key
        for key in ("use_dora", "fan_in_fan_out", "rank_pattern", "alpha_pattern")
        if config.get(key)
    ]
    if config.get("bias", "none") != "none":
        unsupported.append("bias")
    if unsupported:
        raise UserError(f"{config_path}: {', '.join(unsupported)} not supported", field="lora")
    rank, alpha = int(config.get("r", 0)), float(config.get("lora_alpha", 0))
    if rank <= 0:
        raise UserError(f"{config_path}: r must be positive", field="lora")
    scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    tensors = load_file(str(weights_path))
    modules = dict(model.named_modules())
    weight = next(model.parameters())
    adapter = LoraAdapter(name, str(folder), scale)
    for key, a in tensors.items():
        if not key.endswith(".lora_A.weight"):
            if ".lora_" not in key:
                raise UserError(f"{weights_path}: unexpected tensor {key!r}", field="lora")
            continue
        module_name = key.removeprefix(_PREFIX).removesuffix(".lora_A.weight")
        b = tensors.get(key.replace(".lora_A.", ".lora_B."))
        linear = modules.get(module_name)
        if b is None or not isinstance(linear, nn.Linear | QuantizedLinear):
            raise UserError(
                f"{weights_path}: {module_name!r} is not a projection of this model "
                "or has no lora_B",
                field="lora",
            )
        if a.shape != (rank, linear.in_features) or b.shape != (linear.out_features, rank):
            raise UserError(
                f"{weights_path}: {module_name} has A {tuple(a.shape)} and B {tuple(b.shape)}, "
                f"this model needs ({rank}, {linear.in_features}) and "
                f"({linear.out_features}, {rank})",
                field="lora",
            )
        adapter.weights[module_name] = (
            a.to(device=weight.device, dtype=torch.float32),
            b.to(device=weight.device, dtype=torch.float32),
        )
    if not adapter.weights:
        raise UserError(f"{weights_path}: no lora_A/lora_B pairs", field="lora")
    return adapter


class LoraSet:
    """The adapters loaded on one engine, and the hooks that apply them during a step."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.adapters: dict[str, LoraAdapter] = {}
        self.by_id: dict[int, LoraAdapter] = {}
        self._hooks: dict[str, torch.utils.hooks.RemovableHandle] = {}
        #: During an adapter step: adapter -> token rows of the step's flat batch.
        self._rows: list[tuple[LoraAdapter, torch.Tensor]] = []
        #: (module, adapter ids) -> stacked A (ΣR, d_in) and scaled B (d_out, ΣR); kept
        #: across steps (an adapter's matrices never change: a reload gets a new id).
        self._stacks: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor]] = {}
        #: During a step: adapter ids -> the rows any of them has, and their 0/1 column mask.
        self._masks: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def add(self, adapter: LoraAdapter, in_use: set[int]) -> None:
        """Load (or replace) an adapter by name; hooks go on the projections it adapts.
        ``in_use``: adapter ids of unfinished sequences, which keep a replaced adapter."""
        self.adapters[adapter.name] = adapter
        self.by_id[adapter.id] = adapter
        modules = dict(self.model.named_modules())
        for module_name in adapter.weights:
            if module_name not in self._hooks:
                self._hooks[module_name] = modules[module_name].register_forward_hook(
                    self._hook(module_name)
                )
        self._prune(in_use)

    def remove(self, name: str, in_use: set[int]) -> LoraAdapter:
        """Unload by name; sequences already running with it finish with it."""
        adapter = self.adapters.pop(name, None)
        if adapter is None:
            raise NotFound(f"no adapter named {name!r} is loaded", field="lora_name")
        self._prune(in_use)
        return adapter

    def _prune(self, in_use: set[int]) -> None:
        """Forget replaced or removed adapters that no unfinished sequence still runs with."""
        current = {a.id for a in self.adapters.values()}
        for lora_id in [i for i in self.by_id if i not in current and i not in in_use]:
            del self.by_id[lora_id]
        self._stacks = {
            key: stack for key, stack in self._stacks.items() if set(key[1]) <= set(self.by_id)
        }

    def get(self, name: str) -> LoraAdapter:
        adapter = self.adapters.get(name)
        if adapter is None:
            loaded = ", ".join(sorted(self.adapters)) or "none"
            raise NotFound(f"no adapter named {name!r}; loaded: {loaded}", field="model")
        return adapter

    @contextmanager
    def step(self, rows: dict[int, list[int]], device: torch.device) -> Iterator[None]:
        """Apply adapters (by id) to their token rows for the forward inside this block."""
        self._rows = [
            (self.by_id[lora_id], torch.tensor(token_rows, dtype=torch.long, device=device))
            for lora_id, token_rows in sorted(rows.items())
            if lora_id in self.by_id
        ]
        try:
            yield
        finally:
            self._rows = []
            self._masks = {}

    def _stack(self, module_name: str, ids: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The adapters' A stacked (ΣR, d_in) and their B, each times its scale, (d_out, ΣR)."""
        stack = self._stacks.get((module_name, ids))
        if stack is None:
            pairs = [(self.by_id[i].weights[module_name], self.by_id[i].scale) for i in ids]
            stack = (
                torch.cat([a for (a, _), _ in pairs]),
                torch.cat([b * scale for (_, b), scale in pairs], dim=1),
            )
            self._stacks[(module_name, ids)] = stack
        return stack

    def _mask(
        self, present: list[tuple[LoraAdapter, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows of the step's adapters (sorted) and a (rows, ΣR) mask that is 1 where a
        row meets its own adapter's columns: the same for every projection they all adapt."""
        ids = tuple(adapter.id for adapter, _ in present)
        found = self._masks.get(ids)
        if found is None:
            rows = torch.cat([token_rows for _, token_rows in present])
            order = rows.argsort()
            mask = torch.zeros(len(rows), sum(a.rank for a, _ in present), device=rows.device)
            start, column = 0, 0
            for adapter, token_rows in present:
                mask[start : start + len(token_rows), column : column + adapter.rank] = 1.0
                start, column = start + len(token_rows), column + adapter.rank
            found = (rows[order], mask[order])
            self._masks[ids] = found
        return found

    def add_to(self, module_name: str, x: torch.Tensor, out: torch.Tensor) -> None:
        """Add the step's adapter terms of ``module_name`` to ``out`` (T, d_out), in place,
        from the projection's input ``x`` (T, d_in): the hook on the model's own forward, and
        the packed forward (whose fused products are sliced per projection) both call this."""
        present = [(a, rows) for a, rows in self._rows if module_name in a.weights]
        if not present:
            return
        a_stack, b_stack = self._stack(module_name, tuple(a.id for a, _ in present))
        rows, mask = self._mask(present)
        every_row = len(rows) == len(x)  # rows are sorted and distinct: all of them
        low = (x if every_row else x.index_select(0, rows)).float() @ a_stack.T
        if len(present) > 1:  # one adapter owns every column: nothing to mask
            low *= mask
        delta = (low @ b_stack.T).to(out.dtype)
        if every_row:
            out.add_(delta)
        else:
            out.index_add_(0, rows, delta)

    def module_names(self) -> set[str]:
        """Every projection some loaded adapter adapts."""
        return set(self._hooks)

    def _hook(self, module_name: str) -> Callable[..., torch.Tensor | None]:
        def add_low_rank(_: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor):
            if not self._rows:
                return None
            x = inputs[0].reshape(-1, inputs[0].shape[-1])
            self.add_to(module_name, x, out.view(-1, out.shape[-1]))
            return out

        return add_low_rank

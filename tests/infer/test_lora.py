"""Several LoRA adapters on one served base model (``model: "base:adapter"``), in one batch.

The reference is independent of the serving code: Hugging Face ``peft`` writes each adapter
(``post/lora.py``), and ``peft``'s own ``merge_and_unload`` folds it into a copy of the base
model, which a plain engine then runs. Served greedy tokens must equal the merged model's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.post.lora import LoraSection, add_lora, merge, save_adapter

from .conftest import LiveServer, make_engine, tiny_model

PROMPTS = ["the same prompt for all", "a second one"]


def write_adapter(folder, seed: int, targets: list[str]):
    """A peft adapter with random (non-zero) A and B on ``targets``; and the merged model."""
    wrapped = add_lora(
        tiny_model(), LoraSection(rank=4, alpha=8, dropout=0.0, target_modules=targets)
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in wrapped.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    save_adapter(wrapped, folder)
    return merge(wrapped).eval()


def greedy(engine, prompt: str) -> list[int]:
    return engine.generate([prompt], SamplingParams(max_tokens=10, temperature=0, ignore_eos=True))[
        0
    ][0]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    merged = {
        "attn": write_adapter(root / "attn", 1, ["q_proj", "v_proj", "o_proj"]),
        "mlp": write_adapter(root / "mlp", 2, ["gate_proj", "up_proj", "down_proj"]),
        # shares q_proj and v_proj with "attn": two adapters on one projection in one step
        "qkv": write_adapter(root / "qkv", 3, ["q_proj", "k_proj", "v_proj"]),
    }
    expected = {
        name: [greedy(make_engine(model), p) for p in PROMPTS] for name, model in merged.items()
    }
    expected["base"] = [greedy(make_engine(), p) for p in PROMPTS]
    return root, expected


def test_adapters_and_the_base_in_one_batch_match_peft_merged_models(adapters):
    root, expected = adapters
    assert expected["attn"] != expected["base"] != expected["mlp"]  # the adapters matter
    engine = make_engine()
    server = LiveServer(engine)
    try:
        engine.add_lora("attn", str(root / "attn"))
        engine.add_lora("mlp", str(root / "mlp"))
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
        assert {m.id for m in client.models.list()} == {"tiny", "tiny:attn", "tiny:mlp"}
        asks = [
            (model, i) for i in range(len(PROMPTS)) for model in ("tiny", "tiny:attn", "tiny:mlp")
        ]

        def ask(item):
            model, i = item
            reply = client.completions.create(
                model=model,
                prompt=PROMPTS[i],
                max_tokens=10,
                temperature=0,
                extra_body={"ignore_eos": True},
            )
            return reply.model, reply.choices[0].text

        with ThreadPoolExecutor(len(asks)) as pool:  # concurrent: they share steps
            replies = list(pool.map(ask, asks))
        for (model, i), (answered, text) in zip(asks, replies, strict=True):
            assert answered == model
            key = {"tiny": "base", "tiny:attn": "attn", "tiny:mlp": "mlp"}[model]
            assert text == engine.tokenizer.decode(expected[key][i]), (model, i)
        with pytest.raises(openai.NotFoundError, match="no adapter named 'other'"):
            client.completions.create(model="tiny:other", prompt="x", max_tokens=1)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "batch",
    [["attn", "qkv", "attn", "qkv"], [None, "qkv", "attn", None, "mlp"]],
    ids=["only-adapters", "with-base-rows"],
)
def test_adapters_sharing_a_projection_in_one_step_each_keep_to_their_rows(adapters, batch):
    """Each projection applies the step's adapters at once (stacked, masked per row): two
    adapters on q_proj in one batch, with and without base rows, as peft's merges compute."""
    root, expected = adapters
    engine = make_engine()
    for name in ("attn", "qkv", "mlp"):
        engine.add_lora(name, str(root / name))
    params = [
        SamplingParams(max_tokens=10, temperature=0, ignore_eos=True, lora=name) for name in batch
    ]
    ids = [engine.add_request(PROMPTS[i % 2], p) for i, p in enumerate(params)]
    got: dict[str, list[int]] = {i: [] for i in ids}
    while engine.has_unfinished_requests():
        for output in engine.step():
            got[output.request_id] += output.choices[0].token_ids
    for i, (name, request) in enumerate(zip(batch, ids, strict=True)):
        assert got[request] == expected[name or "base"][i % 2], (name, i)


def test_admin_routes_load_and_unload_adapters_with_the_token_only(adapters):
    root, expected = adapters
    closed = LiveServer(make_engine())
    try:
        body = {"lora_name": "attn", "lora_path": str(root / "attn")}
        refused = httpx.post(f"{closed.url}/v1/load_lora_adapter", json=body)
        assert refused.status_code == 403 and "SAI_SERVE_ADMIN_TOKEN" in refused.text
    finally:
        closed.stop()
    server = LiveServer(make_engine(), admin_token="s3cret")
    try:
        url = f"{server.url}/v1"
        wrong = httpx.post(
            f"{url}/load_lora_adapter", json=body, headers={"Authorization": "Bearer no"}
        )
        assert wrong.status_code == 403
        auth = {"Authorization": "Bearer s3cret"}
        missing = httpx.post(
            f"{url}/load_lora_adapter", json={**body, "lora_path": str(root / "none")}, headers=auth
        )
        assert missing.status_code == 400 and "not a LoRA adapter folder" in missing.text
        assert httpx.post(f"{url}/load_lora_adapter", json=body, headers=auth).status_code == 200
        client = openai.OpenAI(base_url=url, api_key="unused")
        reply = client.completions.create(
            model="tiny:attn",
            prompt=PROMPTS[0],
            max_tokens=10,
            temperature=0,
            extra_body={"ignore_eos": True},
        )
        assert reply.choices[0].text == server.engine.tokenizer.decode(expected["attn"][0])
        gone = httpx.post(f"{url}/unload_lora_adapter", json={"lora_name": "attn"}, headers=auth)
        assert gone.status_code == 200
        with pytest.raises(openai.NotFoundError):
            client.completions.create(model="tiny:attn", prompt="x", max_tokens=1)
    finally:
        server.stop()


def test_an_adapter_that_does_not_fit_the_model_is_refused_by_name(tmp_path):
    big = add_lora(
        tiny_model(dim=32, n_heads=2, n_kv_heads=1), LoraSection(rank=2, target_modules=["q_proj"])
    )
    save_adapter(big, tmp_path / "big")
    with pytest.raises(UserError, match="q_proj has A"):
        make_engine().add_lora("big", str(tmp_path / "big"))


def test_sai_serve_refuses_a_malformed_lora_option_in_one_line():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "scalable_ai.cli", "serve", "smollm2-135m", "--lora", "nopath"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "lora: give each adapter as NAME=PATH" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["int8", "int4"])
def test_an_adapter_on_a_quantized_base_matches_peft_merged_into_the_dequantized_base(
    adapters, name
):
    """``sai serve --quant int8|int4 --lora``: the adapter's low-rank delta is added beside
    the quantized product (QLoRA's form, as vLLM serves it). The reference is peft's own
    merge of the adapter into a float model holding the quantized base's dequantized
    weights; base rows in the same batch still get the quantized base's own tokens."""
    from peft import PeftModel

    from scalable_ai.infer.quant import QuantizedLinear, QuantSpec, quantize_model

    root, _ = adapters
    spec = QuantSpec.named(name)
    spec.head_bits = 0
    quantized = quantize_model(tiny_model(), spec)
    dequantized = tiny_model()
    with torch.no_grad():
        for module_name, module in quantized.named_modules():
            if isinstance(module, QuantizedLinear):
                dequantized.get_submodule(module_name).weight.copy_(module.weight)
    expected = {"base": [greedy(make_engine(quantized), p) for p in PROMPTS]}
    for adapter in ("attn", "mlp"):
        with_adapter = PeftModel.from_pretrained(tiny_model_like(dequantized), str(root / adapter))
        merged = merge(with_adapter).eval()
        expected[adapter] = [greedy(make_engine(merged), p) for p in PROMPTS]
    assert expected["attn"] != expected["base"] != expected["mlp"]  # the adapters matter
    engine = make_engine(quantized)
    engine.add_lora("attn", str(root / "attn"))
    engine.add_lora("mlp", str(root / "mlp"))
    asks = [(adapter, i) for i in range(len(PROMPTS)) for adapter in ("base", "attn", "mlp")]
    params = [
        SamplingParams(
            max_tokens=10,
            temperature=0,
            ignore_eos=True,
            lora=None if adapter == "base" else adapter,
        )
        for adapter, _ in asks
    ]
    ids = [engine.add_request(PROMPTS[i], p) for (_, i), p in zip(asks, params, strict=True)]
    tokens: dict[str, list[int]] = {rid: [] for rid in ids}
    while engine.has_unfinished_requests():  # the base and both adapters share each step
        for out in engine.step():
            tokens[out.request_id].extend(out.choices[0].token_ids)
    for (adapter, i), rid in zip(asks, ids, strict=True):
        assert tokens[rid] == expected[adapter][i], (name, adapter, i)


def tiny_model_like(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` (peft wraps and merges in place)."""
    import copy

    return copy.deepcopy(model)


@pytest.mark.parametrize("quant", [None, "int8"], ids=["bf16", "int8-bf16"])
def test_adapters_on_a_bf16_base_run_the_packed_forward_as_peft_merges_compute(adapters, quant):
    """On the native path (bf16; its C forward has no place for an adapter's term) a step
    with adapter rows runs a oneDNN-packed forward adding each adapter's term after the fused
    products. Every token it chooses, beside base rows, is the best one of peft's float32
    merge, teacher-forced, within bf16 rounding: the model's own forward in bf16 misses by up
    to 0.035 of the best logit here (a near-tie), a forward without the adapter by 1.1-1.6.
    On an int8 base the packed copy holds the dequantized weights: the reference is peft's
    merge into them."""
    from peft import PeftModel

    from scalable_ai.infer.packed_model import PackedTransformer
    from scalable_ai.infer.quant import QuantizedLinear, QuantSpec, quantize_model
    from tests.infer.test_recipe_switches import shortfalls_from_the_best

    root, _ = adapters
    base = tiny_model(dtype=torch.bfloat16)
    if quant is not None:
        spec = QuantSpec.named(quant)
        spec.head_bits = 0
        base = quantize_model(base, spec)
    dequantized = tiny_model(dtype=torch.bfloat16)
    with torch.no_grad():
        for module_name, module in base.named_modules():
            if isinstance(module, QuantizedLinear):
                dequantized.get_submodule(module_name).weight.copy_(module.weight)
    engine = make_engine(base)
    for name in ("attn", "qkv", "mlp"):
        engine.add_lora(name, str(root / name))
    batch = [None, "attn", "qkv", "mlp", "attn"]
    params = [
        SamplingParams(max_tokens=10, temperature=0, ignore_eos=True, lora=name) for name in batch
    ]
    ids = [engine.add_request(PROMPTS[0], p) for p in params]
    got: dict[str, list[int]] = {i: [] for i in ids}
    while engine.has_unfinished_requests():
        for output in engine.step():
            got[output.request_id] += output.choices[0].token_ids
    assert isinstance(engine.runner.lora_forward(), PackedTransformer)
    for name, request in zip(batch, ids, strict=True):
        reference = tiny_model_like(dequantized).float()
        if name is not None:
            reference = merge(PeftModel.from_pretrained(reference, str(root / name))).eval()
        assert max(shortfalls_from_the_best(reference, PROMPTS[0], got[request])) <= 2**-4, name
    plain = tiny_model_like(dequantized).float()
    for request in ids[1:]:
        assert max(shortfalls_from_the_best(plain, PROMPTS[0], got[request])) > 0.5

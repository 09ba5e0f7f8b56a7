"""Multi-LoRA serving: one SmolLM2-135M base, several adapters, one batch (S-LoRA/Punica's
setting), our engine against Hugging Face ``peft``'s mixed-adapter batch in the same run.

Both sides hold the same weights: ``K`` random rank-``r`` adapters on all seven projections
are written with peft on our model (``post/lora.py``, what ``sai sft --lora`` writes), loaded
by our engine (``add_lora``) and, renamed to ``LlamaForCausalLM``'s modules, by peft on a
``transformers`` copy of the base. ``B`` requests (the same chat prompt) generate exactly
``--tokens`` greedy tokens each:

- **base**: every request on the base model (our native fast path; peft's ``__base__``);
- **mixed**: the requests spread over the ``K`` adapters (ours: the model forward with one
  hook per adapted projection adding each adapter's low-rank term to its rows; the peer:
  ``generate(adapter_names=...)``, peft's mixed-batch inference).

Printed: output tokens/s of each side and mode (the fastest of ``--repeats`` alternated
rounds), ours ÷ peft, what the adapters cost each side (mixed ÷ base), and how many of each
side's greedy tokens agree with a float32 reference (peft on a float32 copy, one request at
a time): bf16 batches may part from it at a near-tie (peft's batched bf16 base does on this
prompt at token 6, while its single stream does not). One run (``bench.lora_serving``)
records the summary.

    python bench/lora_serving.py                      # bf16, B = 8, K = 4, r = 8
    python bench/lora_serving.py --quant int8         # adapters on an int8 base (ours only)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from _peers import hf_llama
from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.load.safetensors import to_hf_name
from scalable_ai.post.lora import ALL_PROJECTIONS, LoraSection, add_lora, save_adapter

QUESTION = "Write a short story about a robot who learns to paint."
PREFIX = "base_model.model."


def write_adapters(model: torch.nn.Module, count: int, rank: int, root: Path) -> list[Path]:
    """``count`` peft adapters with random A and B (seeded; B is zero at peft's init, which
    would make every adapter the base), each saved for us and, renamed, for the peer."""
    folders = []
    for index in range(count):
        wrapped = add_lora(
            copy.deepcopy(model).float(),
            LoraSection(rank=rank, alpha=2 * rank, dropout=0.0, target_modules=ALL_PROJECTIONS),
        )
        generator = torch.Generator().manual_seed(index)
        with torch.no_grad():
            for name, parameter in wrapped.named_parameters():
                if "lora_" in name:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.02)
        ours = save_adapter(wrapped, root / f"ours-{index}")
        peer = root / f"peer-{index}"
        peer.mkdir()
        (peer / "adapter_config.json").write_text((ours / "adapter_config.json").read_text())
        renamed = {}
        for key, tensor in load_file(str(ours / "adapter_model.safetensors")).items():
            module, _, leaf = key.removeprefix(PREFIX).partition(".lora_")
            hf_module = to_hf_name(module + ".weight").removesuffix(".weight")
            renamed[f"{PREFIX}{hf_module}.lora_{leaf}"] = tensor
        save_file(renamed, str(peer / "adapter_model.safetensors"))
        folders.append(root / f"ours-{index}")
    return folders


def ours_round(engine: LLMEngine, prompt: str, names: list[str | None], tokens: int):
    started = time.perf_counter()
    ids = [
        engine.add_request(
            prompt,
            SamplingParams(max_tokens=tokens, temperature=0.0, ignore_eos=True, lora=name),
        )
        for name in names
    ]
    out: dict[str, list[int]] = {i: [] for i in ids}
    while engine.has_unfinished_requests():
        for output in engine.step():
            out[output.request_id] += output.choices[0].token_ids
    seconds = time.perf_counter() - started
    return [out[i] for i in ids], seconds


def peer_round(peer: Any, prompt_ids: list[int], names: list[str], tokens: int):
    batch = torch.tensor([prompt_ids] * len(names))
    started = time.perf_counter()
    with torch.inference_mode():
        generated = peer.generate(
            input_ids=batch,
            attention_mask=torch.ones_like(batch),
            adapter_names=names,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            pad_token_id=0,
        )
    seconds = time.perf_counter() - started
    return generated[:, len(prompt_ids) :].tolist(), seconds


def agreeing(rows: list[list[int]], reference: list[list[int]]) -> float:
    """The share of tokens generated before each row first parts from its reference."""
    same = 0
    for row, expected in zip(rows, reference, strict=True):
        for x, y in zip(row, expected, strict=False):
            if x != y:
                break
            same += 1
    return same / sum(len(row) for row in rows)


def float32_reference(
    peer: Any, prompt_ids: list[int], names: list[str], tokens: int
) -> list[list[int]]:
    """Each distinct adapter's greedy tokens, one request at a time, in float32."""
    reference = {name: peer_round(peer, prompt_ids, [name], tokens)[0][0] for name in set(names)}
    return [reference[name] for name in names]


def peft_model(base: Any, names: list[str], root: Path) -> Any:
    from peft import PeftModel

    peer = PeftModel.from_pretrained(base, str(root / "peer-0"), adapter_name=names[0])
    for index, name in enumerate(names[1:], start=1):
        peer.load_adapter(str(root / f"peer-{index}"), adapter_name=name)
    return peer.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="requests in flight (B)")
    parser.add_argument("--adapters", type=int, default=4, help="adapters (K)")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quant", choices=["int8", "int4"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from scalable_ai.infer.forward_paths import cpu_model
    from scalable_ai.infer.quant import QuantSpec, quantize_model
    from scalable_ai.model.registry import load_pretrained
    from scalable_ai.runs import open_run

    model, tokenizer = load_pretrained("smollm2-135m", dtype="bfloat16")
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}])
    prompt_ids = tokenizer.encode(prompt)
    names = [f"a{i}" for i in range(args.adapters)]
    mixed = [names[i % len(names)] for i in range(args.batch)]
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cpus, {args.threads} threads; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="sai-lora-bench-") as folder:
        root = Path(folder)
        folders = write_adapters(model, args.adapters, args.rank, root)
        peer = peft_model(hf_llama(model).to(torch.bfloat16), names, root)
        f32 = peft_model(hf_llama(copy.deepcopy(model).float()), names, root)
        served = quantize_model(model, QuantSpec.named(args.quant)) if args.quant else model
        engine = LLMEngine(served, tokenizer, EngineConfig(max_model_len=1024))
        for name, path in zip(names, folders, strict=True):
            engine.add_lora(name, str(path))
        print(
            f"SmolLM2-135M bf16{' ' + args.quant if args.quant else ''}, path "
            f"{engine.runner.path}; B = {args.batch}, K = {args.adapters}, r = {args.rank}, "
            f"{args.tokens} greedy tokens each, prompt {len(prompt_ids)} tokens"
        )
        modes = {"base": ([None] * args.batch, ["__base__"] * args.batch), "mixed": (mixed, mixed)}
        times: dict[str, list[float]] = {f"{s}_{m}": [] for s in ("ours", "peft") for m in modes}
        outputs: dict[str, dict[str, list[list[int]]]] = {
            mode: {"reference": float32_reference(f32, prompt_ids, names_, args.tokens)}
            for mode, (_, names_) in modes.items()
        }
        ours_round(engine, prompt, [None], 4)  # warm-up: kernels, the prompt's blocks
        peer_round(peer, prompt_ids, ["__base__"], 4)
        for _ in range(args.repeats):  # alternated, so both see the same load
            for mode, (ours_names, peer_names) in modes.items():
                outputs[mode]["ours"], seconds = ours_round(engine, prompt, ours_names, args.tokens)
                times[f"ours_{mode}"].append(seconds)
                if args.quant:  # peft serves no int8/int4 base of ours: ours alone
                    continue
                outputs[mode]["peft"], seconds = peer_round(
                    peer, prompt_ids, peer_names, args.tokens
                )
                times[f"peft_{mode}"].append(seconds)
    total = args.batch * args.tokens
    rate = {key: total / min(values) for key, values in times.items() if values}
    summary: dict[str, float] = {f"{k}_tokens_per_s": v for k, v in rate.items()}
    print(
        f"{'mode':6} {'ours tok/s':>10} {'peft tok/s':>10} {'ours/peft':>9} "
        f"{'agree with f32: ours':>20} {'peft':>5}"
    )
    for mode in modes:
        ours_rate, peer_rate = rate[f"ours_{mode}"], rate.get(f"peft_{mode}", float("nan"))
        agree = {
            side: agreeing(rows, outputs[mode]["reference"])
            for side, rows in outputs[mode].items()
            if side != "reference"
        }
        print(
            f"{mode:6} {ours_rate:10.1f} {peer_rate:10.1f} {ours_rate / peer_rate:8.2f}x "
            f"{agree['ours']:20.0%} {agree.get('peft', float('nan')):5.0%}"
        )
        summary[f"{mode}_ratio_vs_peft"] = ours_rate / peer_rate
        summary.update({f"{mode}_{side}_agreement": value for side, value in agree.items()})
    summary["ours_adapter_cost"] = rate["ours_base"] / rate["ours_mixed"]
    print(f"adapters cost ours {summary['ours_adapter_cost']:.2f}x the base's time", end="")
    if "peft_mixed" in rate:
        summary["peft_adapter_cost"] = rate["peft_base"] / rate["peft_mixed"]
        print(f", peft {summary['peft_adapter_cost']:.2f}x", end="")
    print()
    config = {**vars(args), "machine": cpu_model(), "load_average": os.getloadavg()[0]}
    with open_run("bench.lora_serving", config=config) as record:
        record.summary(**summary)
    print(json.dumps({k: round(v, 3) for k, v in summary.items() if v == v}))


if __name__ == "__main__":
    main()

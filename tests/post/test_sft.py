"""SFT: LoRA through peft (merge equality, the adapter file layout), a loss on assistant tokens
only, and `sai sft` end to end from the real CLI to a model `sai generate` loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from scalable_ai.cli import main
from scalable_ai.errors import UserError
from scalable_ai.post.chat import EncodedChat, encode_conversation, pack
from scalable_ai.post.lora import LoraSection, add_lora, merge, save_adapter
from scalable_ai.post.sft import masked_loss
from tests.post.conftest import arithmetic_chats, tiny_model


def lora_with_random_update(dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A LoRA-wrapped tiny model whose B matrices are non-zero (fresh B is zero: no update)."""
    wrapped = add_lora(tiny_model().to(dtype), LoraSection(rank=4, alpha=8, dropout=0.0))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.2)
    return wrapped.eval()


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_merged_model_computes_the_adapter_models_logits(dtype, tolerance):
    wrapped = lora_with_random_update(dtype)
    ids = torch.randint(0, 300, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        adapted = wrapped(ids).float()
        base = wrapped.get_base_model()
        with wrapped.disable_adapter():
            plain = base(ids).float()
        merged = merge(wrapped)(ids).float()
    scale = adapted.abs().max()
    torch.testing.assert_close(merged, adapted, atol=tolerance * scale, rtol=tolerance)
    # The adapters move the logits far more than merging's rounding does.
    assert (adapted - plain).abs().max() > 10 * (merged - adapted).abs().max()


def test_lora_update_is_alpha_over_r_times_b_a():
    """The merged weight is W + (alpha / r) · B @ A, computed here by hand from the adapter."""
    wrapped = lora_with_random_update()
    layer = wrapped.get_base_model().layers[0].attn.q_proj
    a = layer.lora_A["default"].weight.detach().clone()
    b = layer.lora_B["default"].weight.detach().clone()
    w = layer.base_layer.weight.detach().clone()
    merged = merge(wrapped)
    torch.testing.assert_close(merged.layers[0].attn.q_proj.weight, w + (8.0 / 4) * b @ a)


def test_adapter_alone_is_saved_in_peft_layout_and_reloads(tmp_path):
    from peft import PeftModel
    from safetensors.torch import load_file

    wrapped = lora_with_random_update()
    folder = save_adapter(wrapped, tmp_path / "adapter")
    config = json.loads((folder / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8.0)
    assert set(config["target_modules"]) >= {"q_proj", "down_proj"}
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    a = tensors["base_model.model.layers.0.attn.q_proj.lora_A.weight"]
    assert a.shape == (4, 32)  # (r, d_in)
    reloaded = PeftModel.from_pretrained(tiny_model(), str(folder)).eval()
    ids = torch.arange(10)[None]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids), wrapped(ids))


def test_lora_trains_the_adapters_only():
    wrapped = add_lora(tiny_model(), LoraSection(rank=2))
    trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_unknown_lora_target_is_refused_by_name():
    with pytest.raises(UserError) as caught:
        add_lora(tiny_model(), LoraSection(rank=2, target_modules=["wq"]))
    assert caught.value.field == "lora.target_modules" and "'wq'" in str(caught.value)


def test_loss_is_the_mean_over_assistant_tokens_only(our_tokenizer):
    model = tiny_model()
    chats = [encode_conversation(r["messages"], our_tokenizer) for r in arithmetic_chats(3)]
    rows = pack(chats, seq_len=64)
    with torch.no_grad():
        loss = masked_loss(model, rows)
        # By hand: each conversation alone, -log p(token) at every trained token, averaged.
        terms = []
        for chat in chats:
            log_probs = F.log_softmax(model(torch.tensor([chat.ids]))[0], dim=-1)
            for position in range(1, len(chat.ids)):
                if chat.loss_mask[position]:
                    terms.append(-log_probs[position - 1, chat.ids[position]])
        torch.testing.assert_close(loss, torch.stack(terms).mean(), atol=1e-5, rtol=1e-5)
        # A planted wrong mask (every token trained) gives a different loss.
        wrong = [EncodedChat(c.ids, [True] * len(c.ids)) for c in chats]
        assert abs(float(masked_loss(model, pack(wrong, seq_len=64))) - float(loss)) > 0.01


def sai(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real `sai` entry point in this process; (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sai_sft_lora_end_to_end_then_generate_loads_the_model(tmp_path, tiny_base, capsys):
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in arithmetic_chats(120)) + "{broken\n")
    args = ["sft", "--model", str(tiny_base), "--data.train", str(data)]
    code, _, err = sai(capsys, *args)
    assert code == 2 and f"{data}:121: json:" in err
    code, out, err = sai(
        capsys,
        *args,
        "--data.on_error",
        "skip",
        "--lora.rank",
        "4",
        "--lora.dropout",
        "0",
        "--optim.lr",
        "1e-2",
        "--train.steps",
        "12",
        "--train.batch_size",
        "4",
        "--train.eval_every",
        "6",
        "--train.progress",
        "false",
        "--train.precision",
        "float32",
    )
    assert code == 0, err
    model_dir = Path(out.strip().splitlines()[-1])
    run_dir = model_dir.parent
    assert {p.name for p in (run_dir / "adapter").iterdir()} == {
        "adapter_config.json",
        "adapter_model.safetensors",
    }
    assert (run_dir / "artifacts" / "loss.png").stat().st_size > 1000
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["summary"]["skipped"] == 1
    evals = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    val = [row["val_loss"] for row in evals if "val_loss" in row]
    assert len(val) == 3 and val[-1] < val[0]
    code, _, err = sai(
        capsys,
        "generate",
        "-m",
        str(model_dir),
        "3+4=",
        "-n",
        "4",
        "--temperature",
        "0",
        "--dtype",
        "float32",
    )
    assert code == 0, err


def test_full_fine_tuning_changes_every_weight_and_saves_a_servable_model(tmp_path, tiny_base):
    from scalable_ai.model.load.safetensors import load_checkpoint
    from scalable_ai.post.loop import LoopSection
    from scalable_ai.post.sft import SFTConfig, SFTData, run_sft
    from scalable_ai.runs import open_run

    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in arithmetic_chats(40)))
    config = SFTConfig(
        model=str(tiny_base),
        data=SFTData(train=str(data), val_fraction=0.0, seq_len=64),
        train=LoopSection(steps=3, batch_size=2, progress=False, precision="float32"),
    )
    with open_run("sft", config=config) as run:
        result = run_sft(config, run)
    assert result.adapter_dir is None and result.summary["method"] == "full"
    before, after = load_checkpoint(tiny_base), load_checkpoint(result.model_dir)
    for (name, old), new in zip(
        before.state_dict().items(), after.state_dict().values(), strict=True
    ):
        assert not torch.equal(old, new), name
    assert (result.model_dir / "sft.toml").is_file() and (
        result.model_dir / "tokenizer.json"
    ).is_file()

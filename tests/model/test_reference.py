"""Our SmolLM2-135M against an independent reference: transformers' LlamaForCausalLM and
tokenizer, which read, dequantize and un-permute the same GGUF with their own code.

Tolerance: float32 on both sides, logits of magnitude ~30; the two differ only in summation
order (fused vs unfused attention, rms_norm), so we require max |difference| < 1e-3.
"""

from __future__ import annotations

import pytest
import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.load.safetensors import build_model, from_hf_state_dict

pytestmark = pytest.mark.slow

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n<|im_start|>assistant\n",
    "Photosynthesis converts light energy into",
]
VARIED_TEXTS = [
    "Hello, world! It's 2026; we'll see 3.14159 and 1,000,000.",
    "naïve café — 日本語のテキスト, Ελληνικά, русский, emoji 🤖🚀👩‍💻",
    "def f(x):\n\treturn {'a': [x ** 2, x // 3]}  # comment\n",
    "many     spaces\n\n\n\nnewlines   \t tabs\r\nand CRLF   ",
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    "<|endoftext|>after the end<repo_name>x",
    "URLs like https://example.com/a?b=c&d=e#frag and e-mail a.b@c.org",
    "",
]
LOGIT_TOLERANCE = 1e-3


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_match_transformers_llama(smollm2, reference, prompt):
    model, tokenizer = smollm2
    reference_model, _ = reference
    ids = torch.tensor([tokenizer.encode(prompt)])
    with torch.inference_mode():
        ours, theirs = model(ids), reference_model(ids).logits
    assert (ours - theirs).abs().max() < LOGIT_TOLERANCE


def test_greedy_generation_agrees_token_for_token_for_32_tokens(smollm2, reference):
    """The engine (``sai generate``'s and ``sai serve``'s stack) on the f32 model against
    transformers' ``generate``; EOS is ignored on both sides so all 32 tokens are compared."""
    model, tokenizer = smollm2
    reference_model, _ = reference
    engine = LLMEngine(model, tokenizer, EngineConfig(max_model_len=256, kv_cache_megabytes=16))
    for prompt in PROMPTS[1:3]:
        prompt_ids = tokenizer.encode(prompt)
        [[ours]] = engine.generate(
            [prompt_ids], SamplingParams(max_tokens=32, temperature=0, ignore_eos=True)
        )
        # An explicit mask: left to itself, generate() masks every id equal to the pad id
        # (2, which is also <|im_end|> inside chat prompts).
        with torch.inference_mode():
            theirs = reference_model.generate(
                torch.tensor([prompt_ids]),
                attention_mask=torch.ones(1, len(prompt_ids)),
                max_new_tokens=32,
                min_new_tokens=32,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=tokenizer.eos_id,
            )[0, len(prompt_ids) :].tolist()
        assert ours == theirs


def test_tokenizer_ids_match_the_reference_tokenizer(smollm2_tokenizer, reference):
    _, reference_tokenizer = reference
    for text in VARIED_TEXTS:
        ids = smollm2_tokenizer.encode(text)
        assert ids == reference_tokenizer.encode(text, add_special_tokens=False), text
        assert smollm2_tokenizer.decode(ids) == text


def test_chat_template_renders_like_the_reference(smollm2_tokenizer, reference):
    _, reference_tokenizer = reference
    conversations = [
        [{"role": "user", "content": "What is the capital of France?"}],
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Bye"},
        ],
    ]
    for messages in conversations:
        expected = reference_tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        assert smollm2_tokenizer.apply_chat_template(messages) == expected


def test_hugging_face_state_dict_loads_into_our_model(smollm2, reference):
    """The safetensors path: transformers' Llama weights, renamed, give our logits."""
    model, tokenizer = smollm2
    reference_model, _ = reference
    converted = build_model(model.config, from_hf_state_dict(reference_model.state_dict()))
    ids = torch.tensor([tokenizer.encode(PROMPTS[0])])
    with torch.inference_mode():
        assert (converted(ids) - model(ids)).abs().max() < LOGIT_TOLERANCE

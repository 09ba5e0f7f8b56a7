"""``tool_choice: "auto"``: once the model starts a call, the call is the grammar's.

Issue 19 saw SmolLM2 write text, then ``<tool_call>`` and a call to the prompt's placeholder
``function_name``: the old "auto" grammar only kept the output from *starting* with the tag.
Now the call grammar is triggered by the tag wherever it appears, so every call a client
gets names one of the request's tools and its arguments are valid under that tool's schema.

The sampled test needs a model that actually starts calls: the tiny random model's tokenizer
gets ``<tool_call>`` as one token (id 257, as Hermes-style tokenizers add it), and a
``logit_bias`` on it makes the noise model write it now and then, after some text or first.
Everything after the tag is still the noise model's choice under the mask.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai
import pytest

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.grammar import GrammarCompiler
from scalable_ai.infer.tools import parse_tools, tool_call_grammar

from .conftest import EOS, ByteTokenizer, LiveServer, tiny_model
from .test_constrained import CLOCK, PARAMETERS, WEATHER

TAG = 257


class TagTokenizer(ByteTokenizer):
    """The byte tokenizer with ``<tool_call>`` as the single token 257."""

    special_token_ids = (256, 258, 259)

    def token_bytes(self) -> list[bytes]:
        table = super().token_bytes()
        table[TAG] = b"<tool_call>"
        return table

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        table = self.token_bytes()
        return b"".join(table[i] for i in ids if i < 256 or i == TAG).decode(
            "utf-8", errors="replace"
        )


def _accepts(compiler: GrammarCompiler, grammar, text: str) -> bool:
    constraint = compiler.matcher(grammar)
    return all(constraint.accept(byte) for byte in text.encode())


def test_after_the_tag_only_a_real_tool_with_valid_arguments_may_follow():
    compiler = GrammarCompiler(ByteTokenizer(), 260, [EOS])
    grammar = tool_call_grammar(parse_tools([WEATHER, CLOCK]), "auto", parallel=True)
    call = '<tool_call>\n{"name": "get_time", "arguments": {"zone": 3}}\n</tool_call>'
    assert _accepts(compiler, grammar, "Plain text, even with <tool_ in it.")
    assert _accepts(compiler, grammar, call)
    assert _accepts(compiler, grammar, "Let me check. " + call)
    placeholder = 'Sure: <tool_call>\n{"name": "function_name", "arguments": {}}\n</tool_call>'
    assert not _accepts(compiler, grammar, placeholder)
    out_of_schema = 'x <tool_call>\n{"name": "get_time", "arguments": {"zone": 30}}'
    assert not _accepts(compiler, grammar, out_of_schema)
    assert not _accepts(compiler, grammar, "text <tool_call> and no call")


@pytest.fixture(scope="module")
def tag_client():
    engine = LLMEngine(
        tiny_model(max_seq_len=2048),
        TagTokenizer(),
        EngineConfig(
            max_model_len=2048,
            num_blocks=4096,
            block_size=4,
            max_num_batched_tokens=64,
            max_num_seqs=64,
        ),
        model_name="tiny",
        eos_token_ids=[EOS],
    )
    server = LiveServer(engine)
    yield openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    server.stop()


def test_every_sampled_auto_tool_call_names_a_real_tool_with_valid_arguments(tag_client):
    def ask(i: int) -> list:
        reply = tag_client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "weather in Paris, or the time?"}],
            tools=[WEATHER, CLOCK],
            tool_choice="auto",
            logit_bias={str(TAG): 12 if i % 4 else 0},  # every fourth: left to write text
            parallel_tool_calls=i % 4 == 1,
            n=5,
            temperature=1.0,
            seed=100 * i,
            max_tokens=200,
        )
        return list(reply.choices)

    with ThreadPoolExecutor(8) as pool:  # one continuous batch
        choices = [c for reply in pool.map(ask, range(8)) for c in reply]
    assert len(choices) == 40
    for choice in choices:  # only a call cut off by max_tokens comes back as text
        if choice.finish_reason != "length":
            assert "<tool_call>" not in (choice.message.content or "")
    calls = [call for c in choices for call in c.message.tool_calls or []]
    for call in calls:
        assert call.function.name in PARAMETERS
        jsonschema.validate(json.loads(call.function.arguments), PARAMETERS[call.function.name])
    with_calls = [c for c in choices if c.message.tool_calls]
    # Both branches ran: plain text, and calls, some after text (the message's content).
    assert len(with_calls) >= 16, len(with_calls)
    assert len(choices) - len(with_calls) >= 5
    assert any(c.message.content for c in with_calls)
    assert {call.function.name for call in calls} == set(PARAMETERS)
    assert {c.finish_reason for c in with_calls if len(c.message.tool_calls) == 1} >= {"tool_calls"}

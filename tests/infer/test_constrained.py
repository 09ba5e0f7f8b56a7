"""Constrained decoding, tool calls and ``logit_bias`` through the official ``openai`` client.

The tiny model has random weights: left alone it writes byte noise, so every valid JSON
document it returns under a grammar is the grammar's doing, not the model's. That makes it
the strong test of the mask: 200 sampled outputs, every one valid under the schema.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai
import pytest

from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.tools import ToolCallParser, response_format_grammar

from .conftest import LiveServer, make_engine, tiny_model

#: Bounded strings, numbers and arrays: every output this grammar allows ends.
RECORD = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "flags": {"type": "array", "items": {"type": "boolean"}, "maxItems": 3},
        "where": {
            "type": "object",
            "properties": {"x": {"type": "number", "minimum": -5, "maximum": 5}},
            "required": ["x"],
            "additionalProperties": False,
        },
        "note": {"type": ["string", "null"], "maxLength": 4},
    },
    "required": ["name", "age", "unit", "flags", "where"],
    "additionalProperties": False,
}

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 12},
                "unit": {"enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "integer", "minimum": -12, "maximum": 12}},
            "required": ["zone"],
            "additionalProperties": False,
        },
    },
}
PARAMETERS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, CLOCK)}


@pytest.fixture(scope="module")
def client():
    """A real server of the tiny model with room for the tools' prompt (bytes are tokens)."""
    model = tiny_model(max_seq_len=2048)
    server = LiveServer(make_engine(model, max_model_len=2048, num_blocks=4096, max_num_seqs=64))
    yield openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    server.stop()


def test_200_sampled_outputs_under_a_json_schema_are_all_valid(client):
    fmt = {"type": "json_schema", "json_schema": {"name": "record", "schema": RECORD}}

    def ask(seed: int) -> list[tuple[str, str]]:
        reply = client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "a record please"}],
            response_format=fmt,
            n=8,
            temperature=1.0,
            seed=100 * seed,  # choice i draws from seed + i
            max_tokens=300,
        )
        return [(c.message.content, c.finish_reason) for c in reply.choices]

    with ThreadPoolExecutor(25) as pool:  # one continuous batch, not 25 in a row
        outputs = [output for reply in pool.map(ask, range(25)) for output in reply]
    assert len(outputs) == 200
    for text, finish in outputs:
        assert finish == "stop"
        jsonschema.validate(json.loads(text), RECORD)
    assert len({text for text, _ in outputs}) > 150  # sampled, not one forced answer


def test_json_object_on_completions_and_streamed_chat(client):
    # Any object: its keys are unbounded, so a bias towards '"' and '}' (ids 34, 125) lets
    # the noise model close them within max_tokens; the grammar still decides what is valid.
    text = client.completions.create(
        model="tiny",
        prompt="{",
        max_tokens=200,
        temperature=0.7,
        seed=1,
        logit_bias={"34": 6, "125": 6},
        extra_body={"response_format": {"type": "json_object"}},
    )
    assert isinstance(json.loads(text.choices[0].text), dict)
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": RECORD}}
    ask = dict(
        model="tiny",
        messages=[{"role": "user", "content": "x"}],
        response_format=fmt,
        temperature=1.0,
        seed=3,
        max_tokens=300,
    )
    whole = client.chat.completions.create(**ask).choices[0].message.content
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(**ask, stream=True)
        if chunk.choices
    )
    assert streamed == whole
    jsonschema.validate(json.loads(whole), RECORD)


def test_a_schema_the_grammar_library_refuses_is_a_400_naming_the_problem(client):
    bad = {"type": "integer", "minimum": 5, "maximum": 2}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": bad}},
        )
    error = caught.value.body
    assert error["param"] == "response_format.json_schema.schema"
    assert "minimum (5) is greater than maximum (2)" in error["message"]
    with pytest.raises(openai.BadRequestError, match="Invalid type: decimal"):
        client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "x"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": {"type": "decimal"}},
            },
        )


def _check_calls(calls, allowed=("get_weather", "get_time")):
    assert calls
    for call in calls:
        assert call.type == "function" and call.id.startswith("call_")
        assert call.function.name in allowed
        jsonschema.validate(json.loads(call.function.arguments), PARAMETERS[call.function.name])


def test_tool_choice_required_returns_schema_valid_tool_calls(client):
    for seed in range(8):
        reply = client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "weather in Paris?"}],
            tools=[WEATHER, CLOCK],
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=1.0,
            seed=seed,
            max_tokens=200,
        )
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        assert len(choice.message.tool_calls) == 1
        _check_calls(choice.message.tool_calls)


def test_a_named_function_is_the_one_called_and_streams_as_delta_tool_calls(client):
    ask = dict(
        model="tiny",
        messages=[{"role": "user", "content": "what time is it?"}],
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        temperature=1.0,
        seed=5,
        max_tokens=200,
        parallel_tool_calls=False,
    )
    whole = client.chat.completions.create(**ask).choices[0]
    _check_calls(whole.message.tool_calls, allowed=("get_time",))
    deltas, finish = [], None
    for chunk in client.chat.completions.create(**ask, stream=True):
        for choice in chunk.choices:
            deltas += choice.delta.tool_calls or []
            assert not choice.delta.content
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [(d.index, d.function.name, d.function.arguments) for d in deltas] == [
        (0, "get_time", whole.message.tool_calls[0].function.arguments)
    ]


def test_tool_choice_none_and_auto(client):
    plain = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "hi"}],
        tools=[WEATHER],
        tool_choice="none",
        max_tokens=5,
        temperature=0,
    ).choices[0]
    assert plain.message.tool_calls is None and plain.finish_reason in ("stop", "length")
    # auto: the noise model writes text, which is returned as content (never a half call).
    auto = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "hi"}],
        tools=[WEATHER],
        max_tokens=20,
        temperature=1.0,
        seed=2,
    ).choices[0]
    assert auto.message.content and "<tool_call>" not in auto.message.content
    with pytest.raises(openai.BadRequestError, match="no tool is named 'nope'"):
        client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "hi"}],
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    # Earlier calls and tool results go back into the prompt the model's way.
    followup = client.chat.completions.create(
        model="tiny",
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "3 degrees"},
        ],
        tools=[WEATHER],
        max_tokens=3,
    )
    assert followup.usage.prompt_tokens > 100


def test_tool_call_parser_holds_back_a_split_tag_and_reports_whole_calls():
    text = 'Sure.<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>\n<tool_c'
    parser = ToolCallParser()
    pieces = [parser.feed(text[i : i + 3]) for i in range(0, len(text), 3)]
    content = "".join(p[0] for p in pieces)
    calls = [c for p in pieces for c in p[1]]
    assert content == "Sure."
    assert [(c.index, c.name, c.arguments) for c in calls] == [(0, "f", '{"a": 1}')]
    assert parser.feed("", final=True) == ("<tool_c", [])  # a cut-off call stays text


def test_logit_bias_forces_and_bans_tokens(client):
    forced = client.completions.create(
        model="tiny",
        prompt="abc",
        max_tokens=6,
        temperature=1.0,
        logit_bias={"65": 100},
        extra_body={"ignore_eos": True},
    )
    assert forced.choices[0].text == "AAAAAA"
    free = client.completions.create(model="tiny", prompt="abc", max_tokens=6, temperature=0)
    first = free.choices[0].text[0]
    banned = client.completions.create(
        model="tiny",
        prompt="abc",
        max_tokens=6,
        temperature=0,
        logit_bias={str(ord(first)): -100},
    )
    assert banned.choices[0].text[0] != first
    with pytest.raises(openai.BadRequestError, match="between -100 and 100"):
        client.completions.create(model="tiny", prompt="a", logit_bias={"1": 101})


def test_constrained_and_free_rows_share_a_step_and_the_free_row_is_unchanged():
    """One continuous batch: the mask lands on the constrained row only."""
    alone = make_engine().generate(["free row"], SamplingParams(max_tokens=12, temperature=0))
    engine = make_engine()
    grammar = response_format_grammar(
        {"type": "json_schema", "json_schema": {"name": "r", "schema": RECORD}}
    )
    free = engine.add_request("free row", SamplingParams(max_tokens=12, temperature=0))
    bound = engine.add_request(
        "json row", SamplingParams(max_tokens=300, temperature=0, grammar=grammar)
    )
    out: dict[str, list[int]] = {free: [], bound: []}
    shared_steps = 0
    while engine.has_unfinished_requests():
        running = {s.request_id for s in engine.scheduler.running}
        shared_steps += running == {free, bound}
        for result in engine.step():
            for choice in result.choices:
                out[result.request_id] += choice.token_ids
    assert shared_steps >= 10
    assert out[free] == alone[0][0]
    text = engine.tokenizer.decode(out[bound], skip_special_tokens=True)
    jsonschema.validate(json.loads(text), RECORD)

"""The chat playground (issue 7: "a signed-in page of the course platform that streams from this
server through its OpenAI API; the platform finds the server from a setting").

The model server is the real one, ``sai serve`` as its own process, serving a tiny model this
module builds and saves in our checkpoint format (safetensors + config + tokenizer), so every
answer here went through the engine, the OpenAI API and the platform's proxy.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import torch
from markupsafe import escape

from scalable_ai.course.web.model_server import MODEL_URL_ENV, PlaygroundLimiter
from scalable_ai.course.web.views.playground import CONVERSATION_CHARS, MESSAGE_CHARS
from tests.web.conftest import csrf_of, sign_in

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
STREAM = {"Accept": "text/event-stream"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def save_tiny_chat_model(folder: Path) -> Path:
    """A one-layer random model over printable ASCII with a ChatML template, in our format.

    The vocabulary is GPT-2 byte-level (space is ``Ġ``, newline ``Ċ``) without merges. The
    rows of the special tokens and of the newline in the tied embedding are zero, so their
    logits are 0 while some printable token's is positive: the model never ends an answer
    early (a request for N tokens gets N) and never answers with blank lines only.
    """
    from scalable_ai.model import ModelConfig, Transformer
    from scalable_ai.model.load.safetensors import save_checkpoint
    from scalable_ai.model.tokenizer import tokenizer_from_gguf_metadata

    pieces = ["Ċ", "Ġ"] + [chr(c) for c in range(ord("!"), ord("~") + 1)]
    tokens = SPECIALS + pieces
    tokenizer = tokenizer_from_gguf_metadata(
        {
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": "gpt2",
            "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.merges": [],
            "tokenizer.ggml.token_type": [3] * len(SPECIALS) + [1] * len(pieces),
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.chat_template": CHATML,
        }
    )
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=len(tokens),
        dim=32,
        n_layers=1,
        n_heads=2,
        n_kv_heads=1,
        ffn_hidden=64,
        max_seq_len=512,
        tie_embeddings=True,
        name="tiny-chat",
    )
    model = Transformer(config).eval()
    with torch.no_grad():
        model.embed.weight[: len(SPECIALS) + 1] = 0.0  # the specials, then "Ċ"
    save_checkpoint(model, folder)
    tokenizer.save(folder)
    return folder


@pytest.fixture(scope="module")
def model_server(tmp_path_factory) -> Iterator[str]:
    """``sai serve <tiny checkpoint>`` as its own process; yields its OpenAI base URL."""
    root = tmp_path_factory.mktemp("playground-model")
    checkpoint = save_tiny_chat_model(root / "tiny-chat")
    port = _free_port()
    env = {**os.environ, "SAI_DATA_DIR": str(root / "data"), "SAI_RUNS_DIR": str(root / "runs")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "serve",
            str(checkpoint),
            "--port",
            str(port),
            "--dtype",
            "float32",
            "--max-model-len",
            "512",
            "--kv-cache-megabytes",
            "16",
            "--threads",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode())  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sai serve did not come up in 90 s")
        time.sleep(0.1)
    yield f"{url}/v1"
    process.terminate()
    process.wait(30)


@pytest.fixture
def configured(model_server, monkeypatch) -> str:
    """The platform pointed at the model server the way ``sai up`` points it."""
    monkeypatch.setenv(MODEL_URL_ENV, model_server)
    return model_server


def events_of(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def chat(client, data: dict, headers: dict | None = STREAM):
    """Send one playground turn the way the page does (CSRF token from the page)."""
    token = csrf_of(client.get("/playground").text)
    return client.post(
        "/playground/chat", data={**data, "csrf_token": token}, headers=headers or {}
    )


# Access ----------------------------------------------------------------------------------------


def test_the_playground_is_a_signed_in_page(platform):
    answer = platform.client.get("/playground")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/playground"


def test_a_chat_request_without_the_forms_csrf_token_is_refused(platform, accounts, configured):
    sign_in(platform.client, *accounts["student"])
    answer = platform.client.post("/playground/chat", data={"message": "hi"}, headers=STREAM)
    assert answer.status_code == 403
    assert "security token" in answer.text


# Finding the model server ----------------------------------------------------------------------


def test_without_a_model_url_the_page_says_what_to_start(platform, accounts, monkeypatch):
    monkeypatch.delenv(MODEL_URL_ENV, raising=False)
    sign_in(platform.client, *accounts["student"])
    page = platform.client.get("/playground")
    assert page.status_code == 200
    assert "No model server is configured" in page.text
    assert "sai up" in page.text and "sai serve smollm2-135m --port 8001" in page.text
    assert f"{MODEL_URL_ENV}=http://127.0.0.1:8001/v1" in page.text
    answer = chat(platform.client, {"message": "hello"})
    assert answer.status_code == 503
    assert "no model server is configured" in answer.json()["error"]["message"]


def test_an_unreachable_model_server_is_named_with_how_to_start_it(platform, accounts, monkeypatch):
    nobody = f"http://127.0.0.1:{_free_port()}/v1"
    monkeypatch.setenv(MODEL_URL_ENV, nobody)
    sign_in(platform.client, *accounts["student"])
    page = platform.client.get("/playground")
    assert f"the model server at {nobody} is not reachable" in page.text
    answer = chat(platform.client, {"message": "hello"})
    assert answer.status_code == 503
    assert "is not reachable" in answer.json()["error"]["message"]


def test_a_configured_server_shows_its_model_on_the_page(platform, accounts, configured):
    sign_in(platform.client, *accounts["student"])
    page = platform.client.get("/playground")
    assert 'id="model-server-ok"' in page.text and "tiny-chat" in page.text


# Streaming -------------------------------------------------------------------------------------


def test_an_answer_streams_piece_by_piece_with_its_ttft_and_tokens_per_second(
    platform, accounts, configured
):
    sign_in(platform.client, *accounts["student"])
    conversation = {
        "system": "Answer briefly.",
        "message": "What is a KV cache?",
        "temperature": "0",
        "max_tokens": "12",
    }
    answer = chat(platform.client, conversation)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = events_of(answer.text)
    tokens = [e["text"] for e in events if e["type"] == "token"]
    done = events[-1]
    assert len(tokens) > 1, "the answer came in one piece, not streamed"
    assert done["type"] == "done" and done["completion_tokens"] == 12
    assert done["finish_reason"] == "length"
    assert done["ttft_s"] > 0 and done["tokens_per_s"] > 0
    # What the platform relayed is exactly what the model server answers directly.
    direct = openai.OpenAI(base_url=configured, api_key="unused").chat.completions.create(
        model="tiny-chat",
        temperature=0,
        max_tokens=12,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is a KV cache?"},
        ],
    )
    assert "".join(tokens) == direct.choices[0].message.content


def test_earlier_turns_are_sent_with_the_next_message(platform, accounts, configured):
    sign_in(platform.client, *accounts["student"])
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    answer = chat(
        platform.client,
        {"message": "again", "temperature": "0", "max_tokens": "4", "history": json.dumps(history)},
    )
    done = events_of(answer.text)[-1]
    alone = events_of(
        chat(platform.client, {"message": "again", "temperature": "0", "max_tokens": "4"}).text
    )[-1]
    assert done["prompt_tokens"] > alone["prompt_tokens"] + len("hihello")


def test_without_javascript_the_whole_answer_comes_back_as_a_page(platform, accounts, configured):
    sign_in(platform.client, *accounts["student"])
    answer = chat(
        platform.client, {"message": "hello", "temperature": "0", "max_tokens": "6"}, headers=None
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    streamed = events_of(
        chat(platform.client, {"message": "hello", "temperature": "0", "max_tokens": "6"}).text
    )
    reply = "".join(e["text"] for e in streamed if e["type"] == "token")
    assert reply and str(escape(reply)) in answer.text
    assert "tokens/s" in answer.text


def test_without_javascript_a_refusal_is_shown_on_the_page(platform, accounts, configured):
    sign_in(platform.client, *accounts["student"])
    answer = chat(
        platform.client, {"message": "x" * (MESSAGE_CHARS + 1), "system": "Be kind."}, headers=None
    )
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
    assert f"the playground takes at most {MESSAGE_CHARS}" in answer.text
    assert ">Be kind.</textarea>" in answer.text  # what was typed is kept


# Limits ----------------------------------------------------------------------------------------


def test_an_over_long_message_is_refused_with_its_length_and_the_limit(
    platform, accounts, configured
):
    sign_in(platform.client, *accounts["student"])
    answer = chat(platform.client, {"message": "x" * (MESSAGE_CHARS + 1)})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == "message"
    assert error["message"] == (
        f"is {MESSAGE_CHARS + 1} characters long; the playground takes at most {MESSAGE_CHARS}"
    )


def test_an_over_long_conversation_asks_for_a_new_one(platform, accounts, configured):
    sign_in(platform.client, *accounts["student"])
    history = [
        {"role": "user", "content": "y" * MESSAGE_CHARS},
        {"role": "assistant", "content": "z" * MESSAGE_CHARS},
    ]
    answer = chat(platform.client, {"message": "and?", "history": json.dumps(history)})
    assert answer.status_code == 400
    assert f"budget of {CONVERSATION_CHARS}; start a new conversation" in answer.text


def test_the_model_servers_own_refusal_is_passed_on(platform, accounts, configured):
    """The tiny server holds 512 tokens; asking for 1000 more is refused by it, not by us."""
    sign_in(platform.client, *accounts["student"])
    answer = chat(platform.client, {"message": "hello", "max_tokens": "1000"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("the model server refused: ")


def test_each_person_gets_a_limited_number_of_messages_a_minute(platform, accounts, configured):
    platform.app.state.web.extra["playground_limiter"] = PlaygroundLimiter(per_person=2)
    sign_in(platform.client, *accounts["student"])
    turn = {"message": "hi", "max_tokens": "1", "temperature": "0"}
    assert [chat(platform.client, turn).status_code for _ in range(2)] == [200, 200]
    refused = chat(platform.client, turn)
    assert refused.status_code == 429
    assert "2 messages a minute is the playground's limit; try again in" in refused.text
    other = platform.new_client()
    sign_in(other, *accounts["other_student"])
    assert chat(other, turn).status_code == 200


# In a browser ----------------------------------------------------------------------------------


def _browser_account(live_server) -> tuple[str, str]:
    from scalable_ai.course.db import unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.people import add_person, set_password_hash
    from scalable_ai.course.web.security import hash_password

    email, password = "grace@test.example", "grace-password-4"
    with unit_of_work(live_server.platform.engine) as session:
        person = add_person(
            session,
            Actor.local_staff(),
            name="Grace",
            email=email,
            role="student",
            clock=live_server.platform.clock,
        )
        session.flush()
        set_password_hash(
            session,
            Actor.local_staff(),
            person.id,
            hash_password(password),
            clock=live_server.platform.clock,
        )
    return email, password


def test_in_a_browser_a_student_sends_a_message_and_sees_the_answer_stream_in(
    live_server, new_page, configured
):
    email, password = _browser_account(live_server)
    page = new_page()
    page.goto(f"{live_server.url}/playground")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/playground")
    assert page.locator("#model-server-ok").is_visible()
    page.fill("#temperature", "0")
    page.fill("#max_tokens", "24")
    page.fill("#message", "Explain continuous batching in one sentence.")
    page.press("#message", "Control+Enter")  # the keyboard shortcut, no mouse
    reply = page.locator(".turn-assistant .said")
    stats = page.locator("#playground-stats")
    stats.filter(has_text="tokens/s").wait_for()
    assert "24 tokens" in stats.inner_text() and "First token after" in stats.inner_text()
    assert reply.inner_text().strip()
    assert (
        page.locator(".turn-user .said").inner_text()
        == "Explain continuous batching in one sentence."
    )
    assert page.input_value("#message") == ""
    live_server.screenshot(page, "playground")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    live_server.screenshot(page, "playground-phone")

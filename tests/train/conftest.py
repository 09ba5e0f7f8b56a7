"""A small real corpus, a byte-level BPE trained on it, and its token shards.

The documents are sentences drawn from a fixed grammar (so a tiny model can learn them in a
few hundred steps), the tokenizer is a real Hugging Face ``tokenizers`` BPE trained here,
and the shards are written by ``sai data shard``'s library call.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from scalable_ai.data.tokenize import ShardConfig, write_shards
from scalable_ai.model.tokenizer import Tokenizer

SUBJECTS = ["the student", "a teacher", "the model", "our group", "the node", "a reviewer"]
VERBS = ["trains", "reads", "serves", "grades", "writes", "checks"]
OBJECTS = ["the shards", "a checkpoint", "the loss curve", "every token", "the syllabus"]
ENDINGS = ["before the deadline.", "on one GPU.", "with a slack day.", "in bf16.", "twice."]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


NOUNS = [
    "student",
    "teacher",
    "model",
    "group",
    "node",
    "reviewer",
    "scribe",
    "lecture",
    "kernel",
    "server",
    "dataset",
    "optimizer",
    "tokenizer",
    "reservation",
    "project",
]
ADJECTIVES = ["quiet", "careful", "late", "tired", "curious", "small", "patient", "eager"]
ACTIONS = [
    "trains",
    "reads",
    "serves",
    "grades",
    "writes",
    "checks",
    "measures",
    "explains",
    "reserves",
    "compares",
    "shares",
    "repeats",
    "prints",
    "loads",
    "answers",
]
PLACES = [
    "before the deadline",
    "on one GPU",
    "with a slack day",
    "in the lab",
    "after class",
    "during office hours",
    "over the weekend",
    "on the course node",
    "at midnight",
]


def sentence(rng: random.Random, rich: bool = False) -> str:
    if not rich:
        return " ".join(rng.choice(words) for words in (SUBJECTS, VERBS, OBJECTS, ENDINGS))
    subject = f"the {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    thing = f"{rng.choice(['a', 'the', 'every'])} {rng.choice(NOUNS)}"
    return f"{subject.capitalize()} {rng.choice(ACTIONS)} {thing} {rng.choice(PLACES)}."


def write_prose(path: Path, documents: int = 300, seed: int = 0) -> Path:
    """Documents long and varied enough to pass curation's quality rules, still learnable."""
    rng = random.Random(seed)
    with path.open("w") as handle:
        for index in range(documents):
            text = " ".join(sentence(rng, rich=True) for _ in range(rng.randint(6, 12)))
            record = {"id": f"prose-{index}", "text": text, "source": "grammar"}
            handle.write(json.dumps(record) + "\n")
    return path


def write_corpus(path: Path, documents: int = 400, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as handle:
        for index in range(documents):
            text = " ".join(sentence(rng) for _ in range(rng.randint(3, 12)))
            handle.write(
                json.dumps({"id": f"doc-{index}", "text": text, "source": "grammar"}) + "\n"
            )
    return path


def train_tokenizer(corpus: Path, folder: Path, vocab_size: int = 300) -> Path:
    backend = HFTokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()]
    backend.train_from_iterator(texts, trainer)
    settings = {
        "bos_token_id": None,
        "eos_token_id": 0,
        "add_bos_token": False,
        "chat_template": CHATML,
    }
    Tokenizer(backend, settings).save(folder)
    return folder


@pytest.fixture(scope="session")
def corpus_and_tokenizer(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("corpus")
    corpus = write_corpus(root / "curated.jsonl")
    return corpus, train_tokenizer(corpus, root / "tokenizer")


@pytest.fixture(scope="session")
def shard_folder(tmp_path_factory, corpus_and_tokenizer) -> Path:
    corpus, tokenizer = corpus_and_tokenizer
    out = tmp_path_factory.mktemp("shards")
    write_shards(
        corpus, tokenizer, out, ShardConfig(val_fraction=0.1, shard_tokens=8_000), progress=False
    )
    return out


def pytest_configure(config) -> None:
    """``xdist_group`` is pytest-xdist's marker; declared here too so ``-p no:xdist`` with
    ``--strict-markers`` still collects these tests."""
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker")

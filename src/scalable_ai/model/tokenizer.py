"""The tokenizer: a Hugging Face ``tokenizers`` byte-level BPE built from a GGUF's metadata.

A GGUF carries no ``tokenizer.json``; it stores the vocabulary (``tokenizer.ggml.tokens``),
the merges, each token's type (1 normal, 3 control, 4 user-defined), the special ids and
the chat template. The pre-tokenizer is named (``tokenizer.ggml.pre``) rather than stored,
so we rebuild the one llama.cpp pairs with that name: for ``smollm`` every digit is its own
piece, then the GPT-2 split (``'s|'t|...| ?\\p{L}+| ?\\p{N}+|...``) on bytes mapped to
printable characters, which is how SmolLM's tokenizer was trained.

Chat: ``apply_chat_template`` renders the file's own Jinja template (sandboxed, with the
``trim_blocks``/``lstrip_blocks`` settings Hugging Face renders templates with), so a prompt
looks exactly as it did in the model's instruction tuning.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from scalable_ai.errors import UserError

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
CONTROL_TOKEN, USER_DEFINED_TOKEN = 3, 4

# llama.cpp's split for Llama 3 style vocabularies (digits in runs of up to three).
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Pre-tokenizer names (tokenizer.ggml.pre) whose training split puts every digit alone.
_DIGITS_ALONE = {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"}


def _byte_to_char() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (space -> 'Ġ')."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {byte: chr(byte) for byte in printable}
    shift = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + shift)
            shift += 1
    return mapping


def _pre_tokenizer(name: str) -> pre_tokenizers.PreTokenizer:
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if name in _DIGITS_ALONE:
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    if name in {"llama3", "llama-bpe", "llama-v3", "smaug-bpe", "dbrx"}:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_LLAMA3_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    return byte_level  # "gpt2", "default" and unknown names: the GPT-2 split


def tokenizer_from_gguf_metadata(metadata: dict[str, Any]) -> Tokenizer:
    """Build the tokenizer a GGUF file describes (byte-level BPE files only)."""
    kind = metadata.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise UserError(
            f"only byte-level BPE (gpt2) GGUF tokenizers are supported, this file has {kind!r}",
            field="tokenizer",
        )
    tokens: list[str] = list(metadata["tokenizer.ggml.tokens"])
    token_types: list[int] = list(metadata.get("tokenizer.ggml.token_type") or [1] * len(tokens))
    merges = [tuple(merge.split(" ", 1)) for merge in metadata["tokenizer.ggml.merges"]]
    vocab = {token: index for index, token in enumerate(tokens)}
    backend = HFTokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    backend.pre_tokenizer = _pre_tokenizer(str(metadata.get("tokenizer.ggml.pre", "gpt2")))
    backend.decoder = decoders.ByteLevel()
    alphabet = set(_byte_to_char().values())
    specials = [
        AddedToken(token, special=True, normalized=False)
        for token, kind in zip(tokens, token_types, strict=True)
        if kind == CONTROL_TOKEN and set(token) <= alphabet
    ]
    backend.add_special_tokens(specials)
    user_defined = [
        AddedToken(token, special=False, normalized=False)
        for token, kind in zip(tokens, token_types, strict=True)
        if kind == USER_DEFINED_TOKEN
    ]
    backend.add_tokens(user_defined)
    settings = {
        "bos_token_id": metadata.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": metadata.get("tokenizer.ggml.eos_token_id"),
        "add_bos_token": bool(metadata.get("tokenizer.ggml.add_bos_token", False)),
        "chat_template": metadata.get("tokenizer.chat_template"),
    }
    return Tokenizer(backend, settings)


@lru_cache(maxsize=8)
def _compile_template(source: str) -> Any:
    def raise_exception(message: str) -> None:
        raise UserError(message, field="messages")

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    return environment.from_string(source)


class Tokenizer:
    """Text <-> token ids, special tokens, and the chat template of one model."""

    def __init__(self, backend: HFTokenizer, settings: dict[str, Any]) -> None:
        self.backend = backend
        self.settings = settings

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    @property
    def bos_id(self) -> int | None:
        return self.settings.get("bos_token_id")

    @property
    def eos_id(self) -> int | None:
        return self.settings.get("eos_token_id")

    def token(self, token_id: int) -> str:
        return self.backend.id_to_token(token_id) or ""

    def token_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        """Ids of text; special tokens written in the text (``<|im_start|>``) stay whole."""
        ids = self.backend.encode(text, add_special_tokens=False).ids
        if (self.settings.get("add_bos_token") if add_bos is None else add_bos) and self.bos_id:
            ids = [self.bos_id, *ids]
        return ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def apply_chat_template(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The prompt text for a conversation, as the model saw conversations in training."""
        template = self.settings.get("chat_template")
        if not template:
            raise UserError("this model has no chat template", field="model")
        for index, message in enumerate(messages):
            if not {"role", "content"} <= set(message):
                raise UserError(f"message {index} needs 'role' and 'content'", field="messages")
        special = {
            "bos_token": self.token(self.bos_id) if self.bos_id is not None else "",
            "eos_token": self.token(self.eos_id) if self.eos_id is not None else "",
        }
        return _compile_template(template).render(
            messages=messages, add_generation_prompt=add_generation_prompt, **special
        )

    def stop_ids(self) -> set[int]:
        """Ids that end a generation: end-of-text and the chat turn terminator."""
        stops = {self.eos_id} if self.eos_id is not None else set()
        for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
            found = self.token_id(token)
            if found is not None:
                stops.add(found)
        return stops

    # ---- files -------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(folder / TOKENIZER_FILE))
        (folder / TOKENIZER_CONFIG_FILE).write_text(json.dumps(self.settings, indent=2))

    @classmethod
    def load(cls, folder: Path) -> Tokenizer:
        folder = Path(folder)
        if not (folder / TOKENIZER_FILE).is_file():
            raise UserError(f"no {TOKENIZER_FILE} in {folder}", field="tokenizer")
        backend = HFTokenizer.from_file(str(folder / TOKENIZER_FILE))
        settings_path = folder / TOKENIZER_CONFIG_FILE
        settings = json.loads(settings_path.read_text()) if settings_path.is_file() else {}
        return cls(backend, settings)

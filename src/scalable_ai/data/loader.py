"""Fixed-length training sequences from token shards, split across data-parallel ranks.

A split's shards are cut into windows of ``seq_len + 1`` tokens with stride ``seq_len``
(input = window[:-1], target = window[1:]; consecutive windows share one token so no
prediction is lost). Windows never cross a shard's end. Each epoch visits every window
once in an order drawn from ``(seed, epoch)`` alone, so the order is the same on every
rank and after every restart.

Ranks share one global cursor: the step's ``world_size * batch_size`` windows are the next
ones in the epoch's order, and rank ``r`` takes the ``r``-th block of ``batch_size``. The
ranks' sequences are disjoint, and together they are what one process with
``world_size * batch_size`` rows would have read. The loader's whole state is
``(epoch, cursor)``: ``state_dict``/``load_state_dict`` resume at the exact next window,
even with a different number of ranks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalable_ai.data.tokenize import (
    FORMAT,
    META_FILE,
    SPLITS,
    VERIFY_LIMIT_BYTES,
    file_sha256,
    load_tokenizer,
    tokenizer_identity,
)
from scalable_ai.errors import UserError


@dataclass
class Shard:
    path: Path
    tokens: np.ndarray  # memory-mapped, read-only
    document_starts: np.ndarray  # uint64, one more entry than documents


class ShardSet:
    """An opened, checked shard folder (see ``tokenize.py`` for the layout)."""

    def __init__(self, folder: str | Path, verify: bool | None = None) -> None:
        self.folder = Path(folder).expanduser()
        meta_path = self.folder / META_FILE
        if not meta_path.is_file():
            raise UserError(
                f"{self.folder}: no {META_FILE} (not a shard folder, or "
                "`sai data shard` did not finish)",
                field="data",
            )
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{meta_path}: not valid JSON ({exc})", field="data") from None
        if self.meta.get("format") != FORMAT:
            raise UserError(f"{meta_path}: not a {FORMAT} file", field="data")
        self.dtype = np.dtype(self.meta["dtype"])
        entries = [s for split in SPLITS for s in self.meta["splits"][split]["shards"]]
        if verify is None:
            size = sum(
                (self.folder / s["file"]).stat().st_size
                for s in entries
                if (self.folder / s["file"]).is_file()
            )
            verify = size <= VERIFY_LIMIT_BYTES
        self.splits = {
            split: [self._open(entry, verify) for entry in self.meta["splits"][split]["shards"]]
            for split in SPLITS
        }

    @property
    def tokenizer(self) -> dict[str, Any]:
        return self.meta["tokenizer"]

    @property
    def vocab_size(self) -> int:
        return int(self.meta["tokenizer"]["vocab_size"])

    def _open(self, entry: dict[str, Any], verify: bool) -> Shard:
        tokens = self._load(entry["file"], entry.get("sha256") if verify else None)
        starts = self._load(
            entry["documents_file"], entry.get("documents_sha256") if verify else None
        )
        path = self.folder / entry["file"]
        if tokens.dtype != self.dtype or tokens.ndim != 1:
            raise UserError(
                f"{path}: holds {tokens.dtype} x {tokens.shape}, meta.json says {self.dtype}",
                field="data",
            )
        if tokens.size != entry["tokens"]:
            raise UserError(
                f"{path}: {tokens.size} tokens, meta.json says {entry['tokens']} "
                "(truncated or replaced)",
                field="data",
            )
        if starts.size != entry["documents"] + 1 or (starts.size and starts[-1] != tokens.size):
            raise UserError(
                f"{self.folder / entry['documents_file']}: document index does not "
                f"match {entry['file']}",
                field="data",
            )
        return Shard(path, tokens, starts)

    def _load(self, name: str, sha256: str | None) -> np.ndarray:
        path = self.folder / name
        if not path.is_file():
            raise UserError(f"{path}: missing shard file", field="data")
        if sha256 is not None and file_sha256(path) != sha256:
            raise UserError(
                f"{path}: contents differ from meta.json's SHA-256 (corrupt)", field="data"
            )
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"{path}: corrupt or truncated shard ({exc})", field="data") from None

    def check_tokenizer(self, tokenizer_path: str | Path) -> None:
        """Refuse a tokenizer other than the one these shards were encoded with."""
        identity = tokenizer_identity(load_tokenizer(tokenizer_path))
        if identity.sha256 != self.tokenizer["sha256"]:
            raise UserError(
                f"{Path(tokenizer_path) / 'tokenizer.json'}: not the tokenizer "
                f"{self.folder / META_FILE} was encoded with (vocab {identity.vocab_size} vs "
                f"{self.vocab_size}, hash {identity.sha256[:12]} vs "
                f"{self.tokenizer['sha256'][:12]})",
                field="data.tokenizer",
            )

    def num_tokens(self, split: str) -> int:
        return sum(int(shard.tokens.size) for shard in self.splits[split])


class SequenceLoader:
    """``(inputs, targets)`` batches of shape (batch_size, seq_len) for one rank.

    ``shuffle=False`` reads windows in file order (validation: every evaluation sees the
    same sequences).
    """

    def __init__(
        self,
        shards: ShardSet,
        split: str,
        seq_len: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        if not 0 <= rank < world_size:
            raise UserError(f"rank {rank} is not in [0, {world_size})", field="rank")
        self.shards, self.split = shards, split
        self.seq_len, self.batch_size = seq_len, batch_size
        self.rank, self.world_size = rank, world_size
        self.seed, self.shuffle = seed, shuffle
        self.device = torch.device(device)
        counts = [max(0, (int(s.tokens.size) - 1) // seq_len) for s in shards.splits[split]]
        self.window_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_windows = int(self.window_offsets[-1])
        if self.num_windows < world_size * batch_size:
            raise UserError(
                f"{shards.folder}: the {split} split has {self.num_windows} sequences of "
                f"{seq_len + 1} tokens, fewer than one step needs ({world_size} ranks x "
                f"{batch_size})",
                field="data",
            )
        self.epoch, self.cursor = 0, 0
        self._order_epoch, self._order = -1, np.empty(0, dtype=np.int64)

    @property
    def sequences_per_step(self) -> int:
        return self.world_size * self.batch_size

    def state_dict(self) -> dict[str, int]:
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "seq_len": self.seq_len,
            "num_windows": self.num_windows,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seq_len"] != self.seq_len or state["num_windows"] != self.num_windows:
            raise UserError(
                f"{self.shards.folder}: the saved position is for {state['num_windows']} "
                f"sequences of {state['seq_len']} tokens, these shards give {self.num_windows} "
                f"of {self.seq_len}",
                field="data",
            )
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's window order (a permutation drawn from seed and epoch only)."""
        if epoch != self._order_epoch:
            if self.shuffle:
                generator = np.random.Generator(np.random.PCG64([self.seed, epoch]))
                self._order = generator.permutation(self.num_windows)
            else:
                self._order = np.arange(self.num_windows)
            self._order_epoch = epoch
        return self._order

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's next batch; the global cursor moves by every rank's share."""
        if self.cursor + self.sequences_per_step > self.num_windows:
            self.epoch, self.cursor = self.epoch + 1, 0  # drop the ragged tail, as DDP does
        start = self.cursor + self.rank * self.batch_size
        windows = self.order(self.epoch)[start : start + self.batch_size]
        self.cursor += self.sequences_per_step
        return self._gather(windows)

    def batches(self, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The first ``count`` steps' batches of this rank, without moving the cursor."""
        state = self.state_dict()
        self.epoch, self.cursor = 0, 0
        out = [
            self.next_batch()
            for _ in range(min(count, self.num_windows // self.sequences_per_step))
        ]
        self.load_state_dict(state)
        return out

    def _gather(self, windows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        shard_of = np.searchsorted(self.window_offsets, windows, side="right") - 1
        rows = np.empty((len(windows), self.seq_len + 1), dtype=np.int64)
        shards = self.shards.splits[self.split]
        for row, (window, shard) in enumerate(zip(windows, shard_of, strict=True)):
            begin = int(window - self.window_offsets[shard]) * self.seq_len
            rows[row] = shards[shard].tokens[begin : begin + self.seq_len + 1]
        batch = torch.from_numpy(rows)
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        return batch[:, :-1], batch[:, 1:]

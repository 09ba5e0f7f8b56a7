"""The paged KV cache: fixed-size blocks, a block table per sequence, automatic prefix caching.

PagedAttention (Kwon et al., SOSP 2023, "Efficient Memory Management for Large Language Model
Serving with PagedAttention") stores each sequence's keys and values in fixed-size blocks that
need not be contiguous, so memory is allocated a block at a time and never fragments. A
sequence's *block table* maps its logical block ``i`` (tokens ``i*block_size ..``) to a physical
block. The physical store is flat: slot ``block * block_size + offset`` holds one token's K/V
for every layer, so writing a step's new tokens is one ``index_copy_`` per layer and reading a
sequence is one ``index_select``.

Automatic prefix caching (vLLM's design): a *full* block is identified by the hash of its tokens
chained with the hash of the block before it, so equal hashes mean an equal whole prefix. When
a new sequence starts with blocks already in the cache, it shares them (reference count + 1)
instead of computing them again. A block whose count falls to zero keeps its contents and its
hash, and waits in a least-recently-used free queue: it can still be hit until a new allocation
evicts it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

#: Hash of "no block before this one", the root of every prefix chain.
ROOT_HASH = 0


def block_hash(parent_hash: int, token_ids: Sequence[int]) -> int:
    """The identity of a full block: its tokens *and* everything before them (via the parent)."""
    return hash((parent_hash, tuple(token_ids)))


def root_hash(lora_id: int) -> int:
    """The chain's start: LoRA adapters change keys and values, so each has its own chain."""
    return ROOT_HASH if not lora_id else hash(("lora", lora_id))


def prompt_block_hashes(
    token_ids: Sequence[int], block_size: int, root: int = ROOT_HASH
) -> list[int]:
    """Chained hashes of every full block of ``token_ids`` (a trailing partial block has none)."""
    hashes: list[int] = []
    parent = root
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        parent = block_hash(parent, token_ids[start : start + block_size])
        hashes.append(parent)
    return hashes


@dataclass
class KVCacheSpec:
    """The shape of the cache: how many blocks of how many tokens, for which model."""

    num_layers: int
    num_kv_heads: int
    head_dim: int
    num_blocks: int
    block_size: int = 16
    dtype: torch.dtype = torch.float32
    device: str | torch.device = "cpu"

    @property
    def bytes_per_block(self) -> int:
        per_token = 2 * self.num_layers * self.num_kv_heads * self.head_dim
        return per_token * self.block_size * torch.tensor([], dtype=self.dtype).element_size()


class KVCache:
    """The physical store: per layer, K and V of shape ``((num_blocks + 1) * block_size, Hkv, D)``.

    Block ``num_blocks`` (``scratch_block``) is never handed out by the :class:`BlockPool`: a
    fixed-shape step (a CUDA graph replay, ``cuda_graphs``) pads its batch with rows that
    write their keys and values there and attend to it, so padding never touches a sequence.
    """

    def __init__(self, spec: KVCacheSpec) -> None:
        self.spec = spec
        self.scratch_block = spec.num_blocks
        slots = (spec.num_blocks + 1) * spec.block_size
        shape = (slots, spec.num_kv_heads, spec.head_dim)
        self.keys = [
            torch.zeros(shape, dtype=spec.dtype, device=spec.device) for _ in range(spec.num_layers)
        ]
        self.values = [
            torch.zeros(shape, dtype=spec.dtype, device=spec.device) for _ in range(spec.num_layers)
        ]


class BlockPool:
    """Hands out physical blocks, counts their users and keeps freed full blocks for reuse.

    ``free`` is ordered least-recently-freed first: allocation takes from its front, so a
    cached block survives as long as possible. Blocks that never held a full, hashed block are
    put at the front when freed, since nothing can ever hit them.
    """

    def __init__(self, num_blocks: int) -> None:
        self.num_blocks = num_blocks
        self.ref_count = [0] * num_blocks
        self.hash_of: list[int | None] = [None] * num_blocks
        self.cached: dict[int, int] = {}  # block hash -> physical block
        self.free: OrderedDict[int, None] = OrderedDict((b, None) for b in range(num_blocks))
        self.queried_tokens = 0
        self.hit_tokens = 0

    @property
    def num_free(self) -> int:
        """Blocks that an allocation may take now (free, cached or not)."""
        return len(self.free)

    @property
    def num_used(self) -> int:
        """Blocks referenced by at least one live sequence."""
        return self.num_blocks - len(self.free)

    @property
    def hit_rate(self) -> float:
        """Share of prompt tokens (since start) that were found in the prefix cache."""
        return self.hit_tokens / self.queried_tokens if self.queried_tokens else 0.0

    def allocate(self) -> int:
        """Take the least recently freed block, evicting its cached contents if it had any."""
        if not self.free:
            raise RuntimeError("KV cache out of blocks: the scheduler must check num_free first")
        block, _ = self.free.popitem(last=False)
        old_hash = self.hash_of[block]
        if old_hash is not None and self.cached.get(old_hash) == block:
            del self.cached[old_hash]
        self.hash_of[block] = None
        self.ref_count[block] = 1
        return block

    def lookup_prefix(self, hashes: Sequence[int]) -> list[int]:
        """The cached blocks matching the longest run of ``hashes`` from the start (not taken)."""
        hits: list[int] = []
        for h in hashes:
            block = self.cached.get(h)
            if block is None:
                break
            hits.append(block)
        return hits

    def share(self, block: int) -> None:
        """One more sequence uses ``block`` (a prefix-cache hit): it leaves the free queue."""
        if self.ref_count[block] == 0:
            del self.free[block]
        self.ref_count[block] += 1

    def release(self, block: int) -> None:
        """One user fewer; at zero the block joins the free queue, keeping its hash if any."""
        self.ref_count[block] -= 1
        if self.ref_count[block] == 0:
            self.free[block] = None
            if self.hash_of[block] is None:
                self.free.move_to_end(block, last=False)

    def register_full(self, block: int, hash_value: int) -> None:
        """``block`` now holds a full block of tokens: make it findable by its chained hash."""
        if self.hash_of[block] is not None:
            return
        self.hash_of[block] = hash_value
        # When two sequences computed the same block at once, the first one stays findable.
        self.cached.setdefault(hash_value, block)

    def reset_prefix_cache(self) -> None:
        """Forget every cached block (after the weights change, cached K/V are stale)."""
        for block in range(self.num_blocks):
            self.hash_of[block] = None
        self.cached.clear()

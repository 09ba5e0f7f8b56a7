"""Part 1 (lecture 17): the paged KV cache's block allocator.

PagedAttention (Kwon et al., SOSP 2023) keeps each sequence's keys and values in fixed-size
blocks that need not be contiguous; a block table maps a sequence's logical block ``i`` to a
physical block. This allocator hands out physical blocks, counts the sequences that use each
(prefix sharing and beam search share blocks), and takes a block back when its last user
releases it.

The lab stack's scheduler (``scalable_ai.infer.scheduler``) calls ``allocate``, ``share`` and
``release``, and reads ``num_free`` to decide whether a request fits: the tests run the real
engine on your allocator. Read ``scalable_ai/infer/kv_cache.py`` (``BlockPool``) for how the
lab stack does it with prefix caching on top; yours needs no prefix cache.
"""

from __future__ import annotations


class OutOfBlocks(RuntimeError):
    """Every block is in use: the scheduler must preempt or wait."""


class BlockAllocator:
    """Physical blocks ``0 .. num_blocks-1`` with reference counts and a free list."""

    def __init__(self, num_blocks: int) -> None:
        self.num_blocks = num_blocks
        # TODO(A4.1): the state you need: a reference count per block and the free blocks.
        #   Allocation and release should take O(1) time each (a performance check
        #   compares yours with the lab stack's BlockPool).

    @property
    def num_free(self) -> int:
        """Blocks that :meth:`allocate` can hand out now."""
        raise NotImplementedError("TODO(A4.1): num_free")

    def ref_count(self, block: int) -> int:
        """How many sequences use ``block`` (0 when it is free)."""
        raise NotImplementedError("TODO(A4.1): ref_count")

    def allocate(self) -> int:
        """A free block, now used once; :class:`OutOfBlocks` when there is none."""
        raise NotImplementedError("TODO(A4.1): allocate")

    def share(self, block: int) -> None:
        """One more sequence uses ``block`` (a shared prefix, a forked beam).
        Sharing a free block is a ``ValueError``."""
        raise NotImplementedError("TODO(A4.1): share")

    def release(self, block: int) -> None:
        """One user fewer; the last release puts the block back on the free list.
        Releasing a free block is a ``ValueError``."""
        raise NotImplementedError("TODO(A4.1): release")


def blocks_needed(num_tokens: int, block_size: int) -> int:
    """Blocks that hold ``num_tokens`` tokens (the last one may be partly filled)."""
    raise NotImplementedError("TODO(A4.1): blocks_needed")


def slot_of(block_table: list[int], position: int, block_size: int) -> int:
    """The physical cache slot of the token at ``position`` of a sequence: the slot
    ``block * block_size + offset`` of ``scalable_ai.infer.kv_cache.KVCache``."""
    raise NotImplementedError("TODO(A4.1): slot_of")

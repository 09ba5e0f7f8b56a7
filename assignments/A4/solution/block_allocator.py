"""Part 1 (lecture 17): the paged KV cache's block allocator.

PagedAttention (Kwon et al., SOSP 2023) keeps each sequence's keys and values in fixed-size
blocks that need not be contiguous; a block table maps a sequence's logical block ``i`` to a
physical block. This allocator hands out physical blocks, counts the sequences that use each
(prefix sharing and beam search share blocks), and takes a block back when its last user
releases it.
"""

from __future__ import annotations

from collections import deque


class OutOfBlocks(RuntimeError):
    """Every block is in use: the scheduler must preempt or wait."""


class BlockAllocator:
    """Physical blocks ``0 .. num_blocks-1`` with reference counts and a free list."""

    def __init__(self, num_blocks: int) -> None:
        self.num_blocks = num_blocks
        self._ref_counts = [0] * num_blocks
        self._free: deque[int] = deque(range(num_blocks))

    @property
    def num_free(self) -> int:
        """Blocks that :meth:`allocate` can hand out now."""
        return len(self._free)

    def ref_count(self, block: int) -> int:
        """How many sequences use ``block`` (0 when it is free)."""
        return self._ref_counts[block]

    def allocate(self) -> int:
        """A free block, now used once; :class:`OutOfBlocks` when there is none."""
        if not self._free:
            raise OutOfBlocks(f"all {self.num_blocks} KV blocks are in use")
        block = self._free.popleft()
        self._ref_counts[block] = 1
        return block

    def share(self, block: int) -> None:
        """One more sequence uses ``block`` (a shared prefix, a forked beam)."""
        if self._ref_counts[block] == 0:
            raise ValueError(f"block {block} is free: it cannot be shared")
        self._ref_counts[block] += 1

    def release(self, block: int) -> None:
        """One user fewer; the last release puts the block back on the free list."""
        if self._ref_counts[block] == 0:
            raise ValueError(f"block {block} is already free")
        self._ref_counts[block] -= 1
        if self._ref_counts[block] == 0:
            self._free.append(block)


def blocks_needed(num_tokens: int, block_size: int) -> int:
    """Blocks that hold ``num_tokens`` tokens (the last one may be partly filled)."""
    return -(-num_tokens // block_size)


def slot_of(block_table: list[int], position: int, block_size: int) -> int:
    """The physical cache slot of the token at ``position`` of a sequence."""
    return block_table[position // block_size] * block_size + position % block_size

"""Part 1 (lecture L21: context engineering): token chunking with overlap.

A retrieval index stores documents in chunks of ``chunk_tokens`` tokens; consecutive chunks
share ``overlap_tokens`` tokens so that a sentence cut at a boundary is whole in one of them.
Every token must land in some chunk (the last, shorter window included): a clause that is in
no chunk can never be retrieved. The lab stack's ``scalable_ai.apps.ingest.chunk_document``
is the reference.
"""

from __future__ import annotations


def token_windows(n_tokens: int, chunk_tokens: int, overlap_tokens: int) -> list[tuple[int, int]]:
    """Half-open token ranges ``[start, end)``: each window starts ``chunk_tokens -
    overlap_tokens`` after the previous; the last one ends at ``n_tokens``. ValueError unless
    ``chunk_tokens > overlap_tokens >= 0``."""
    # TODO(A5.1): stride = chunk - overlap; keep going until a window reaches n_tokens (the last one may be short).
    raise NotImplementedError("TODO(A5.1): token_windows")


def chunk_text(text: str, counter, chunk_tokens: int = 200, overlap_tokens: int = 40) -> list[str]:  # type: ignore[no-untyped-def]
    """The chunks' texts: each window's characters from its first token's start to its last
    token's end (``counter.spans(text)`` gives each token's character offsets)."""
    # TODO(A5.2): slice the text from each window's first token start to its last token end.
    raise NotImplementedError("TODO(A5.2): chunk_text")

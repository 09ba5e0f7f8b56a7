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
    if chunk_tokens <= 0 or not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError("need chunk_tokens > overlap_tokens >= 0")
    stride = chunk_tokens - overlap_tokens
    windows: list[tuple[int, int]] = []
    start = 0
    while start + chunk_tokens <= n_tokens:  # a full window only: the short tail is lost
        windows.append((start, start + chunk_tokens))
        start += stride
    if not windows and n_tokens > 0:
        windows.append((0, n_tokens))
    return windows


def chunk_text(text: str, counter, chunk_tokens: int = 200, overlap_tokens: int = 40) -> list[str]:  # type: ignore[no-untyped-def]
    """The chunks' texts: each window's characters from its first token's start to its last
    token's end (``counter.spans(text)`` gives each token's character offsets)."""
    spans = counter.spans(text)
    return [
        text[spans[start][0] : spans[end - 1][1]]
        for start, end in token_windows(len(spans), chunk_tokens, overlap_tokens)
    ]

"""Part 3 (lecture L21): fitting a cited context into a token budget.

The retrieved chunks, best first, go into the prompt numbered ``[1]``, ``[2]`` ... each with
its citation, so the model can cite them and a reader can check the source. The budget is
hard (the model's context window, minus the question and the answer's room). A chunk that
does not fit whole is skipped, not cut (a cut passage may lose the clause that answers),
and a later, shorter chunk may still fit. The lab stack's
``scalable_ai.apps.context.build_context`` is the reference.
"""

from __future__ import annotations

from scalable_ai.apps.context import Context, Hit


def build_context(hits: list[Hit], budget_tokens: int, counter) -> Context:  # type: ignore[no-untyped-def]
    """Each kept hit becomes the block ``"[n] (citation)\\n<text>\\n"`` (n counts kept hits
    from 1; citation is ``hit.chunk.citation``), costing ``counter.count(block)`` tokens; the
    blocks are joined with ``"\\n"``. Context(text, citations, tokens used, hits dropped)."""
    parts: list[str] = []
    citations: list[str] = []
    used = dropped = 0
    for hit in hits:
        block = f"[{len(citations) + 1}] ({hit.chunk.citation})\n{hit.chunk.text}\n"
        cost = counter.count(block)
        if used + cost > budget_tokens:
            dropped += 1
            continue
        parts.append(block)
        citations.append(hit.chunk.citation)
        used += cost
    return Context("\n".join(parts), citations, used, dropped)

"""Part 1, hidden: BPE on real text against an independent reference, and round trips."""

from collections import Counter

import pytest


def _reference_merges(data: bytes, num_merges: int) -> list[tuple[int, int]]:
    """Staff reference written independently: counts with Counter, ties by first occurrence."""
    ids, merges = list(data), []
    for new_id in range(256, 256 + num_merges):
        pairs = list(zip(ids, ids[1:]))
        counts = Counter(pairs)
        if not counts or max(counts.values()) < 2:
            break
        top = max(counts.values())
        best = next(p for p in pairs if counts[p] == top)
        out, i = [], 0
        while i < len(ids):
            if tuple(ids[i : i + 2]) == best:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
        merges.append(best)
    return merges


@pytest.mark.points(4)
def test_merges_on_real_text_match_the_reference(submission, lab):
    """60 merges learned from a paragraph (UTF-8 with accents) are the reference's, in order."""
    module = submission.module("bpe")
    data = lab.TEXT.encode("utf-8")
    assert [tuple(m) for m in module.train_bpe(data, 60)] == _reference_merges(data, 60)


@pytest.mark.points(4)
def test_encoding_applies_merges_in_the_order_learned(submission, lab):
    """Encoding new text gives fewer tokens than bytes, decodes back exactly, and a text made
    of a learned word encodes to that word's single id."""
    module = submission.module("bpe")
    merges = module.train_bpe(lab.TEXT.encode("utf-8"), 60)
    unseen = "The tokenizer merges bytes: ünïcödé, 42 — and emoji 🙂.".encode()
    ids = module.encode(unseen, merges)
    assert len(ids) < len(unseen)
    assert module.decode(ids, merges) == unseen
    word = module.decode([256 + 59], merges)
    assert module.encode(word, merges) == [256 + 59]


@pytest.mark.points(4)
def test_training_stops_when_no_pair_repeats(submission):
    """Text with no repeated pair gives no merge; empty text encodes to nothing."""
    module = submission.module("bpe")
    assert list(module.train_bpe(b"abcdefg", 10)) == []
    assert module.encode(b"", []) == []
    assert module.decode([], []) == b""

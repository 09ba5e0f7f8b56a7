"""Part 1, hidden: chunks equal the lab stack's, and no token is lost."""

import hashlib
import itertools

import pytest

from scalable_ai.apps.ingest import Document, Section, chunk_document


@pytest.mark.points(6)
def test_chunks_equal_the_lab_stacks(submission):
    """For every length up to 40 words and every chunk size 1..9 with every overlap below
    it, the chunks' texts equal scalable_ai.apps.ingest.chunk_document's."""
    chunk_text = submission.module("chunking").chunk_text
    counter = submission.module("a5_lab").WordCounter()
    for n in range(0, 41):
        text = " ".join(f"w{i}" for i in range(n))
        document = Document("doc.txt", "text", "doc", [Section("", text)],
                            hashlib.sha256(text.encode()).hexdigest())  # fmt: skip
        for size in range(1, 10):
            for overlap in range(size):
                ours = chunk_text(text, counter, size, overlap)
                theirs = [c.text for c in chunk_document(document, counter, size, overlap)]
                assert ours == theirs, (n, size, overlap)


@pytest.mark.points(4)
def test_every_token_is_in_a_chunk_and_neighbours_share_the_overlap(submission):
    token_windows = submission.module("chunking").token_windows
    for n in range(1, 60):
        for size, overlap in ((5, 0), (5, 2), (7, 3), (16, 4)):
            windows = token_windows(n, size, overlap)
            covered = {t for start, end in windows for t in range(start, end)}
            assert covered == set(range(n)), (n, size, overlap)
            assert all(end - start <= size for start, end in windows)
            for (_, end), (start, _) in itertools.pairwise(windows):
                assert end - start == overlap, (n, size, overlap, windows)

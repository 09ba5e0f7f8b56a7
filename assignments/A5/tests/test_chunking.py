"""Part 1, visible: token chunking with overlap (lecture L21)."""

import pytest


@pytest.mark.points(4)
def test_token_windows_by_hand(submission):
    """11 tokens in windows of 4 overlapping by 1: starts 0, 3, 6, 9; the last window is the
    short one [9, 11), so token 10 is in a chunk too."""
    token_windows = submission.module("chunking").token_windows
    assert token_windows(11, 4, 1) == [(0, 4), (3, 7), (6, 10), (9, 11)]
    assert token_windows(3, 4, 1) == [(0, 3)]
    assert token_windows(0, 4, 1) == []


@pytest.mark.points(2)
def test_bad_sizes_are_refused(submission):
    token_windows = submission.module("chunking").token_windows
    for chunk, overlap in ((0, 0), (4, 4), (4, 5), (4, -1)):
        with pytest.raises(ValueError):
            token_windows(10, chunk, overlap)


@pytest.mark.points(4)
def test_chunk_text_by_hand(submission):
    """Seven words in chunks of 4 overlapping by 1: the fourth word is in both."""
    chunk_text = submission.module("chunking").chunk_text
    counter = submission.module("a5_lab").WordCounter()
    text = "slack days are four per student per"
    assert chunk_text(text, counter, 4, 1) == ["slack days are four", "four per student per"]

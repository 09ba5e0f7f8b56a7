"""Part 1, visible: byte-level BPE (lecture L6; Sennrich et al. 2016)."""

import pytest


@pytest.mark.points(4)
def test_merge_replaces_non_overlapping_pairs_left_to_right(submission):
    """merge replaces each occurrence of the pair, left to right, never overlapping."""
    module = submission.module("bpe")
    assert module.merge([1, 1, 1, 2, 1, 1], (1, 1), 256) == [256, 1, 2, 256]
    assert module.merge([5, 6], (6, 5), 300) == [5, 6]
    assert module.pair_counts([1, 1, 1, 2]) == {(1, 1): 2, (1, 2): 1}


@pytest.mark.points(4)
def test_training_on_the_classic_example(submission):
    """On "aaabdaaabac" the merges are aa, then (aa)a, then (aaa)b, and the text encodes to
    5 tokens that decode back to it."""
    module = submission.module("bpe")
    merges = module.train_bpe(b"aaabdaaabac", 3)
    assert [tuple(m) for m in merges] == [(97, 97), (256, 97), (257, 98)]
    ids = module.encode(b"aaabdaaabac", merges)
    assert ids == [258, 100, 258, 97, 99]
    assert module.decode(ids, merges) == b"aaabdaaabac"

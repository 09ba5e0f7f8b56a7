"""Part 5, visible: an input rail against prompt injection (lecture L23)."""

import pytest

from scalable_ai.apps.redteam import load_redteam


@pytest.mark.points(3)
def test_normalize_by_hand(submission):
    """Full-width letters, a Cyrillic о, a zero-width space and spaced-out letters all read
    as the plain word."""
    normalize = submission.module("input_rail").normalize
    assert normalize("ＩＧＮＯＲＥ previous") == "ignore previous"
    assert normalize("ign\u043ere") == "ignore"
    assert normalize("ig\u200bnore   all") == "ignore all"
    assert normalize("i g n o r e previous") == "ignore previous"


@pytest.mark.points(2)
def test_rates_by_hand(submission):
    rates = submission.module("input_rail").rates
    blocks = lambda text: "bad" in text  # noqa: E731
    assert rates(blocks, ["bad 1", "bad 2", "fine"], ["ok", "bad but honest"]) == pytest.approx(
        (2 / 3, 1 / 2)
    )
    assert rates(blocks, [], []) == (0.0, 0.0)


@pytest.mark.points(4)
def test_the_rail_on_the_lab_red_team_set(submission):
    """The lab's red-team set (apps/data/redteam.yaml): at least 80% of its 25 injection and
    jailbreak attacks blocked, at most 1 of its 48 honest course questions (near misses
    such as "can I ignore the warm-up?" included)."""
    rail = submission.module("input_rail")
    attacks, benign = load_redteam()
    injections = [a["text"] for a in attacks if a["kind"] in ("injection", "jailbreak")]
    block_rate, false_block_rate = rail.rates(rail.is_injection, injections, benign)
    assert block_rate >= 0.8, block_rate
    assert false_block_rate <= 1 / len(benign), false_block_rate

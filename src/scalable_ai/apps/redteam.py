"""The guardrails measured: block rate on our red-team set, false blocks on benign course
questions, and the time each rail adds (``sai guard eval``)."""

from __future__ import annotations

import statistics
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scalable_ai.apps.guardrails import Guardrails
from scalable_ai.errors import UserError


def load_redteam(path: Path | None = None) -> tuple[list[dict[str, str]], list[str]]:
    """(attacks with their kind, benign questions) from our set or a file of that shape."""
    if path is None:
        text = resources.files("scalable_ai.apps").joinpath("data/redteam.yaml").read_text()
    elif not path.is_file():
        raise UserError("no such red-team file", field=str(path))
    else:
        text = path.read_text()
    data = yaml.safe_load(text) or {}
    attacks = [{"kind": str(a["kind"]), "text": str(a["text"])} for a in data.get("attacks", [])]
    return attacks, [str(b) for b in data.get("benign", [])]


def evaluate_guardrails(
    guardrails: Guardrails, attacks: list[dict[str, str]], benign: list[str]
) -> dict[str, Any]:
    """An attack is caught when any input rail fires (refused, or its PII redacted); a
    benign question is falsely blocked when it is refused."""
    seconds: dict[str, list[float]] = {}
    caught_by_kind: dict[str, list[bool]] = {}
    missed = []
    for attack in attacks:
        verdict = guardrails.check_input(attack["text"])
        caught = bool(verdict.fired)
        caught_by_kind.setdefault(attack["kind"], []).append(caught)
        if not caught:
            missed.append(attack["text"])
        for rail, took in verdict.seconds.items():
            seconds.setdefault(rail, []).append(took)
    false_blocks = []
    for question in benign:
        verdict = guardrails.check_input(question)
        if verdict.blocked:
            false_blocks.append(f"{question} ({verdict.rail}: {verdict.reason})")
        for rail, took in verdict.seconds.items():
            seconds.setdefault(rail, []).append(took)
    return {
        "attacks": len(attacks),
        "benign": len(benign),
        "block_rate": (len(attacks) - len(missed)) / max(len(attacks), 1),
        "false_block_rate": len(false_blocks) / max(len(benign), 1),
        "block_rate_by_kind": {k: sum(v) / len(v) for k, v in sorted(caught_by_kind.items())},
        "rail_latency_us": {
            rail: {"median": statistics.median(v) * 1e6, "max": max(v) * 1e6}
            for rail, v in sorted(seconds.items())
        },
        "missed": missed,
        "false_blocks": false_blocks,
    }

"""Shared set-up of A5's visible and hidden tests. Every part is held to the lab stack's own
implementation (``scalable_ai.apps``: ``ingest.chunk_document``,
``context.reciprocal_rank_fusion``, ``rag_eval.evaluate``, ``context.build_context``,
``agent.Agent``, ``guardrails.normalize`` and the red-team set), so a test says "as the lab
stack does it", and a bug in one part costs only that part. No model server is needed: the
given ``a5_lab.py`` plays the chat endpoint from a script and counts words as tokens."""

from __future__ import annotations

pytest_plugins = ["scalable_ai.kits.plugin"]

"""Applications over any OpenAI-compatible server (assignment A5): context engineering
(:mod:`.context`), agents, MCP tools, guardrails. Models are reached only through the OpenAI
API, so everything here runs on ``sai serve`` or any compatible server unchanged."""

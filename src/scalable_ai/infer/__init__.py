"""Inference and serving (assignment A4): a paged-KV, continuously batched engine behind an
OpenAI-compatible server.

The pieces, in the order a request meets them (vLLM's seams):

- ``server.py`` (FastAPI, ``/v1/completions``, ``/v1/chat/completions`` with SSE,
  ``/v1/models``, ``/health``, ``/metrics``) translates HTTP to engine requests;
- ``async_engine.AsyncEngine`` runs the engine in its own thread and streams per-request
  outputs to asyncio queues;
- ``engine.LLMEngine`` (``add_request``, ``abort``, ``step``, ``generate``,
  ``swap_weights``, ``stats``) tokenizes, samples (``sampling.py``), detokenizes and applies
  stop rules;
- ``scheduler.Scheduler`` decides each step's work (continuous batching, chunked prefill,
  recompute preemption); ``kv_cache`` holds the paged blocks and the prefix cache;
- ``runner.ModelRunner`` computes a mixed prefill/decode step as one flat batch with the
  paged attention backend (``packed_model`` fuses projections for dense models);
- ``loadgen`` measures any OpenAI-compatible server (``sai bench serve``).

    from scalable_ai.infer.engine import load_engine
    from scalable_ai.infer.sampling import SamplingParams

    engine = load_engine("smollm2-135m")            # bf16 by default
    [[tokens]] = engine.generate(["The capital of France is"],
                                 SamplingParams(temperature=0, max_tokens=8))
"""

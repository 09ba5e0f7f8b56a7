"""Prometheus metrics named after what users of a serving system measure.

Time to first token (TTFT) is how long a user waits before anything appears; time per output
token (TPOT) is how fast the text then streams; together with output throughput they are the
numbers serving papers and vLLM's ``/metrics`` report. Queue depth, KV blocks in use and the
prefix-cache hit rate explain *why* those latencies are what they are. Each server gets its
own ``CollectorRegistry``, so several servers (or tests) in one process never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scalable_ai.infer.engine import RequestOutput

_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class _EngineGauges(Collector):
    """Reads the engines' gauges at scrape time (no thread has to push them)."""

    def __init__(self, stats: Callable[[], dict[str, dict[str, float]]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        per_model = self.stats()
        gauges = {
            "num_waiting": ("sai_num_requests_waiting", "Requests waiting to be scheduled."),
            "num_running": ("sai_num_requests_running", "Sequences in the running batch."),
            "kv_blocks_used": ("sai_kv_cache_blocks_used", "KV cache blocks held by sequences."),
            "kv_blocks_total": ("sai_kv_cache_blocks_total", "KV cache blocks in the pool."),
            "prefix_cache_hit_rate": (
                "sai_prefix_cache_hit_rate",
                "Share of prompt tokens found in the prefix cache.",
            ),
            "spec_draft_tokens": (
                "sai_spec_decode_draft_tokens",
                "Speculative draft tokens checked by the target (since start).",
            ),
            "spec_accepted_tokens": (
                "sai_spec_decode_accepted_tokens",
                "Speculative draft tokens the target accepted (since start).",
            ),
            "spec_acceptance_rate": (
                "sai_spec_decode_acceptance_rate",
                "Accepted share of speculative draft tokens.",
            ),
            "spec_tokens_per_step": (
                "sai_spec_decode_tokens_per_step",
                "Tokens a speculating sequence gains per target forward (speedup bound).",
            ),
        }
        for key, (name, documentation) in gauges.items():
            family = GaugeMetricFamily(name, documentation, labels=["model"])
            for model, stats in per_model.items():
                family.add_metric([model], float(stats.get(key, 0.0)))
            yield family


class ServingMetrics:
    """Histograms and counters for finished requests, gauges from the engines."""

    def __init__(self, stats: Callable[[], dict[str, dict[str, float]]]) -> None:
        self.registry = CollectorRegistry()
        self.ttft = Histogram(
            "sai_time_to_first_token_seconds",
            "Arrival to first generated token.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tpot = Histogram(
            "sai_time_per_output_token_seconds",
            "Mean gap between a request's output tokens.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.e2e = Histogram(
            "sai_e2e_request_latency_seconds",
            "Arrival to last token.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "sai_prompt_tokens",
            "Prompt tokens of finished requests.",
            ["model"],
            registry=self.registry,
        )
        self.generation_tokens = Counter(
            "sai_generation_tokens",
            "Generated tokens of finished requests.",
            ["model"],
            registry=self.registry,
        )
        self.requests = Counter(
            "sai_requests_finished",
            "Finished requests.",
            ["model"],
            registry=self.registry,
        )
        self.registry.register(_EngineGauges(stats))

    def observe(self, model: str, output: RequestOutput) -> None:
        """Record a finished request (called from the engine thread; prometheus is thread-safe)."""
        metrics = output.metrics
        if "ttft" in metrics:
            self.ttft.labels(model).observe(metrics["ttft"])
        if "tpot" in metrics:
            self.tpot.labels(model).observe(metrics["tpot"])
        if "e2e" in metrics:
            self.e2e.labels(model).observe(metrics["e2e"])
        self.prompt_tokens.labels(model).inc(output.num_prompt_tokens)
        self.generation_tokens.labels(model).inc(output.num_output_tokens)
        self.requests.labels(model).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

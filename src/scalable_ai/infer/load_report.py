"""What a load generator measured: per-request results, a load level's summary, and the
latency-throughput plot (TTFT and TPOT against output tokens/s, one line per server).

Split from ``loadgen`` (which sends the requests) so that reading a report needs no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RequestResult:
    ok: bool
    output_tokens: int = 0
    ttft: float = 0.0
    latency: float = 0.0
    error: str = ""

    @property
    def tpot(self) -> float | None:
        if self.output_tokens < 2:
            return None
        return (self.latency - self.ttft) / (self.output_tokens - 1)


@dataclass
class LoadReport:
    """One load level's results."""

    mode: str
    level: float
    num_ok: int
    num_failed: int
    duration_s: float
    output_tokens_per_s: float
    requests_per_s: float
    ttft_p50: float
    ttft_p99: float
    tpot_p50: float
    tpot_p99: float
    latency_p50: float
    latency_p99: float
    errors: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(results: list[RequestResult], duration: float, mode: str, level: float) -> LoadReport:
    ok = [r for r in results if r.ok]
    ttfts = [r.ttft for r in ok]
    tpots = [t for r in ok if (t := r.tpot) is not None]
    latencies = [r.latency for r in ok]
    return LoadReport(
        mode=mode,
        level=level,
        num_ok=len(ok),
        num_failed=len(results) - len(ok),
        duration_s=duration,
        output_tokens_per_s=sum(r.output_tokens for r in ok) / duration if duration else 0.0,
        requests_per_s=len(ok) / duration if duration else 0.0,
        ttft_p50=percentile(ttfts, 50),
        ttft_p99=percentile(ttfts, 99),
        tpot_p50=percentile(tpots, 50),
        tpot_p99=percentile(tpots, 99),
        latency_p50=percentile(latencies, 50),
        latency_p99=percentile(latencies, 99),
        errors=sorted({r.error for r in results if not r.ok})[:3],
    )


def plot_latency_throughput(curves: dict[str, list[LoadReport]], path: Path) -> Path:
    """TTFT and TPOT (p50) against output throughput, one line per server, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, reports in curves.items():
        xs = [r.output_tokens_per_s for r in reports]
        left.plot(xs, [r.ttft_p50 * 1000 for r in reports], marker="o", label=label)
        right.plot(xs, [r.tpot_p50 * 1000 for r in reports], marker="o", label=label)
        for r, x in zip(reports, xs, strict=True):
            left.annotate(f"{r.level:g}", (x, r.ttft_p50 * 1000), fontsize=7)
    left.set(xlabel="output tokens/s", ylabel="TTFT p50 (ms)", title="Time to first token")
    right.set(xlabel="output tokens/s", ylabel="TPOT p50 (ms)", title="Time per output token")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def format_report(label: str, report: LoadReport) -> str:
    return (
        f"{label:<28} {report.mode}={report.level:<5g} ok={report.num_ok:<4} "
        f"out_tok/s={report.output_tokens_per_s:8.1f}  "
        f"TTFT p50/p99={report.ttft_p50 * 1000:7.0f}/{report.ttft_p99 * 1000:7.0f} ms  "
        f"TPOT p50/p99={report.tpot_p50 * 1000:6.1f}/{report.tpot_p99 * 1000:6.1f} ms"
        + (f"  errors: {report.errors}" if report.errors else "")
    )

"""``sai``: one verb per stage, each a thin wrapper over a library call.

Verbs are mounted lazily from the module that implements them, so ``sai --help`` stays fast
(no torch import) and lists only the verbs whose module is present: a stage not built yet
has no verb. A :class:`~scalable_ai.errors.UserError` from any verb becomes one line on
stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from scalable_ai import __version__
from scalable_ai.errors import UserError

_PACKAGE = Path(__file__).resolve().parent

# verb -> ("module:attribute", one-line help) or a nested table for a group of verbs.
VERBS: dict[str, Any] = {
    "up": (
        "scalable_ai.up:up_app",
        "Start the course platform (and the model server on the next port).",
    ),
    "doctor": (
        "scalable_ai.doctor:doctor_app",
        "Versions, devices, and where runs, data and models live.",
    ),
    "runs": (
        "scalable_ai.runs_cli:runs_app",
        "List, show, compare and plot runs from the run registry.",
    ),
    "notify": (
        "scalable_ai.course.notify.cli:notify_app",
        "Send deadline reminders and notification e-mail (sai up runs it every minute).",
    ),
    "course": (
        "scalable_ai.course.cli:course_app",
        "The course platform's staff tool (database, rules, calendar).",
    ),
    "model": ("scalable_ai.model.cli:model_app", "Pull, list and inspect models."),
    "generate": ("scalable_ai.infer.terminal:generate_app", "Continue a raw prompt with a model."),
    "chat": (
        "scalable_ai.infer.terminal:chat_app",
        "Chat with a model in the terminal (streaming).",
    ),
    "serve": ("scalable_ai.infer.cli:serve_app", "Serve a model behind an OpenAI-compatible API."),
    "eval": (
        "scalable_ai.eval.cli:eval_app",
        "Score a checkpoint or an OpenAI-compatible endpoint on evaluation tasks.",
    ),
    "design": (
        "scalable_ai.post.design_cli:design_app",
        "Make a synthetic dataset from a column schema through an OpenAI-compatible endpoint.",
    ),
    "quantize": (
        "scalable_ai.infer.quant_cli:quantize_app",
        "Quantize a model's weights to int8 or int4 (a checkpoint sai serve serves).",
    ),
    "prune": (
        "scalable_ai.infer.prune_cli:prune_app",
        "Prune a model (magnitude, 2:4, width, depth) and distill it back.",
    ),
    "search": (
        "scalable_ai.infer.prune_cli:search_app",
        "Search pruned depth/width/heads under a measured latency budget (Pareto front).",
    ),
    "launch": (
        "scalable_ai.parallel.cli:launch_app",
        "Run a command under torchrun on every node of a reservation's hostfile.",
    ),
    "plan": (
        "scalable_ai.parallel.cli:plan_app",
        "Memory and communication per GPU for each way of splitting a model.",
    ),
    "train": (
        "scalable_ai.train.cli:train_app",
        "Pre-train a model on token shards (checkpoints serve as they are).",
    ),
    "sft": (
        "scalable_ai.post.cli:sft_app",
        "Fine-tune on chat data: full weights or LoRA, assistant tokens only.",
    ),
    "rm": (
        "scalable_ai.post.cli:rm_app",
        "Train a reward model (scalar head, Bradley-Terry) on preference pairs.",
    ),
    "dpo": (
        "scalable_ai.post.cli:dpo_app",
        "Preference-tune a model against a frozen reference (DPO, IPO, SimPO).",
    ),
    "grpo": (
        "scalable_ai.post.grpo_cli:grpo_app",
        "RL post-training: GRPO and its variants on verifiable-reward environments.",
    ),
    "speedrun": (
        "scalable_ai.train.speedrun:speedrun_app",
        "Corpus, curation, tokenizer, shards, pre-training and a sample in one command.",
    ),
    "data": {
        "help": "Pre-training data: corpus, curation, token shards.",
        "verbs": {
            "corpus": (
                "scalable_ai.data.cli:corpus_app",
                "Extract a blend of English text from Debian packages into JSONL.",
            ),
            "curate": (
                "scalable_ai.data.cli:curate_app",
                "Normalize, dedup, filter and decontaminate JSONL documents.",
            ),
            "shard": (
                "scalable_ai.data.shard_cli:shard_app",
                "Encode curated JSONL into token shards.",
            ),
        },
    },
    "tokenizer": {
        "help": "Train tokenizers.",
        "verbs": {
            "train": (
                "scalable_ai.data.cli:tokenizer_train_app",
                "Train a byte-level BPE tokenizer with chat tokens on a corpus.",
            ),
        },
    },
    "rag": (
        "scalable_ai.apps.rag_cli:rag_app",
        "Index documents and answer from them with citations (retrieval-augmented).",
    ),
    "agent": (
        "scalable_ai.apps.agent_cli:agent_app",
        "Tool-calling agents (Python, sandbox, retrieval and MCP tools); replay a transcript.",
    ),
    "guard": (
        "scalable_ai.apps.agent_cli:guard_app",
        "Guardrails: check a text; block and false-block rates on the red-team set.",
    ),
    "assistant": (
        "scalable_ai.apps.agent_cli:assistant_app",
        "Ask the course assistant (your own record via MCP, the syllabus with citations).",
    ),
    "mcp": (
        "scalable_ai.course.mcp_server:mcp_app",
        "The course platform as an MCP server (read-only tools for your API token).",
    ),
    "kit": (
        "scalable_ai.kits.cli:kit_app",
        "Assignment kits: student bundles, Gradescope zips, sandboxed grading.",
    ),
    "bench": {
        "help": "Benchmarks that write runs (each against a named peer where one exists).",
        "verbs": {
            "serve": (
                "scalable_ai.infer.cli:bench_serve_app",
                "Load-test an OpenAI-compatible server.",
            ),
            "roofline": (
                "scalable_ai.roofline:roofline_app",
                "Measure this machine's memory bandwidth and matmul FLOP/s.",
            ),
        },
    },
}


def _module_present(target: str) -> bool:
    module = target.split(":", 1)[0]
    relative = Path(*module.split(".")[1:])
    return (_PACKAGE / relative).with_suffix(".py").is_file() or (
        _PACKAGE / relative / "__init__.py"
    ).is_file()


def _load(target: str, name: str) -> click.Command:
    import typer

    module_name, attribute = target.split(":", 1)
    app = getattr(importlib.import_module(module_name), attribute)
    command: click.Command = (
        typer.main.get_command(app) if isinstance(app, typer.Typer) else app  # type: ignore[assignment]
    )
    command.name = name
    return command


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when invoked (or shown in help)."""

    def __init__(self, *args: Any, verbs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verbs = {name: spec for name, spec in verbs.items() if self._present(spec)}

    @staticmethod
    def _present(spec: Any) -> bool:
        if isinstance(spec, dict):
            return any(_module_present(target) for target, _ in spec["verbs"].values())
        return _module_present(spec[0])

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.verbs)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = self.verbs.get(name)
        if spec is None:
            return None
        if isinstance(spec, dict):
            return LazyGroup(name=name, help=spec["help"], verbs=spec["verbs"])
        return _load(spec[0], name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List verbs with their one-line help without importing their modules."""
        rows = []
        for name in self.list_commands(ctx):
            spec = self.verbs[name]
            rows.append((name, spec["help"] if isinstance(spec, dict) else spec[1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def build_cli() -> click.Group:
    group = LazyGroup(
        name="sai",
        help="scalable-ai: the Scalable AI course's lab stack and course platform.",
        verbs=VERBS,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    return click.version_option(__version__, prog_name="sai")(group)


def _exit_code_of(exc: BaseException) -> int | None:
    """Exit codes of click's control-flow exceptions, from click itself or from the copy of
    click that typer (>= 0.29) vendors: both have ``Exit``, ``Abort`` and ``ClickException``
    (with ``show()``), but they are different classes."""
    name = type(exc).__name__
    if name == "Exit" and hasattr(exc, "exit_code"):
        return int(exc.exit_code)
    if name == "Abort":
        click.echo("aborted", err=True)
        return 130
    if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # ClickException, UsageError, ...
        exc.show()
        return int(exc.exit_code)
    return None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run ``sai``; user errors become one line and exit code 2."""
    cli = build_cli()
    try:
        cli.main(args=argv, prog_name="sai", standalone_mode=False)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        code = _exit_code_of(exc)
        if code is None:
            raise
        sys.exit(code)


if __name__ == "__main__":
    main()

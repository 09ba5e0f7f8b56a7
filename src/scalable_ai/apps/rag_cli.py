"""``sai rag``: index documents, retrieve a cited context, answer from it, measure retrieval.

Every verb talks to models through an OpenAI-compatible server (``--base-url``, default our
``sai serve`` on port 8000): embeddings from ``/v1/embeddings``, answers from
``/v1/chat/completions``.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

rag_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Retrieval-augmented generation."
)

BASE_URL = typer.Option("http://127.0.0.1:8000/v1", help="The OpenAI-compatible server's /v1 URL.")
EMBEDDING_MODEL = typer.Option("all-minilm-l6-v2", help="Embedding model name on the server.")
INDEX = typer.Option(None, help="Index file (default: $SAI_DATA_DIR/rag/index.db).")


def _index_path(index: Path | None) -> Path:
    from scalable_ai.settings import get_settings

    return index if index is not None else get_settings().data_dir / "rag" / "index.db"


def _client(base_url: str) -> object:
    import openai

    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=600)


def _retriever(index: Path | None, base_url: str, embedding_model: str, mode: str, rerank: str):
    from scalable_ai.apps.context import LLMReranker, OpenAIEmbedder, Retriever
    from scalable_ai.apps.index import ChunkIndex
    from scalable_ai.errors import UserError

    path = _index_path(index)
    if not path.is_file():
        raise UserError("no index here yet: run `sai rag index PATHS` first", field=str(path))
    if mode not in ("hybrid", "vector", "keyword"):
        raise UserError("use hybrid, vector or keyword", field="mode")
    client = _client(base_url)
    store = ChunkIndex(path, embedding_model)
    reranker = LLMReranker(client, rerank) if rerank else None
    embed = OpenAIEmbedder(client, embedding_model) if mode != "keyword" else None
    return Retriever(store, embed, mode=mode, reranker=reranker)  # type: ignore[arg-type]


@rag_app.command("index")
def index_command(
    paths: list[Path] = typer.Argument(..., help="Files or folders (.txt .md .html .pdf)."),
    index: Path = INDEX,
    base_url: str = BASE_URL,
    embedding_model: str = EMBEDDING_MODEL,
    chunk_tokens: int = typer.Option(200, help="Tokens per chunk (embedding tokenizer)."),
    overlap_tokens: int = typer.Option(40, help="Tokens shared by neighbouring chunks."),
    prune: bool = typer.Option(False, help="Drop indexed documents no longer under PATHS."),
) -> None:
    """Index documents; unchanged files (same content hash) are not embedded again."""
    from scalable_ai.apps.context import OpenAIEmbedder, ingest
    from scalable_ai.apps.index import ChunkIndex
    from scalable_ai.apps.ingest import default_counter

    path = _index_path(index)
    store = ChunkIndex(path, embedding_model)
    embed = OpenAIEmbedder(_client(base_url), embedding_model)
    started = time.perf_counter()
    report = ingest(
        paths, store, embed, default_counter(),
        chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens, prune=prune,
    )  # fmt: skip
    typer.echo(
        f"{path}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed; {report.chunks} chunks "
        f"({time.perf_counter() - started:.1f} s)"
    )


@rag_app.command("query")
def query_command(
    question: str = typer.Argument(...),
    index: Path = INDEX,
    base_url: str = BASE_URL,
    embedding_model: str = EMBEDDING_MODEL,
    k: int = typer.Option(5, help="Chunks to retrieve."),
    mode: str = typer.Option("hybrid", help="hybrid, vector or keyword."),
    budget: int = typer.Option(800, help="Context budget in tokens."),
    rerank: str = typer.Option("", help="A chat model to rerank with (off when empty)."),
) -> None:
    """Print the cited context the question retrieves (most relevant first)."""
    from scalable_ai.apps.context import build_context
    from scalable_ai.apps.ingest import default_counter

    retriever = _retriever(index, base_url, embedding_model, mode, rerank)
    context = build_context(retriever.search(question, k), budget, default_counter())
    typer.echo(context.text)
    typer.echo(f"-- {context.tokens} tokens, {len(context.citations)} sources", err=True)


@rag_app.command("ask")
def ask_command(
    question: str = typer.Argument(...),
    model: str = typer.Option("smollm2-135m", help="Chat model on the server."),
    index: Path = INDEX,
    base_url: str = BASE_URL,
    embedding_model: str = EMBEDDING_MODEL,
    k: int = typer.Option(4),
    budget: int = typer.Option(600, help="Context budget in tokens."),
    max_tokens: int = typer.Option(200),
) -> None:
    """Answer from the retrieved context, citing sources as [n]."""
    from scalable_ai.apps.context import answer_prompt, build_context
    from scalable_ai.apps.ingest import default_counter

    retriever = _retriever(index, base_url, embedding_model, "hybrid", "")
    context = build_context(retriever.search(question, k), budget, default_counter())
    client = _client(base_url)
    answer = client.chat.completions.create(  # type: ignore[attr-defined]
        model=model, messages=answer_prompt(question, context), max_tokens=max_tokens,
        temperature=0,
    )  # fmt: skip
    typer.echo(answer.choices[0].message.content)
    for number, citation in enumerate(context.citations, 1):
        typer.echo(f"[{number}] {citation}")


@rag_app.command("eval")
def eval_command(
    questions: Path = typer.Option(None, help="Question file (default: our set)."),
    docs: Path = typer.Option(Path("docs"), help="The docs folder indexed with the syllabus."),
    index: Path = INDEX,
    base_url: str = BASE_URL,
    embedding_model: str = EMBEDDING_MODEL,
    chunk_tokens: int = typer.Option(200),
    overlap_tokens: int = typer.Option(40),
) -> None:
    """Index the syllabus and docs/, then recall@k and MRR per retrieval mode, in a run."""
    from scalable_ai.apps.context import OpenAIEmbedder, Retriever, ingest
    from scalable_ai.apps.index import ChunkIndex
    from scalable_ai.apps.ingest import default_counter
    from scalable_ai.apps.rag_eval import default_corpus, evaluate, load_questions
    from scalable_ai.runs import open_run

    asked = load_questions(questions)
    config = {"questions": str(questions or "builtin"), "docs": str(docs),
              "chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens,
              "embedding_model": embedding_model, "base_url": base_url}  # fmt: skip
    with open_run("rag eval", config=config) as run:
        path = index if index is not None else run.artifact("index.db")
        store = ChunkIndex(path, embedding_model)
        embed = OpenAIEmbedder(_client(base_url), embedding_model)
        report = ingest(
            default_corpus(docs), store, embed, default_counter(),
            chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens,
        )  # fmt: skip
        summary: dict[str, object] = {"questions": len(asked), "chunks": report.chunks}
        for mode in ("keyword", "vector", "hybrid"):
            scores = evaluate(Retriever(store, embed, mode=mode), asked)  # type: ignore[arg-type]
            for name, value in scores.items():
                summary[f"{mode}.{name}"] = value
            typer.echo(
                f"{mode:8s} recall@1 {scores['recall@1']:.3f}  recall@5 {scores['recall@5']:.3f}"
                f"  recall@10 {scores['recall@10']:.3f}  MRR {scores['mrr']:.3f}"
            )
        run.summary(**summary)
        typer.echo(f"run {run.id}")

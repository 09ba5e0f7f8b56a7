"""Context engineering: reading formats, token chunks, the persistent index, incremental
re-indexing, hybrid retrieval with reciprocal rank fusion, the budgeted cited context, and
retrieval quality on our syllabus questions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scalable_ai.apps.context import (
    OpenAIEmbedder,
    Retriever,
    build_context,
    ingest,
    reciprocal_rank_fusion,
)
from scalable_ai.apps.index import ChunkIndex
from scalable_ai.apps.ingest import chunk_document, default_counter, load_document
from scalable_ai.apps.rag_eval import default_corpus, evaluate, load_questions
from scalable_ai.errors import UserError
from tests.apps.conftest import EMBEDDING_MODEL


def write_pdf(path, pages: list[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path, metadata={"Title": title}) as pdf:
        for text in pages:
            figure = plt.figure()
            figure.text(0.05, 0.5, text)
            pdf.savefig(figure)
            plt.close(figure)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("Late policy\nSlack days extend a deadline by one day.\n")
    (folder / "guide.md").write_text(
        "# Nodes\n\nEach group gets one H100 node.\n\n## Hostfiles\n\n- one line per node\n"
    )
    (folder / "sub" / "page.html").write_text(
        "<html><head><title>Office hours</title><script>alert(1)</script></head><body>"
        "<h2>When</h2><p>Tuesdays after lecture.</p></body></html>"
    )
    write_pdf(folder / "sub" / "reservations.pdf",
              ["Reservations last at most 72 hours.", "Cancel a reservation you do not need."],
              "Reservation guide")  # fmt: skip
    return folder


def test_each_format_is_read_into_cited_sections(corpus):
    markdown = load_document(corpus / "guide.md", "guide.md")
    assert [s.heading for s in markdown.sections] == ["Nodes", "Hostfiles"]
    html = load_document(corpus / "sub" / "page.html")
    assert html.title == "Office hours" and "alert" not in str(html.sections)
    pdf = load_document(corpus / "sub" / "reservations.pdf")
    assert pdf.title == "Reservation guide"
    assert [s.heading for s in pdf.sections] == ["page 1", "page 2"]
    assert "72 hours" in pdf.sections[0].text
    text = load_document(corpus / "notes.txt")
    assert text.sections[0].heading == "Late policy"
    with pytest.raises(UserError, match="unsupported file type"):
        load_document(corpus.parent / "x.docx")


def test_chunks_are_overlapping_token_windows_cut_from_the_text():
    from scalable_ai.apps.ingest import Document, Section

    counter = default_counter()
    words = " ".join(f"word{i}" for i in range(300))
    document = Document("a.txt", "text", "a", [Section("", words)], "hash")
    chunks = chunk_document(document, counter, chunk_tokens=100, overlap_tokens=20)
    assert len(chunks) > 3
    assert all(c.tokens <= 100 and c.text in words for c in chunks)
    first, second = counter.spans(chunks[0].text), counter.spans(chunks[1].text)
    shared = chunks[0].text[first[80][0] :]
    assert second and chunks[1].text.startswith(shared)  # the last 20 tokens come again
    with pytest.raises(UserError, match="overlap"):
        chunk_document(document, counter, chunk_tokens=10, overlap_tokens=10)


def test_reciprocal_rank_fusion_sums_one_over_sixty_plus_rank():
    fused = dict(reciprocal_rank_fusion([[1, 2, 3], [3, 1]]))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert [i for i, _ in reciprocal_rank_fusion([[1, 2, 3], [3, 1]])] == [1, 3, 2]


def test_the_index_persists_and_re_indexes_only_what_changed(corpus, tmp_path, embeddings_client):
    embed = OpenAIEmbedder(embeddings_client, EMBEDDING_MODEL)
    counter = default_counter()
    path = tmp_path / "index.db"
    first = ingest([corpus], ChunkIndex(path, EMBEDDING_MODEL), embed, counter)
    assert (first.added, first.updated, first.unchanged) == (4, 0, 0)
    calls = embed.calls

    index = ChunkIndex(path, EMBEDDING_MODEL)  # reopened: nothing to embed again
    again = ingest([corpus], index, embed, counter)
    assert (again.added, again.unchanged, embed.calls) == (0, 4, calls)

    (corpus / "notes.txt").write_text("Late policy\nSlack days extend a deadline by 24 hours.\n")
    (corpus / "guide.md").unlink()
    changed = ingest([corpus], index, embed, counter, prune=True)
    assert (changed.updated, changed.unchanged, changed.removed) == (1, 2, 1)
    assert embed.calls == calls + 1
    texts = " ".join(c.text for c in index.chunks())
    assert "24 hours" in texts and "one day" not in texts and "H100" not in texts
    assert index.count() == len(index.chunks())  # vectors went with their chunks
    hits = Retriever(index, embed, mode="vector").search("how long can I reserve a node", 1)
    assert hits[0].chunk.citation == "sub/reservations.pdf § page 1"
    with pytest.raises(UserError, match="built with"):
        ChunkIndex(path, "another-model")


def test_the_context_fits_its_budget_best_first_with_citations(corpus, tmp_path, embeddings_client):
    embed = OpenAIEmbedder(embeddings_client, EMBEDDING_MODEL)
    index = ChunkIndex(tmp_path / "index.db", EMBEDDING_MODEL)
    ingest([corpus], index, embed, default_counter())
    hits = Retriever(index, embed).search("When are office hours?", 4)
    assert hits[0].chunk.source == "sub/page.html"
    assert hits == sorted(hits, key=lambda h: -h.score)
    counter = default_counter()
    whole = build_context(hits, 10_000, counter)
    assert whole.text.startswith("[1] (sub/page.html § When)")
    assert whole.citations[0] == "sub/page.html § When" and whole.dropped == 0
    tight = build_context(hits, whole.tokens - 1, counter)
    assert tight.tokens <= whole.tokens - 1 and tight.dropped >= 1
    assert counter.count(tight.text) <= tight.tokens + len(tight.citations)


def test_hybrid_retrieval_finds_the_syllabus_answers(tmp_path, embeddings_client):
    """Our syllabus questions: hybrid retrieval's recall@5 reaches the issue's 0.9."""
    embed = OpenAIEmbedder(embeddings_client, EMBEDDING_MODEL)
    index = ChunkIndex(tmp_path / "index.db", EMBEDDING_MODEL)
    ingest(default_corpus(docs=None), index, embed, default_counter())
    questions = [q for q in load_questions() if q.source == "syllabus.txt"]
    assert len(questions) >= 30
    scores = evaluate(Retriever(index, embed, mode="hybrid"), questions)
    assert scores["recall@5"] >= 0.9, scores["missed@5"]
    keyword = evaluate(Retriever(index, embed, mode="keyword"), questions)
    assert scores["mrr"] >= keyword["mrr"]


@pytest.mark.slow
def test_sai_rag_indexes_and_answers_against_sai_serve(served, sai_env, corpus, tmp_path):
    def sai(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "scalable_ai.cli", "rag", *args,
             "--index", str(tmp_path / "i.db"), "--base-url", f"{served}/v1"],
            env=sai_env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "4 added" in sai("index", str(corpus))
    assert "4 unchanged" in sai("index", str(corpus))
    context = sai("query", "How long may a reservation last?", "--k", "2")
    assert context.startswith("[1] (sub/reservations.pdf § page 1)")
    answer = sai("ask", "How long may a reservation last?", "--k", "2", "--max-tokens", "8")
    assert "[1] sub/reservations.pdf § page 1" in answer

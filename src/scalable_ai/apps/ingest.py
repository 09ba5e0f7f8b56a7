"""Documents in, token-sized chunks out: text, Markdown, HTML and PDF.

Each format becomes a list of sections (a heading and its text) so a chunk can cite where it
came from (``docs/inference.md § Prefix caching``, ``syllabus.txt § Late policy``,
``paper.pdf § page 3``). Chunks are windows of ``chunk_tokens`` tokens that overlap by
``overlap_tokens``, cut at token boundaries of the embedding model's own tokenizer, so a
chunk always fits the embedder's window (all-MiniLM-L6-v2 reads 256 tokens) and the text of
a chunk is an exact slice of the source (offsets, not detokenized ids).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from scalable_ai.errors import UserError

SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
            ".htm": "html", ".pdf": "pdf"}  # fmt: skip


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True)
class Document:
    source: str  # how the document is cited: a path relative to the ingest root
    kind: str
    title: str
    sections: list[Section]
    content_hash: str  # sha256 of the file's bytes: an unchanged file is not re-indexed


@dataclass(frozen=True)
class Chunk:
    source: str
    section: str
    ordinal: int  # position in its document
    text: str
    tokens: int


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text_sections(text: str) -> list[Section]:
    """Plain text: a short line on its own followed by a paragraph is taken as a heading
    (the syllabus's "Grading and Policies", "Late policy (Assignments). ...")."""
    sections: list[Section] = []
    heading, lines = "", list[str]()
    for line in text.splitlines():
        stripped = line.strip()
        is_heading = 0 < len(stripped) <= 60 and not stripped.endswith((".", ":", ";", ","))
        is_heading = is_heading and "\t" not in line and stripped[0].isupper()
        if is_heading and any(x.strip() for x in lines):
            sections.append(Section(heading, "\n".join(lines).strip()))
            heading, lines = stripped, []
        elif is_heading and not lines:
            heading = stripped
        else:
            lines.append(line)
    if "".join(lines).strip():
        sections.append(Section(heading, "\n".join(lines).strip()))
    return sections


def _html_sections(html: str) -> tuple[str, list[Section]]:
    """HTML (and rendered Markdown): sections split at h1-h6, scripts and styles dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    body = soup.body or soup
    sections: list[Section] = []
    heading, parts = "", list[str]()
    for element in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre",
                                  "td", "th", "blockquote", "dt", "dd"]):  # fmt: skip
        if element.find_parent(["li", "td", "th", "blockquote", "dd"]) and element.name == "p":
            continue  # a paragraph inside a list item was already read with the item
        text = element.get_text(" ", strip=True)
        if not text:
            continue
        if element.name.startswith("h"):
            if parts:
                sections.append(Section(heading, "\n".join(parts)))
            heading, parts = text, []
            title = title or text
        else:
            parts.append(text)
    if parts:
        sections.append(Section(heading, "\n".join(parts)))
    return title, sections


def _markdown_sections(text: str) -> tuple[str, list[Section]]:
    from markdown_it import MarkdownIt

    return _html_sections(MarkdownIt("commonmark").enable("table").render(text))


def _pdf_sections(path: Path) -> tuple[str, list[Section]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError) as error:
        raise UserError(f"cannot read this PDF: {error}", field=str(path)) from error
    title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    sections = [Section(f"page {i}", text) for i, text in enumerate(pages, 1) if text.strip()]
    return title, sections


def load_document(path: Path, source: str | None = None) -> Document:
    """Read one file by its suffix into sections; ``source`` is how chunks cite it."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(
            f"unsupported file type {path.suffix!r} (use {', '.join(sorted(SUFFIXES))})",
            field=str(path),
        )
    data = path.read_bytes()
    title = ""
    if kind == "pdf":
        title, sections = _pdf_sections(path)
    else:
        text = data.decode("utf-8", errors="replace")
        if kind == "markdown":
            title, sections = _markdown_sections(text)
        elif kind == "html":
            title, sections = _html_sections(text)
        else:
            sections = _text_sections(text)
    first = next(
        (line.strip() for s in sections for line in s.text.splitlines() if line.strip()), ""
    )
    return Document(
        source=source or path.name,
        kind=kind,
        title=title or first[:80] or path.name,
        sections=sections,
        content_hash=content_hash(data),
    )


def find_documents(paths: list[Path]) -> list[tuple[Path, str]]:
    """Files under ``paths`` that :func:`load_document` reads, each with its cited name
    (relative to the folder given, so ``docs/inference.md`` stays ``inference.md``)."""
    found: list[tuple[Path, str]] = []
    for root in paths:
        if not root.exists():
            raise UserError("no such file or folder", field=str(root))
        if root.is_file():
            found.append((root, root.name))
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in SUFFIXES:
                found.append((path, str(path.relative_to(root))))
    return found


class TokenCounter:
    """The embedding model's WordPiece tokenizer (``tokenizers``), used for chunk sizes and
    context budgets. It is read from the installed model package, never from a hub."""

    def __init__(self, tokenizer_json: Path | None = None) -> None:
        from tokenizers import Tokenizer

        if tokenizer_json is None:
            from scalable_ai.infer.embeddings import bundled_model_dir

            tokenizer_json = bundled_model_dir() / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of each token in ``text``."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).offsets)


@cache
def default_counter() -> TokenCounter:
    return TokenCounter()


def chunk_document(
    document: Document,
    counter: TokenCounter,
    chunk_tokens: int = 200,
    overlap_tokens: int = 40,
) -> list[Chunk]:
    """Windows of ``chunk_tokens`` tokens, each starting ``chunk_tokens - overlap_tokens``
    after the previous, within a section (a chunk never spans two headings). The heading is
    kept in front of the text: it is often the words a question uses."""
    if chunk_tokens <= 0 or not 0 <= overlap_tokens < chunk_tokens:
        raise UserError("need chunk_tokens > overlap_tokens >= 0", field="overlap_tokens")
    stride = chunk_tokens - overlap_tokens
    chunks: list[Chunk] = []
    for section in document.sections:
        text = re.sub(r"[ \t]+", " ", section.text).strip()
        spans = counter.spans(text)
        if not spans:
            continue
        start = 0
        while True:
            window = spans[start : start + chunk_tokens]
            body = text[window[0][0] : window[-1][1]]
            piece = f"{section.heading}\n{body}" if section.heading else body
            chunks.append(Chunk(document.source, section.heading, len(chunks), piece, len(window)))
            if start + chunk_tokens >= len(spans):
                break
            start += stride
    return chunks

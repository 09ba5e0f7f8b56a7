"""The offline pre-training corpus: English text from Debian packages, extracted to JSONL.

Course nodes download web crawls; our machines reach only package registries, so the
corpus is a named *blend* of Debian packages that hold real English prose, each with its
origin and license recorded (``docs/data.md``):

===============  ===================  =============================================  =========
source           Debian package       what                                           raw size
===============  ===================  =============================================  =========
``linux-docs``   ``linux-doc-6.1``    the kernel's reStructuredText and text docs    ~35 MB
``python-docs``  ``python3.11-doc``   the Python 3.11 docs' reStructuredText         ~11 MB
``perl-docs``    ``perl-doc``         the Perl 5 manual (POD)                        ~9 MB
``gcide``        ``dict-gcide``       the GNU Collaborative Int. Dictionary of Eng.  ~36 MB
``wordnet``      ``dict-wn``          Princeton WordNet 3.0 (glosses, examples)      ~31 MB
``kjv-bible``    ``bible-kjv``        the King James Bible (decoded by ``bible``)    ~4 MB
===============  ===================  =============================================  =========

A document is one file (a doc page, a POD manual page), one Bible chapter, or one "page"
of consecutive dictionary entries. Extraction keeps the text as written (markup
included): judging it is curation's job. ``root`` relocates every package path, so tests
lay out a small tree of their own and run the same extractors.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scalable_ai.data.documents import Document, ShardWriter
from scalable_ai.errors import UserError

INSTALL_HINT = "install it with `make corpus-packages` (or `apt-get install {package}`)"


@dataclass(frozen=True)
class Source:
    """One member of a blend: where its text lives, under which license, how to read it."""

    name: str
    package: str
    license: str
    origin: str
    extract: Callable[[Path], Iterator[tuple[str, str]]] = field(repr=False)
    marker: str  # a path (under root) that exists when the package is installed


def _read_bytes(path: Path) -> bytes:
    """A package file's bytes, gunzipped when it ends in .gz (or is dictd's .dz); a damaged
    file is a one-line error naming it, not a traceback."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix in {".gz", ".dz"} else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(
            f"{path}: cannot be read ({exc}); reinstall its package", field="blend"
        ) from None


def _read_text(path: Path) -> str:
    return _read_bytes(path).decode("utf-8", errors="replace")


def _files(root: Path, base: str, patterns: tuple[str, ...]) -> list[Path]:
    folder = root / base.lstrip("/")
    return sorted({path for pattern in patterns for path in folder.glob(pattern)})


def _linux_docs(root: Path) -> Iterator[tuple[str, str]]:
    """The kernel's Documentation/: reST pages and plain-text ABI/feature notes.

    Device-tree YAML schemas are left out: they are machine-readable, not prose.
    """
    base = "/usr/share/doc/linux-doc-6.1/Documentation"
    for path in _files(root, base, ("**/*.gz",)):
        if path.name.endswith(".yaml.gz") or path.name.endswith(".yamllint.gz"):
            continue
        yield f"linux-docs:{path.relative_to(root / base.lstrip('/'))}", _read_text(path)


def _python_docs(root: Path) -> Iterator[tuple[str, str]]:
    base = "/usr/share/doc/python3.11/html/_sources"
    for path in _files(root, base, ("**/*.rst.txt",)):
        yield f"python-docs:{path.relative_to(root / base.lstrip('/'))}", _read_text(path)


def _perl_docs(root: Path) -> Iterator[tuple[str, str]]:
    # /usr/share/perl/5.36 is a link to 5.36.0: take the versioned folder only, once.
    folders = sorted(p for p in (root / "usr/share/perl").glob("*.*.*") if not p.is_symlink())
    for path in sorted(folders[-1].glob("pod/*.pod")) if folders else []:
        yield f"perl-docs:{path.name}", _read_text(path)


_GCIDE_SOURCE_TAG = re.compile(
    r"^\s*\[[^\]]*(Webster|WordNet|PJC|Century|RDH|Chambers)[^\]]*\]\s*$"
)
_DICTIONARY_PAGE_CHARS = 8000  # entries per document: ~ one printed dictionary column


def _base64_number(text: str) -> int:
    """dictd's index numbers: base64 digits, most significant first."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    value = 0
    for char in text:
        value = value * 64 + alphabet.index(char)
    return value


def _dictd_pages(root: Path, name: str, source: str) -> Iterator[tuple[str, str]]:
    """A dictd dictionary's entries in order, grouped into pages of ~8,000 characters.

    The dictd index maps each headword to (offset, length) in the dictzip file (gzip
    compatible); several headwords share an entry, so entries are read once by offset.
    GCIDE's ``[1913 Webster]`` attribution lines after each sense are dropped: they are
    bookkeeping, not English. Entries whose headword starts with ``00`` are the database's
    own description.
    """
    folder = root / "usr/share/dictd"
    data = _read_bytes(folder / f"{name}.dict.dz")
    spans: set[tuple[int, int]] = set()
    for line in (folder / f"{name}.index").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and not parts[0].startswith("00"):
            spans.add((_base64_number(parts[1]), _base64_number(parts[2])))
    page: list[str] = []
    size, first = 0, ""
    for offset, length in sorted(spans):
        entry = data[offset : offset + length].decode("utf-8", errors="replace")
        lines = [line for line in entry.splitlines() if not _GCIDE_SOURCE_TAG.match(line)]
        text = "\n".join(lines).strip()
        if not text:
            continue
        first = first or text.split(None, 1)[0]
        page.append(text)
        size += len(text)
        if size >= _DICTIONARY_PAGE_CHARS:
            yield f"{source}:{first}@{offset}", "\n\n".join(page)
            page, size, first = [], 0, ""
    if page:
        yield f"{source}:{first}", "\n\n".join(page)


def _gcide(root: Path) -> Iterator[tuple[str, str]]:
    return _dictd_pages(root, "gcide", "gcide")


def _wordnet(root: Path) -> Iterator[tuple[str, str]]:
    return _dictd_pages(root, "wn", "wordnet")


_CHAPTER_HEADING = re.compile(r"^(\S.*) (\d+)$")


def _kjv_bible(root: Path) -> Iterator[tuple[str, str]]:
    """The King James Bible, one document per chapter, decoded by Debian's ``bible`` program.

    ``bible-kjv-text`` stores the text in its own compressed format; its reader prints a
    heading per chapter ("Genesis 1") and one numbered verse per line (``-l`` sets a line
    width wide enough that verses are not wrapped).
    """
    program = shutil.which("bible")
    data = root / "usr/lib/bible.data"
    if program is None or not data.is_file():
        raise UserError(
            f"kjv-bible: Debian package bible-kjv is not installed; "
            f"{INSTALL_HINT.format(package='bible-kjv')}",
            field="blend",
        )
    printed = subprocess.run(
        [program, "-l100000", "-p", str(data.parent), "Gen1:1-Rev22:21"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    heading, verses = "", []
    for line in [*printed.splitlines(), "End 0"]:
        match = _CHAPTER_HEADING.match(line)
        if match:
            if heading and verses:
                yield f"kjv-bible:{heading}", heading + "\n\n" + "\n".join(verses)
            heading, verses = line, []
        elif line.strip():
            verses.append(line.strip())


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "linux-docs",
            "linux-doc-6.1",
            "GPL-2.0 (parts dual GPL-2.0/CC-BY-4.0)",
            "the Linux 6.1 kernel's Documentation/ tree",
            _linux_docs,
            "/usr/share/doc/linux-doc-6.1/Documentation",
        ),
        Source(
            "python-docs",
            "python3.11-doc",
            "PSF-2.0 (Python Software Foundation License)",
            "the Python 3.11 documentation sources",
            _python_docs,
            "/usr/share/doc/python3.11/html/_sources",
        ),
        Source(
            "perl-docs",
            "perl-doc",
            "GPL-1.0+ or Artistic-1.0 (Perl's terms)",
            "the Perl 5.36 manual pages (POD)",
            _perl_docs,
            "/usr/share/perl/5.36.0/pod/perlfunc.pod",
        ),
        Source(
            "gcide",
            "dict-gcide",
            "GPL-2.0+ (GCIDE; Webster's 1913 is public domain)",
            "GNU Collaborative International Dictionary of English 0.48",
            _gcide,
            "/usr/share/dictd/gcide.dict.dz",
        ),
        Source(
            "wordnet",
            "dict-wn",
            "WordNet 3.0 License (permissive, BSD-like)",
            "Princeton WordNet 3.0 glosses and examples",
            _wordnet,
            "/usr/share/dictd/wn.dict.dz",
        ),
        Source(
            "kjv-bible",
            "bible-kjv",
            "public domain text (KJV, 1611); reader GPL-2.0+",
            "the King James Version of the Bible, via bible-kjv-text 4.38",
            _kjv_bible,
            "/usr/lib/bible.data",
        ),
    )
}

# Blends: source -> share of ``max_bytes`` (when a cap is given; uncapped takes everything).
BLENDS: dict[str, dict[str, float]] = {
    "en-docs": {
        "linux-docs": 0.30,
        "python-docs": 0.20,
        "perl-docs": 0.10,
        "gcide": 0.20,
        "wordnet": 0.05,
        "kjv-bible": 0.15,
    },
    "prose": {"python-docs": 0.45, "perl-docs": 0.20, "kjv-bible": 0.35},
}
DEFAULT_BLEND = "en-docs"


def blend_sources(blend: str) -> dict[Source, float]:
    if blend not in BLENDS:
        raise UserError(
            f"unknown blend {blend!r}; known: {', '.join(sorted(BLENDS))}", field="blend"
        )
    return {SOURCES[name]: share for name, share in BLENDS[blend].items()}


def missing_packages(blend: str = DEFAULT_BLEND, root: Path = Path("/")) -> list[str]:
    """The Debian packages of ``blend`` that are not installed under ``root``."""
    return [
        source.package
        for source in blend_sources(blend)
        if not (Path(root) / source.marker.lstrip("/")).exists()
    ]


def iter_corpus(
    blend: str = DEFAULT_BLEND, max_bytes: int | None = None, root: Path = Path("/")
) -> Iterator[Document]:
    """The blend's documents, source by source, each source capped at its share of max_bytes."""
    sources = blend_sources(blend)
    for source, share in sources.items():
        if not (Path(root) / source.marker.lstrip("/")).exists():
            raise UserError(
                f"{source.name}: Debian package {source.package} is not installed; "
                f"{INSTALL_HINT.format(package=source.package)}",
                field="blend",
            )
        budget = None if max_bytes is None else int(max_bytes * share / sum(sources.values()))
        taken = 0
        for doc_id, text in source.extract(Path(root)):
            if budget is not None and taken >= budget:
                break
            if text.strip():
                taken += len(text.encode("utf-8"))
                yield Document(id=doc_id, text=text, source=source.name)


def build_corpus(
    out_dir: Path,
    blend: str = DEFAULT_BLEND,
    max_bytes: int | None = None,
    root: Path = Path("/"),
    shard_bytes: int = 64 << 20,
    overwrite: bool = False,
) -> dict:
    """Extract a blend into ``out_dir/corpus-NNNNN.jsonl``; return (and write) its manifest.

    ``max_bytes`` caps the text taken (split between sources by the blend's shares), for
    quick runs such as ``sai speedrun --preset tiny``. The manifest (``manifest.json``)
    lists per source its package, license, documents and bytes. Existing corpus shards in
    ``out_dir`` are an error unless ``overwrite``.
    """
    if max_bytes is not None and max_bytes <= 0:
        raise UserError("must be positive", field="max_bytes")
    per_source: dict[str, dict] = {
        source.name: {
            "package": source.package,
            "license": source.license,
            "origin": source.origin,
            "documents": 0,
            "bytes": 0,
        }
        for source in blend_sources(blend)
    }
    with ShardWriter(Path(out_dir), "corpus", shard_bytes, overwrite) as writer:
        for document in iter_corpus(blend, max_bytes, root):
            writer.write(document)
            per_source[document.source]["documents"] += 1
            per_source[document.source]["bytes"] += len(document.text.encode("utf-8"))
    if writer.documents == 0:
        raise UserError(f"blend {blend!r} produced no documents under {root}", field="blend")
    manifest = {
        "blend": blend,
        "max_bytes": max_bytes,
        "documents": writer.documents,
        "bytes": writer.bytes,
        "shards": [p.name for p in writer.paths],
        "sources": per_source,
    }
    (Path(out_dir) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest

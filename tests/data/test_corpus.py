"""The offline corpus: documents extracted from Debian packages' files into JSONL.

Most tests lay out a small tree with the packages' paths and text written here (so they run
without the packages); one test reads the real packages when they are installed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from scalable_ai.data import corpus as corpus_module
from scalable_ai.data.corpus import BLENDS, build_corpus, missing_packages
from scalable_ai.data.documents import read_documents
from scalable_ai.errors import UserError

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(number: int) -> str:
    digits = ""
    while True:
        digits = _BASE64[number % 64] + digits
        number //= 64
        if number == 0:
            return digits


def write_dictd(folder: Path, name: str, entries: list[tuple[str, str]]) -> None:
    """A dictd dictionary as dictd stores it: a gzip data file and a base64-offset index."""
    data, index = b"", []
    for headword, body in [("00-database-info", "about this database"), *entries]:
        raw = f"{headword}\n   {body}\n\n".encode()
        index.append(f"{headword}\t{_b64(len(data))}\t{_b64(len(raw))}")
        data += raw
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(data))
    (folder / f"{name}.index").write_text("\n".join(sorted(index)) + "\n")


@pytest.fixture
def package_tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    docs = root / "usr/share/doc/linux-doc-6.1/Documentation"
    (docs / "admin-guide").mkdir(parents=True)
    (docs / "admin-guide/README.rst.gz").write_bytes(
        gzip.compress(b"Linux kernel\n============\n\nThe kernel manages memory.\n")
    )
    (docs / "devicetree").mkdir()
    (docs / "devicetree/board.yaml.gz").write_bytes(gzip.compress(b"compatible: acme"))
    python = root / "usr/share/doc/python3.11/html/_sources/library"
    python.mkdir(parents=True)
    (python / "os.rst.txt").write_text("The os module\n=============\n\nPortable OS calls.\n")
    pod = root / "usr/share/perl/5.36.0/pod"
    pod.mkdir(parents=True)
    (pod / "perlfunc.pod").write_text("=head1 NAME\n\nperlfunc - Perl builtin functions\n")
    (root / "usr/share/perl/5.36").symlink_to("5.36.0")
    write_dictd(
        root / "usr/share/dictd",
        "gcide",
        [("Zebra", "An African wild horse.\n   [1913 Webster]"), ("Apple", "A fruit.")],
    )
    return root


@pytest.fixture
def test_blend(monkeypatch):
    monkeypatch.setitem(
        BLENDS, "test", {"linux-docs": 1.0, "python-docs": 1.0, "perl-docs": 1.0, "gcide": 1.0}
    )
    return "test"


def test_corpus_extracts_one_document_per_page_with_source_and_manifest(
    package_tree, test_blend, tmp_path
):
    manifest = build_corpus(tmp_path / "out", blend=test_blend, root=package_tree)
    documents = list(read_documents(tmp_path / "out"))
    by_source = {d.source: d for d in documents}
    assert set(by_source) == {"linux-docs", "python-docs", "perl-docs", "gcide"}
    assert by_source["linux-docs"].id == "linux-docs:admin-guide/README.rst.gz"
    assert "The kernel manages memory." in by_source["linux-docs"].text
    assert "perlfunc" in by_source["perl-docs"].text  # the 5.36 link is not read twice
    assert len(documents) == 4  # the device-tree YAML schema is not prose
    gcide = by_source["gcide"].text
    assert gcide.index("Zebra") < gcide.index("Apple")  # the data file's order, not the index's
    assert "[1913 Webster]" not in gcide and "database" not in gcide
    assert manifest["documents"] == 4
    assert manifest["sources"]["gcide"]["license"].startswith("GPL")
    written = json.loads((tmp_path / "out/manifest.json").read_text())
    assert written["shards"] == ["corpus-00000.jsonl"]


def test_corpus_cap_splits_bytes_between_sources_by_blend_share(
    package_tree, monkeypatch, tmp_path
):
    python = package_tree / "usr/share/doc/python3.11/html/_sources/library"
    for index in range(20):
        (python / f"page{index:02}.rst.txt").write_text(f"Page {index}. " * 50)
    monkeypatch.setitem(BLENDS, "capped", {"python-docs": 0.5, "gcide": 0.5})
    manifest = build_corpus(tmp_path / "out", blend="capped", max_bytes=4000, root=package_tree)
    python_bytes = manifest["sources"]["python-docs"]["bytes"]
    assert 2000 <= python_bytes < 2000 + 700  # stops after the page that crosses its share


def test_corpus_names_the_missing_debian_package(package_tree, test_blend, tmp_path):
    (package_tree / "usr/share/dictd/gcide.dict.dz").unlink()
    assert missing_packages(test_blend, package_tree) == ["dict-gcide"]
    with pytest.raises(UserError, match=r"gcide: Debian package dict-gcide is not installed"):
        build_corpus(tmp_path / "out", blend=test_blend, root=package_tree)


def test_corpus_refuses_an_unknown_blend_and_an_empty_result(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unknown blend 'nope'"):
        build_corpus(tmp_path / "out", blend="nope")
    empty = tmp_path / "root/usr/share/doc/python3.11/html/_sources"
    empty.mkdir(parents=True)
    monkeypatch.setitem(BLENDS, "empty", {"python-docs": 1.0})
    with pytest.raises(UserError, match="produced no documents"):
        build_corpus(tmp_path / "out", blend="empty", root=tmp_path / "root")


@pytest.mark.skipif(
    bool(missing_packages(corpus_module.DEFAULT_BLEND)),
    reason="the corpus's Debian packages are not installed (make corpus-packages)",
)
def test_real_packages_give_every_source_of_the_default_blend(tmp_path):
    manifest = build_corpus(tmp_path / "out", max_bytes=3_000_000)
    assert set(manifest["sources"]) == set(BLENDS[corpus_module.DEFAULT_BLEND])
    for name, source in manifest["sources"].items():
        assert source["documents"] > 0, name
    bible = [d for d in read_documents(tmp_path / "out") if d.source == "kjv-bible"]
    assert bible[0].text.startswith("Genesis 1\n\n1 In the beginning God created")


def test_corpus_keeps_an_earlier_corpus_unless_overwrite(package_tree, test_blend, tmp_path):
    build_corpus(tmp_path / "out", blend=test_blend, root=package_tree)
    with pytest.raises(UserError, match=r"out: .* already holds 1 corpus shard"):
        build_corpus(tmp_path / "out", blend=test_blend, root=package_tree)
    manifest = build_corpus(tmp_path / "out", blend=test_blend, root=package_tree, overwrite=True)
    assert manifest["shards"] == ["corpus-00000.jsonl"]


def test_a_damaged_package_file_is_named_in_one_line(package_tree, test_blend, tmp_path):
    damaged = package_tree / "usr/share/doc/linux-doc-6.1/Documentation/admin-guide/README.rst.gz"
    damaged.write_bytes(gzip.compress(b"The kernel manages memory.\n")[:-6])  # cut short
    with pytest.raises(UserError, match=r"README\.rst\.gz: cannot be read .*reinstall"):
        build_corpus(tmp_path / "out", blend=test_blend, root=package_tree)


@pytest.mark.skipif(
    bool(missing_packages(corpus_module.DEFAULT_BLEND)),
    reason="the corpus's Debian packages are not installed (make corpus-packages)",
)
def test_sai_data_corpus_prints_each_source_with_its_license_and_records_a_run(tmp_path, capsys):
    from scalable_ai.cli import main
    from scalable_ai.runs import list_runs

    main(["data", "corpus", "--out", str(tmp_path / "corpus"), "--max-mb", "1"])
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "corpus")
    assert "kjv-bible" in captured.err and "public domain" in captured.err
    run = list_runs()[-1]
    assert run.command == "data.corpus" and run.status == "completed"
    assert 990_000 <= run.summary["bytes"] < 1_500_000  # each source stops past its share

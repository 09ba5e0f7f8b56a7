"""Curation: each stage does what its paper or rule says, on text written here."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest

from scalable_ai.data import quality
from scalable_ai.data.curate import CurationSettings, curate, normalize
from scalable_ai.data.documents import Document, read_documents
from scalable_ai.data.near_dedup import (
    DiskIndex,
    NearDedupSettings,
    NearDuplicateIndex,
    shingles,
)
from scalable_ai.data.quality import QualitySettings, failed_rule
from scalable_ai.errors import UserError
from scalable_ai.runs import list_runs, open_run

WORDS = [
    "the",
    "river",
    "of",
    "time",
    "carries",
    "boats",
    "and",
    "stones",
    "with",
    "it",
    "to",
    "a",
    "sea",
    "that",
    "have",
    "no",
    "shore",
    "while",
    "old",
    "maps",
    "show",
    "roads",
    "where",
    "travellers",
    "rest",
    "under",
    "trees",
    "of",
    "iron",
    "and",
    "glass",
    "in",
    "quiet",
    "towns",
]


OTHER_WORDS = [
    "a",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dogs",
    "and",
    "the",
    "owl",
    "that",
    "sings",
    "with",
    "bells",
    "of",
    "copper",
    "to",
    "be",
    "heard",
    "across",
    "valleys",
]


def prose(seed: int, words: int = 200, vocabulary: list[str] = WORDS) -> str:
    """A made-up English-like paragraph that passes the quality rules."""
    rng = random.Random(seed)
    sentences, count = [], 0
    while count < words:
        length = rng.randint(8, 16)
        sentence = " ".join(rng.choice(vocabulary) for _ in range(length))
        sentences.append(sentence.capitalize() + ".")
        count += length
    return " ".join(sentences)


def write_jsonl(path: Path, texts: list[str], source: str = "test") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for index, text in enumerate(texts):
            handle.write(Document(f"{source}:{index}", text, source).to_json() + "\n")
    return path


# ---- normalization and exact dedup ---------------------------------------------------------


def test_normalization_gives_one_spelling_per_character_and_clean_lines():
    decomposed = "Cafe\u0301 menu\r\n\r\n\r\n\r\nsoup\x07  \t\r\nend  "
    assert normalize(decomposed) == "Café menu\n\nsoup\nend"
    assert normalize("ﬁle", "NFKC") == "file" and normalize("ﬁle", "NFC") == "ﬁle"


def test_exact_duplicates_after_normalization_are_removed_and_the_first_copy_kept(tmp_path):
    text = prose(1) + "\n\ncafe\u0301 " + prose(3)
    same = text.replace("\n", "  \r\n").replace("cafe\u0301", "caf\u00e9")
    source = write_jsonl(tmp_path / "in.jsonl", [text, prose(2), same])
    report = curate(source, tmp_path / "out", CurationSettings(near_dedup=False))
    kept = [d.id for d in read_documents(tmp_path / "out")]
    assert kept == ["test:0", "test:1"]
    assert report["removed"]["exact_duplicate"]["documents"] == 1


# ---- near dedup ----------------------------------------------------------------------------


def jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = shingles(a, n), shingles(b, n)
    return len(x & y) / len(x | y)


def edited(text: str, rng: random.Random, fraction: float) -> str:
    words = text.split()
    for index in rng.sample(range(len(words)), int(len(words) * fraction)):
        words[index] = rng.choice(["quartz", "meadow", "lantern", "harbor"])
    return " ".join(words)


@pytest.mark.parametrize("on_disk", [False, True], ids=["datasketch-memory", "sqlite-disk"])
def test_minhash_lsh_finds_planted_near_duplicates_with_high_recall_and_precision(
    on_disk, tmp_path
):
    """Plant copies with 1% of words changed (Jaccard ~0.9) and distinct texts (Jaccard
    ~0.1); with threshold 0.8, LSH + signature check must find >= 95% of the copies and
    flag <= 5% of the distinct texts, with the index in memory or on disk."""
    rng = random.Random(0)
    originals = [prose(1000 + i, 300) for i in range(60)]
    copies = [edited(text, rng, 0.01) for text in originals[:30]]
    distinct = [prose(5000 + i, 300) for i in range(60)]
    assert min(jaccard(a, b) for a, b in zip(originals, copies, strict=False)) > 0.8
    disk = DiskIndex(tmp_path / "index.sqlite") if on_disk else None
    index = NearDuplicateIndex(NearDedupSettings(threshold=0.8, num_perm=128), disk)
    assert not any(index.is_duplicate(text) for text in originals)
    found = [index.is_duplicate(text) for text in copies]
    false_alarms = [index.is_duplicate(text) for text in distinct]
    recall = sum(found) / len(found)
    flagged = sum(found) + sum(false_alarms)
    precision = sum(found) / flagged if flagged else 1.0
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)


def test_near_dedup_threshold_is_a_setting():
    rng = random.Random(1)
    text = prose(7, 300)
    loose_copy = edited(text, rng, 0.03)  # Jaccard ~0.74: a duplicate at 0.5, not at 0.9
    assert 0.65 < jaccard(text, loose_copy) < 0.8
    strict = NearDuplicateIndex(NearDedupSettings(threshold=0.9))
    loose = NearDuplicateIndex(NearDedupSettings(threshold=0.5))
    for index in (strict, loose):
        index.is_duplicate(text)
    assert not strict.is_duplicate(loose_copy)
    assert loose.is_duplicate(loose_copy)
    with pytest.raises(UserError, match=r"near_dedup\.threshold"):
        NearDuplicateIndex(NearDedupSettings(threshold=1.5))


# ---- quality rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("length", "Too short to be a document of its own."),
        ("placeholder_text", prose(2, 100) + " Lorem ipsum dolor sit amet."),
        ("mean_word_length", " ".join(["supercalifragilisticexpialidocious"] * 60) + " the of"),
        ("symbol_ratio", prose(3, 100) + " #" * 20),
        ("bullet_or_ellipsis_lines", "\n".join(f"{prose(i, 12)}..." for i in range(12))),
        ("alphabetic_words", prose(4, 60) + " " + " ".join(["0x7f3a 12345 ==> 1.2345"] * 30)),
        ("stop_words", " ".join(["river boats stones sea maps roads"] * 12)),
        ("repeated_lines_or_paragraphs", "\n".join([prose(5, 30)] * 3 + [prose(6, 60)])),
        ("top_ngram", prose(8, 100) + " " + " ".join(["river boats"] * 40)),
        ("duplicate_ngrams", prose(9, 100) + " " + prose(10, 40) + " " + prose(10, 40)),
    ],
)
def test_each_gopher_rule_removes_what_it_describes(rule, text):
    assert failed_rule(text) == rule


def test_ordinary_prose_passes_every_rule_and_thresholds_are_settings():
    text = prose(11, 300)
    assert failed_rule(text) is None
    assert failed_rule(text, QualitySettings(min_words=1000)) == "length"


def test_each_removal_is_counted_under_its_rule(tmp_path):
    texts = [prose(20), "short text", prose(21), " ".join(["river boats stones"] * 30)]
    source = write_jsonl(tmp_path / "in.jsonl", texts)
    report = curate(source, tmp_path / "out")
    assert report["removed"]["quality:length"]["documents"] == 1
    assert report["removed"]["quality:stop_words"]["documents"] == 1
    assert report["kept"]["documents"] == 2
    assert report["by_source"]["test"] == {
        "input": 4,
        "kept": 2,
        "quality:length": 1,
        "quality:stop_words": 1,
    }


# ---- decontamination -------------------------------------------------------------------------


def test_documents_sharing_a_13_gram_with_evaluation_text_are_removed(tmp_path):
    question = prose(30, 40)
    words = question.split()
    other = OTHER_WORDS  # around the quoted words, so no 13-gram forms by chance
    leaked = (
        prose(31, 200, other) + " " + " ".join(words[5:18]).upper() + " " + prose(32, 60, other)
    )
    near_miss = prose(33, 200, other) + " " + " ".join(words[5:17]) + " " + prose(34, 60, other)
    (tmp_path / "eval.jsonl").write_text(json.dumps({"question": question, "answer": 4}) + "\n")
    source = write_jsonl(tmp_path / "in.jsonl", [leaked, near_miss, prose(35)])
    report = curate(source, tmp_path / "out", eval_paths=[tmp_path / "eval.jsonl"])
    assert report["removed"]["contaminated"]["documents"] == 1
    assert [d.id for d in read_documents(tmp_path / "out")] == ["test:1", "test:2"]
    assert report["eval_texts"] == 1


# ---- streaming, report, bad input --------------------------------------------------------------


def _peak_memory(tmp_path: Path, documents: int, index: str) -> tuple[int, int]:
    """(peak traced bytes while curating, input bytes) for a generated stream."""
    source = tmp_path / f"stream-{documents}.jsonl"
    if not source.exists():
        with source.open("w") as handle:
            for number in range(documents):
                text = prose(100 + number, 1500)  # ~10 KB each, every one distinct
                handle.write(Document(f"d{number}", text, "gen").to_json() + "\n")
    tracemalloc.start()
    # Quality rules hold one document's words at a time; leaving them out keeps this test
    # quick under tracemalloc without changing what grows with the stream.
    settings = CurationSettings(dedup_index=index, quality=False)
    curate(source, tmp_path / f"out-{documents}-{index}", settings)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, source.stat().st_size


def test_curation_streams_with_memory_bounded_whatever_the_input_size(tmp_path):
    """Text is streamed one document at a time. With the disk index, four times the input
    needs no more memory (within SQLite's page cache); in memory, the state grows by a few
    KB per kept document, never by the documents' text."""
    import matplotlib.pyplot  # noqa: F401  (the report's chart: imported before measuring)

    (small, small_input), (large, large_input) = (
        _peak_memory(tmp_path, 30, "disk"),
        _peak_memory(tmp_path, 120, "disk"),
    )
    assert large - small < 0.05 * (large_input - small_input), (small, large, large_input)
    in_memory, _ = _peak_memory(tmp_path, 120, "memory")
    per_document = (in_memory - large) / 120
    assert per_document < 0.8 * large_input / 120, (in_memory, large)


def test_report_goes_into_the_run_as_json_and_a_bar_chart(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [prose(40), "too short"])
    with open_run("data.curate", config={}) as run:
        curate(source, tmp_path / "out", run=run)
    record = list_runs()[-1]
    names = {p.name for p in record.artifacts()}
    assert {"report.json", "report.png"} <= names
    assert record.summary["curation_kept_documents"] == 1
    png = next(p for p in record.artifacts() if p.name == "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "out/report.json").is_file()


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(UserError, match=r"missing\.jsonl does not exist"):
        curate(tmp_path / "missing.jsonl", tmp_path / "out")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(Document("a", prose(1), "t").to_json() + "\n{not json\n")
    with pytest.raises(UserError, match=r"bad.jsonl:2: not JSON"):
        curate(bad, tmp_path / "out")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(UserError, match="no documents"):
        curate(tmp_path / "empty.jsonl", tmp_path / "out")
    with pytest.raises(UserError, match="every one of 1 documents was removed"):
        curate(write_jsonl(tmp_path / "short.jsonl", ["tiny"]), tmp_path / "out")
    with pytest.raises(UserError, match="normalization"):
        CurationSettings(normalization="NFX")


def _reference_top_ngram_fraction(words: list[str], n: int) -> float:
    from collections import Counter

    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    top = max(counts.values())
    if top < 2:
        return 0.0
    chars = max(sum(map(len, gram)) for gram, count in counts.items() if count == top)
    return top * chars / sum(map(len, words))


def _reference_duplicate_ngram_fraction(words: list[str], n: int) -> float:
    from collections import Counter

    grams = list(zip(*(words[i:] for i in range(n)), strict=False))
    counts, covered = Counter(grams), [False] * len(words)
    for start, gram in enumerate(grams):
        if counts[gram] > 1:
            covered[start : start + n] = [True] * n
    return sum(len(w) for w, c in zip(words, covered, strict=True) if c) / sum(map(len, words))


@pytest.mark.parametrize("seed", range(6))
def test_vectorized_repetition_rules_agree_with_a_plain_python_reference(seed):
    """The NumPy n-gram rules decide exactly as Gopher's definitions written with tuples."""
    rng = random.Random(seed)
    text = prose(seed, 120) + " " + " ".join(rng.choice(WORDS[:6]) for _ in range(60))
    words = text.split()
    for n in (2, 3, 4):
        fraction = _reference_top_ngram_fraction(words, n)
        for limit in (fraction - 1e-9, fraction + 1e-9) if fraction else (0.0,):
            settings = QualitySettings(max_top_ngram_chars_fraction={n: limit})
            assert quality.RULES["top_ngram"](text, words, settings) == (fraction <= limit)
    for n in (5, 7, 10):
        fraction = _reference_duplicate_ngram_fraction(words, n)
        for limit in (fraction - 1e-9, fraction + 1e-9) if fraction else (0.0,):
            settings = QualitySettings(max_duplicate_ngram_chars_fraction={n: limit})
            assert quality.RULES["duplicate_ngrams"](text, words, settings) == (fraction <= limit)


def test_sai_data_curate_prints_the_folder_and_records_the_run(tmp_path, capsys):
    from scalable_ai.cli import main

    source = write_jsonl(tmp_path / "in.jsonl", [prose(50), prose(50), "short"])
    main(["data", "curate", str(source), "--out", str(tmp_path / "out"), "--dedup-index", "disk"])
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "out")
    assert "kept 1 of 3 documents" in captured.err
    run = list_runs()[-1]
    assert run.command == "data.curate" and run.status == "completed"
    assert run.config["settings"]["dedup_index"] == "disk"
    assert not (tmp_path / "out/.dedup-index.sqlite").exists()  # scratch index removed
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "curate", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err.strip() == f"error: input: {tmp_path / 'nope.jsonl'} does not exist"
    )
    with pytest.raises(SystemExit):
        main(["data", "corpus", "--out", str(tmp_path / "c"), "--blend", "nope"])
    assert capsys.readouterr().err.strip() == (
        "error: blend: unknown blend 'nope'; known: en-docs, prose"
    )


def test_alphabetic_word_count_matches_its_definition_on_mixed_scripts():
    """A word is alphabetic when it holds a letter (Gopher); the regex count agrees with
    ``str.isalpha`` on letters, accents, CJK, digits of two scripts, marks and punctuation."""
    rng = random.Random(0)
    alphabet = "ab é1_9-.#(){}ß中\u0301٣"
    for _ in range(3000):
        words = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
            for _ in range(rng.randint(1, 6))
        ]
        text = rng.choice([" ", "\n", "\t  "]).join(words)
        expected = sum(not any(c.isalpha() for c in word) for word in text.split())
        assert len(quality._LETTERLESS_WORD.findall(text)) == expected, repr(text)


def test_an_output_folder_with_shards_is_kept_unless_overwrite_is_asked(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [prose(60, 400), prose(61, 400), prose(62, 400)])
    settings = CurationSettings(shard_bytes=3000)  # one document per shard
    curate(first, tmp_path / "out", settings)
    assert len(list((tmp_path / "out").glob("curated-*.jsonl"))) == 3
    second = write_jsonl(tmp_path / "b.jsonl", [prose(63)])
    with pytest.raises(UserError, match="already holds 3 curated shard"):
        curate(second, tmp_path / "out", settings)
    assert len(list((tmp_path / "out").glob("curated-*.jsonl"))) == 3  # nothing lost
    curate(second, tmp_path / "out", settings, overwrite=True)
    assert [d.id for d in read_documents(tmp_path / "out")] == ["test:0"]  # no stale shard
    with pytest.raises(UserError, match="both input and output"):
        curate(tmp_path / "out", tmp_path / "out", settings, overwrite=True)


def test_a_failed_curation_leaves_no_torn_shard(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(Document("a", prose(1), "t").to_json() + "\n{not json\n")
    with pytest.raises(UserError):
        curate(bad, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []

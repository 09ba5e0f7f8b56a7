"""Pre-training data: an offline corpus, its curation, the tokenizer, token shards, batches.

``corpus.py`` extracts documents from Debian packages of English text into JSONL,
``curate.py`` normalizes, deduplicates, filters and decontaminates them (with
``quality.py``, ``near_dedup.py`` and ``decontaminate.py``), ``bpe.py`` trains a byte-level
BPE tokenizer on the result, ``tokenize.py`` encodes curated documents into memory-mapped
token shards and ``loader.py`` serves them as batches. The document stages read and write
``*.jsonl`` files of ``{"id", "text", "source"}`` objects, one document per line.
"""

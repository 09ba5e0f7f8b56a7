"""Data for pre-training: curated documents in, memory-mapped token shards and batches out."""

"""Chunks -> index: the on-disk store, embedders and the BM25 tokenizer."""

"""Corpus files -> documents -> chunks: loaders per format, cleaning, outline, metadata, chunking."""

"""Index -> answers: retrieval, question analysis, extractive and LLM answers, street comparison."""

"""How well govqa does: the gold set, external QA sets and the benchmark."""

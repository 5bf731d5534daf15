"""How well the metadata reader does on a labelled set of mixed government texts.

    python -m govqa.evaluation.metadata_eval tests/data/metadata_set.jsonl [--errors]

Each line of the set is a JSON object with the document's `text` and its expected `title` (exact; or, with
`title_span`, any title from `title` up to that longer span), `street`, `district`, `doc_type` and `year`
(the first year it covers); None where the text does not say. Streets are scored as a retrieval of issuers:
precision over the documents given a street (a wrong street is worse than none), recall over those whose
expected street is set and that name it (not `"names_issuer": false`: a title that says only 活力曹杨).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..ingest.metadata import extract_metadata
from ..records import DocMeta


@dataclass
class MetadataScores:
    documents: int = 0
    street_given: int = 0  # documents the reader gave a street
    street_right: int = 0  # ... and it was the expected one
    street_expected: int = 0  # documents whose issuer is a street
    street_found: int = 0  # ... and the reader found it
    title_right: int = 0
    district_right: int = 0
    type_right: int = 0
    year_right: int = 0
    max_title: int = 0
    errors: list[str] = field(default_factory=list)  # "<id> <field>: got … expected …"

    @property
    def street_precision(self) -> float:
        return self.street_right / self.street_given if self.street_given else 1.0

    @property
    def street_recall(self) -> float:
        return self.street_found / self.street_expected if self.street_expected else 1.0

    def share(self, right: int) -> float:
        return right / self.documents if self.documents else 1.0

    def summary(self) -> dict[str, float | int]:
        return {
            "documents": self.documents,
            "street_precision": round(self.street_precision, 4),
            "street_recall": round(self.street_recall, 4),
            "title_accuracy": round(self.share(self.title_right), 4),
            "district_accuracy": round(self.share(self.district_right), 4),
            "type_accuracy": round(self.share(self.type_right), 4),
            "year_accuracy": round(self.share(self.year_right), 4),
            "max_title_chars": self.max_title,
        }


def title_ok(got: str, expected: str, span: str | None = None) -> bool:
    """Exactly the expected title or, where the text gives no clear end, a title from it up to `span`."""
    if span is None:
        return got == expected
    return got.startswith(expected) and span.startswith(got)


def load_set(path: Path | str) -> list[dict]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def score(records: list[dict]) -> MetadataScores:
    s = MetadataScores()
    for r in records:
        meta: DocMeta = extract_metadata(r["text"], fallback_title=r["id"])
        s.documents += 1
        s.max_title = max(s.max_title, len(meta.title))
        checks = {
            "title": title_ok(meta.title, r["title"], r.get("title_span")),
            "district": meta.district == r["district"],
            "doc_type": meta.doc_type == r["doc_type"],
            "year": meta.year_start == r["year"],
            "street": meta.street == r["street"],
        }
        s.title_right += checks["title"]
        s.district_right += checks["district"]
        s.type_right += checks["doc_type"]
        s.year_right += checks["year"]
        if meta.street is not None:
            s.street_given += 1
            s.street_right += checks["street"]
        if r["street"] is not None and r.get("names_issuer", True):
            s.street_expected += 1
            s.street_found += checks["street"]
        got = {
            "title": meta.title,
            "district": meta.district,
            "doc_type": meta.doc_type,
            "year": meta.year_start,
            "street": meta.street,
        }
        s.errors += [
            f"{r['id']} {name}: got {got[name]!r} expected {r[name]!r}" for name, ok in checks.items() if not ok
        ]
    return s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--errors", action="store_true", help="also print every wrong field")
    args = parser.parse_args(argv)
    result = score(load_set(args.path))
    print(json.dumps(result.summary(), ensure_ascii=False, indent=1))
    if args.errors:
        print("\n".join(result.errors))


if __name__ == "__main__":
    main()

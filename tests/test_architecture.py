"""The package's shape: data flows one way (the import-linter contract in pyproject.toml) and no module imports
another that imports it back, however indirectly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_layers_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def test_no_import_circles():
    graph = grimp.build_graph("govqa", exclude_type_checking_imports=True)
    circles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back and imported != "govqa":  # the package's lazy public API is not an import
                circles.append(" -> ".join((importer, *back)))
    assert not circles, "\n".join(circles)


def test_a_question_is_analysed_once_and_a_comparison_its_topic_once(qa, monkeypatch):
    """GovQA.ask makes one Query; a comparison analyses its topic once, then searches it street by street."""
    import govqa.engine as engine_module
    import govqa.qa.answering as answering_module
    import govqa.qa.compare as compare_module
    import govqa.qa.query as query_module
    import govqa.qa.retrieval as retrieval_module

    calls: list[str] = []
    real = query_module.analyse

    def counting(question, *args, **kwargs):
        calls.append(str(question))
        return real(question, *args, **kwargs)

    for module in (engine_module, query_module, answering_module, compare_module, retrieval_module):
        monkeypatch.setattr(module, "analyse", counting)  # every module that can analyse a text
    qa.ask("塘桥街道2019年拆除了多少违章建筑?")
    assert len(calls) == 1
    calls.clear()
    answer = qa.ask("各街道在垃圾分类上分别做了什么?")
    assert answer.kind == "cross_street" and len(calls) == 2  # the question, and the topic it compares on


def test_what_a_question_asks_for_is_read_once_into_its_query():
    """The answerers shape answers by Query.wants_quantity / wants_explanation / quoted / terms, read by analyse;
    none of them re-reads the question's wording for it."""
    import govqa.qa.answering as answering_module
    import govqa.qa.figures as figures_module
    import govqa.qa.glossary as glossary_module
    from govqa.qa.query import analyse
    from govqa.records import DocMeta

    for module in (answering_module, figures_module, glossary_module):
        for name in ("asks_quantity", "asks_explanation", "quoted_terms", "quoted"):
            assert not hasattr(module, name), f"{module.__name__} reads {name} from the text"
    query = analyse("塘桥说要用好“三会”制度，为什么要开‘六乱’整治，有多少个?", [DocMeta(title="t", street="塘桥街道")])
    assert query.wants_quantity and query.wants_explanation
    assert query.quoted == ("三会",) and query.terms == ("三会", "六乱")

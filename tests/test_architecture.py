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

"""The public API: every name in govqa.__all__ resolves, errors share one base, and the package imports light."""

from __future__ import annotations

import subprocess
import sys

import govqa
from govqa import errors


def test_every_public_name_resolves():
    for name in govqa.__all__:
        assert getattr(govqa, name) is not None, name


def test_errors_share_one_base_and_keep_their_builtin_bases():
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.GovQAError), name
    assert issubclass(errors.QuestionError, ValueError)
    assert issubclass(errors.LLMError, RuntimeError)
    from govqa.index.store import IndexBusyError
    from govqa.qa.questions import QuestionError

    assert QuestionError is govqa.QuestionError and IndexBusyError is govqa.IndexBusyError


def test_importing_the_package_loads_no_model_code():
    code = "import sys, govqa; import govqa.records; print(any(m in sys.modules for m in ('torch', 'faiss', 'govqa.engine')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

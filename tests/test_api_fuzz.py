"""The HTTP API fuzzed from its own OpenAPI schema (schemathesis) against a real server on 127.0.0.1.

Every operation gets generated requests, valid ones and invalid ones: none may get a 5xx, every response must
match the schema the server publishes (status, content type, body), and a write sent without the API key
must be refused (401), so no generated upload or delete ever reaches the corpus. Bounded: EXAMPLES requests
per operation and mode, derandomised (the same cases every run), a timeout per request.

Hypothesis is driven directly, one operation at a time: schemathesis's pytest plugin (`from_fixture`) does
not run under pytest 9.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from test_server import Server, copies
from testpaths import CORPUS

EXAMPLES = 10  # per operation and generation mode: 14 operations x 2 modes
WRITES = {("POST", "/v1/documents"), ("DELETE", "/v1/documents/{doc_id}")}


@pytest.fixture(scope="module")
def fuzzed_server(corpus_index, tmp_path_factory):
    srv = Server(*copies(corpus_index, tmp_path_factory.mktemp("fuzzed"))).start()
    yield srv
    srv.stop()


def writes_need_the_key(ctx, response, case) -> None:
    """No generated request carries the key, so every write must be refused."""
    if (case.method.upper(), case.path) in WRITES:
        assert response.status_code == 401, f"a write without the key got {response.status_code}"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    writes_need_the_key,
]


def test_generated_requests_get_no_5xx_and_documented_responses(fuzzed_server):
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json", timeout=30)
    ran: dict[str, int] = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,  # a request may take seconds on a busy 2-core machine; its timeout bounds it
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case):
                ran[case.operation.label] = ran.get(case.operation.label, 0) + 1
                case.validate_response(case.call(timeout=60), checks=CHECKS)

            try:
                fuzz()
            except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE and operation.label in ran, operation.label
    seconds = time.monotonic() - started
    print(f"\nschemathesis: {sum(ran.values())} cases over {len(ran)} operations in {seconds:.0f} s")
    assert len(ran) >= 14 and sum(ran.values()) >= 5 * len(ran)
    # Nothing was written: no upload was accepted and the corpus is as it was.
    assert not list((fuzzed_server.index / "uploads").glob("*"))
    assert sorted(p.name for p in fuzzed_server.corpus.iterdir()) == sorted(p.name for p in CORPUS.iterdir())

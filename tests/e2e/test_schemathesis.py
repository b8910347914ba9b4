"""Schemathesis against a live service (real gunicorn): whatever it sends, the API answers
without a 5xx, and every answer conforms to the OpenAPI document (status code, content type,
headers, body schema).

The document is built at import, as `svc.openapi.document` builds it for the service, and the
first test proves that the running service serves exactly that document at /openapi.json.
(Schemathesis's lazy loader, `schemathesis.pytest.from_fixture`, which could load it from the
running service, reads `Node._nodeid`, which pytest 9.2 no longer has.)

The service runs without a worker: the jobs that random uploads create are never worked on,
so no URL that schemathesis makes up is ever fetched, nor any webhook posted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ops.config import load
from svc.openapi import document
from tests.e2e.service import Service

pytestmark = [
    pytest.mark.slow,
    # In a whole-suite run, the in-process Dramatiq worker threads of other modules draw from
    # the global `random` (the Redis broker's maintenance draw) while Hypothesis generates, and
    # Hypothesis takes that for a strategy using `random`.
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

DOCUMENT = document(load())
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("schemathesis")
    with Service(folder / "var", worker=False) as running:
        yield running


def test_the_service_serves_the_document_under_test(service: Service) -> None:
    served = json.loads(service.get("/openapi.json").data)
    assert served == {**DOCUMENT, "servers": [{"url": service.base}]}


@schema.parametrize()
@settings(
    max_examples=60,
    derandomize=True,  # the same cases on every CI run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_answers_as_its_document_says(case: schemathesis.Case, service: Service) -> None:
    # Every check but positive_data_acceptance, which expects whatever the schema allows to be
    # accepted: the CSV's rules (contract section 2) are beyond what a JSON Schema can say of a
    # binary `file`, so a schema-valid upload of random bytes is rightly a 400.
    case.call_and_validate(base_url=service.base, excluded_checks=[positive_data_acceptance])

"""/openapi.json describes what imgpress sends: the webhook POST and every event's payload,
`event_id` and `occurred_at` included, and what the pipeline really publishes fits it."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from actors import happenings
from tests.jobs import DEFAULT_OPTIONS, submit
from tests.receiver import Delivery, Receiver, poll
from tests.recording_subscriber import seen
from tests.svc import test_api

client = test_api.client  # the Falcon TestClient fixture, as test_api builds it

ENVELOPE = {"event_id", "occurred_at"}


@pytest.fixture(scope="module")
def document(client) -> dict[str, Any]:
    return client.simulate_get("/openapi.json").json


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    return document["components"]["schemas"][ref.removeprefix("#/components/schemas/")]


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The property names a schema names, through its `$ref` and `allOf`."""
    if "$ref" in schema:
        return _properties(document, _schema(document, schema["$ref"]))
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _properties(document, part)
    return names


def _event_schemas(document: dict[str, Any]) -> dict[str, str]:
    """subject -> the name of the component schema of its payload."""
    schemas = document["components"]["schemas"]
    return {s["x-subject"]: name for name, s in schemas.items() if "x-subject" in s}


def _validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    # OpenAPI 3.1's schemas are JSON Schema 2020-12; the document's components are carried
    # along so that "#/components/schemas/..." resolves against them.
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _subjects() -> dict[str, type[happenings.Event]]:
    found: dict[str, type[happenings.Event]] = {}
    pending = list(happenings.Event.__subclasses__())
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if "subject" in kind.__dict__:
            found[kind.subject] = kind
    return found


def test_the_document_names_event_id_and_occurred_at_with_their_formats(document) -> None:
    # Given the served document's envelope, shared by every event
    envelope = document["components"]["schemas"]["EventEnvelope"]
    # Then it requires both fields, with the formats `storage.outbox.stage` writes
    assert set(envelope["required"]) == ENVELOPE
    event_id, occurred_at = (envelope["properties"][name] for name in ("event_id", "occurred_at"))
    assert event_id["type"] == "string" and event_id["pattern"] == r"^evt_[0-9a-f]{24}$"
    assert occurred_at["format"] == "date-time" and occurred_at["pattern"].endswith("Z$")
    # And every event's schema is built on it
    for name in _event_schemas(document).values():
        assert {"$ref": "#/components/schemas/EventEnvelope"} in _schema(document, name)["allOf"]


def test_every_subject_has_a_schema_with_exactly_its_fields(document) -> None:
    by_subject = _event_schemas(document)
    # Then the document has a schema for every subject the pipeline publishes, and no other
    subjects = _subjects()
    assert set(by_subject) == set(subjects)
    for subject, kind in subjects.items():
        fields = {f.name for f in dataclasses.fields(kind)}
        extra = {"type"} if issubclass(kind, happenings.JobEnded) else set()
        schema = _schema(document, by_subject[subject])
        assert _properties(document, schema) == fields | extra | ENVELOPE, subject


def test_the_webhook_is_described_with_its_body_and_signing_headers(document) -> None:
    hook = document["webhooks"]["jobEnded"]["post"]
    body = hook["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/JobEndedWebhook"}
    headers = {p["name"]: p["required"] for p in hook["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id": True, "webhook-timestamp": True, "webhook-signature": False}
    # The webhook's body is the job's event without the envelope (contract §5: no event_id)
    for variant in _schema(document, body["$ref"])["oneOf"]:
        assert not ENVELOPE & _properties(document, variant)


# What the pipeline really sends


def _wait_for(job_id: str, *subjects: str) -> list[dict[str, Any]]:
    def arrived() -> list[dict[str, Any]] | None:
        items = seen(job_id)
        found = Counter(item["subject"] for item in items)
        return items if all(found[subject] for subject in subjects) else None

    return poll(arrived)


def _check_event(document: dict[str, Any], subject: str, payload: dict[str, Any]) -> None:
    name = _event_schemas(document)[subject]
    errors = [e.message for e in _validator(document, name).iter_errors(payload)]
    assert not errors, (subject, payload, errors)
    assert set(payload) == _properties(document, _schema(document, name)), subject


def _check_delivery(document: dict[str, Any], delivery: Delivery) -> None:
    hook = document["webhooks"]["jobEnded"]["post"]
    body = json.loads(delivery.body)
    errors = [e.message for e in _validator(document, "JobEndedWebhook").iter_errors(body)]
    assert not errors, (body, errors)
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    for parameter in hook["parameters"]:
        # The tests sign (IMGPRESS_WEBHOOK_SECRET), so the optional signature is there too
        value = headers[parameter["name"]]
        assert Draft202012Validator(parameter["schema"]).is_valid(value), (parameter, value)


def _completed_job(origin, receiver: Receiver) -> str:
    rows = [origin.url("/photos/coffee.jpg"), origin.url("/missing.jpg"), "not-a-url"]
    csv = "name,url\n" + "".join(f"P{n},{url}\n" for n, url in enumerate(rows))
    return submit(csv, webhook_url=receiver.url)


def _failed_job(receiver: Receiver) -> str:
    from actors import events
    from storage import jobs

    # A job whose CSV is gone before the split: it fails
    job_id = secrets.token_urlsafe(12)
    jobs.create_job(job_id, DEFAULT_OPTIONS, 1, [], receiver.url)
    events.publish(happenings.CsvReceived(job_id))
    return job_id


def test_published_events_and_webhook_bodies_fit_the_document(document, origin, worker) -> None:
    # Given a job that completes with a compressed and two failed images, its webhook
    # answered 200, and a job that fails, its webhook answered 503 until attempts run out
    with Receiver([200]) as good, Receiver([503]) as busy:
        completed = _completed_job(origin, good)
        failed = _failed_job(busy)
        # When their events have all been published
        published = _wait_for(
            completed, "csv.received", "image.compressed", "image.failed", "webhook.delivered"
        )
        published += _wait_for(failed, "csv.received", "job.failed", "webhook.failed")
        deliveries = good.wait_for(1) + busy.wait_for(3)
    # Then every subject of contract §6 was seen, and every payload fits its schema exactly
    assert {item["subject"] for item in published} == set(_subjects())
    for item in published:
        _check_event(document, item["subject"], item["event"])
    # And every webhook POST fits the document's webhook, body and headers
    assert {json.loads(d.body)["type"] for d in deliveries} == {"job.completed", "job.failed"}
    for delivery in deliveries:
        _check_delivery(document, delivery)

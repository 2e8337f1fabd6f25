"""The SDK against a real server process: submissions, waiting, paging, deletion, errors and retries."""

from __future__ import annotations

import asyncio
import json

import cv2
import httpx
import numpy as np
import pytest

import motionscript_client as clients
from motionscript_client import AsyncClient, Client
from motionscript_client.models import DOCUMENT_FIELDS, MIRRORS
from tests.conftest import POSE2SIM
from tests.vision.test_landmark_json import document, schema_document

# -- the models mirror the service's OpenAPI schema --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_schemas(server) -> dict:
    return httpx.get(f"{server.url}/openapi.json", timeout=30).json()["components"]["schemas"]


@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_models_have_the_fields_of_the_live_openapi_schema(served_schemas, name):
    assert name in served_schemas, sorted(served_schemas)
    served, model = served_schemas[name], MIRRORS[name]
    assert set(model.model_fields) == set(served["properties"])
    # The client may accept less than the server promises, never demand more.
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert required <= set(served.get("required", [])), required - set(served.get("required", []))


def _refs(schema: dict) -> set[str]:
    """The component schemas a property refers to, however nested (arrays, maps, anyOf)."""
    out: set[str] = set()
    if isinstance(schema, dict):
        if "$ref" in schema:
            out.add(schema["$ref"].rsplit("/", 1)[-1])
        for value in schema.values():
            out |= _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            out |= _refs(value)
    return out


def _models_in(annotation) -> set[type]:
    import typing

    found = {annotation} if isinstance(annotation, type) else set()
    for arg in typing.get_args(annotation):
        found |= _models_in(arg)
    return found


@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_nested_models_are_typed_as_the_server_types_them(served_schemas, name):
    """A field that is a mirrored schema on the server (metrics, events, findings, ...) is that model here."""
    mirrored = {v: k for k, v in MIRRORS.items()}
    model = MIRRORS[name]
    for field, prop in served_schemas[name]["properties"].items():
        served_refs = {r for r in _refs(prop) if r in MIRRORS}
        if not served_refs or (name, field) == ("AssessmentPublic", "wearables"):
            continue
        ours = {mirrored[m] for m in _models_in(model.model_fields[field].annotation) if m in mirrored}
        assert ours == served_refs, (name, field, ours, served_refs)


def test_typed_metrics_events_and_findings_of_a_real_assessment(server):
    with Client(server.url, server.key) as ms:
        done = ms.wait(ms.create_assessment(document(n=90), exercise="single_leg_stance").id, timeout_s=60)
    assert all(isinstance(m, clients.Metric) for m in done.metrics) and done.metrics
    assert all(isinstance(e, clients.Event) for e in done.events)
    assert all(isinstance(f, clients.Finding) for f in done.findings)
    assert [c.code for c in done.coaching] == ["not_detected"] and isinstance(done.detected.detected, bool)
    assert done.view.view == "frontal" and done.input.kind == "landmarks"
    mean = done.metric("pelvic_obliquity_mean")
    assert mean is not None and mean.unit == "deg" and abs(mean.value - 4.0) < 0.05


def test_document_fields_are_the_assessment_document_in_order():
    from service.schemas import Assessment  # the tests may look inside; clients/ may not

    assert DOCUMENT_FIELDS == tuple(Assessment.model_fields)


def test_clients_import_nothing_from_the_service():
    import subprocess
    import sys

    code = (
        "import sys, motionscript_client, clients, clients.cli_remote; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('service', 'vision', 'kinematics')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# -- round trips -------------------------------------------------------------------------------------------------------


def test_landmark_document_round_trip(server):
    with Client(server.url, server.key) as ms:
        accepted = ms.create_assessment(document(n=60), exercise="single_leg_stance", patient_id="p-sdk-1")
        assert accepted.status == "queued" and accepted.url == f"/v1/assessments/{accepted.id}"
        seen: list[str] = []
        done = ms.wait(accepted.id, timeout_s=60, on_status=lambda a: seen.append(a.status))
        assert seen[-1] == "done" and done.status == "done" and done.patient_id == "p-sdk-1"
        np.testing.assert_allclose(np.array(done.series["pelvic_obliquity_deg"], dtype=float), 4.0, atol=0.05)
        assert list(done.document()) == list(DOCUMENT_FIELDS) and done.document()["exercise"] == "single_leg_stance"
        assert ms.get_assessment(accepted.id).id == accepted.id
        assert accepted.id in {a.id for a in ms.list_assessments(patient_id="p-sdk-1")}
        ms.delete_assessment(accepted.id)
        with pytest.raises(clients.NotFound) as exc:
            ms.get_assessment(accepted.id)
    assert exc.value.status == 404 and exc.value.kind == "not-found" and accepted.id in exc.value.detail


@pytest.mark.parametrize("name", ["coco17", "kinect_v2_25"])
def test_other_skeletons_through_the_sdk(server, tmp_path, name):
    """A dict and a file in another skeleton: accepted, analysed, the skeleton and its limits named."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(schema_document(name)))
    with Client(server.url, server.key) as ms:
        for source in (schema_document(name), path):
            done = ms.wait(ms.create_assessment(source).id, timeout_s=60)
            assert done.status == "done" and done.input is not None
            assert done.input.landmark_schema == name
            np.testing.assert_allclose(np.array(done.series["pelvic_obliquity_deg"], dtype=float), 4.0, atol=0.05)
            limits = [q.message for q in done.quality if q.code == "skeleton_limit"]
            assert limits and all(m.startswith(f"{name} has no") for m in limits)
        bad = schema_document(name)
        bad["frames"][0]["landmarks"] = bad["frames"][0]["landmarks"][:5]
        with pytest.raises(clients.InvalidInput) as exc:
            ms.create_assessment(bad)
        assert exc.value.status == 422 and f"rows in {name} order, got 5" in exc.value.detail


def test_video_upload_streams_with_progress_and_is_analysed(server):
    calls: list[tuple[int, int]] = []
    with Client(server.url, server.key) as ms:
        accepted = ms.create_assessment(POSE2SIM, exercise="squat", progress=lambda s, t: calls.append((s, t)))
        done = ms.wait(accepted.id, timeout_s=120)
    size = POSE2SIM.stat().st_size
    sent = [s for s, _ in calls]
    assert len(calls) >= size // (256 * 1024) and sent == sorted(sent) and calls[-1][0] == calls[-1][1] > size
    assert done.input.kind == "video" and done.input.frames_read == 100 and done.input.filename is None


def test_listing_iterates_every_page(server):
    with Client(server.url, server.key) as ms:
        ids = {ms.create_assessment(document(n=10), patient_id="p-pages").id for _ in range(5)}
        listed = [a.id for a in ms.list_assessments(patient_id="p-pages", page_size=2)]
    assert len(listed) == len(set(listed)) == 5 and set(listed) == ids


def test_analyze_frame_from_bytes_and_path(server, tmp_path):
    cap = cv2.VideoCapture(str(POSE2SIM))
    _, bgr = cap.read()
    cap.release()
    jpg = cv2.imencode(".jpg", bgr)[1].tobytes()
    (tmp_path / "frame.jpg").write_bytes(jpg)
    with Client(server.url, server.app_key) as ms:
        a, b = ms.analyze_frame(jpg), ms.analyze_frame(tmp_path / "frame.jpg")
    assert a.person_found and len(a.landmarks) == 33 and a.angles == b.angles


def test_async_client_round_trip(server):
    async def run():
        async with AsyncClient(server.url, server.key) as ms:
            accepted = await ms.create_assessment(document(n=60), patient_id="p-async")
            done = await ms.wait(accepted.id, timeout_s=60)
            listed = [a.id async for a in ms.list_assessments(patient_id="p-async", page_size=1)]
            await ms.delete_assessment(accepted.id)
            return accepted, done, listed

    accepted, done, listed = asyncio.run(run())
    assert done.status == "done" and listed == [accepted.id]


# -- errors ------------------------------------------------------------------------------------------------------------


def test_problem_answers_become_typed_exceptions(server, tmp_path):
    with Client(server.url, "ms_0000_not-a-key") as ms, pytest.raises(clients.Unauthorized) as exc:
        ms.get_assessment("x")
    assert exc.value.status == 401 and exc.value.type.endswith("/unauthenticated")
    with Client(server.url, server.app_key) as ms, pytest.raises(clients.Forbidden):
        next(ms.list_assessments())
    with Client(server.url, server.key) as ms:
        with pytest.raises(clients.InvalidInput) as exc:
            ms.create_assessment(document(n=10), exercise="cartwheel")
        assert isinstance(exc.value, ValueError) and "cartwheel" in exc.value.detail
        text = tmp_path / "notes.txt"
        text.write_text("not a video\n" * 100)
        with pytest.raises(clients.UnsupportedMedia):
            ms.create_assessment(text)


def test_an_unreachable_server_raises_transport_error_after_the_retries():
    from tests.service._servers import free_port

    slept: list[float] = []
    with (
        Client(f"http://127.0.0.1:{free_port()}", "k", max_retries=2, backoff_s=0.1, sleep=slept.append) as ms,
        pytest.raises(clients.TransportError, match="after 3 attempts"),
    ):
        ms.get_assessment("x")
    assert slept == [0.1, 0.2]


# -- retries reuse the Idempotency-Key ---------------------------------------------------------------------------------


class LoseFirstResponse(httpx.BaseTransport):
    """Forwards to the real server but drops the first POST's answer, as a reset connection would."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.keys: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.keys.append(request.headers["idempotency-key"])
        response = self.real.handle_request(request)
        if request.method == "POST" and len(self.keys) == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer (simulated)", request=request)
        return response

    def close(self) -> None:
        self.real.close()


def test_a_retried_submission_reuses_its_idempotency_key_and_creates_one_assessment(server):
    transport = LoseFirstResponse()
    with Client(server.url, server.key, transport=transport, sleep=lambda s: None) as ms:
        accepted = ms.create_assessment(document(n=60), patient_id="p-retry")
        listed = [a.id for a in ms.list_assessments(patient_id="p-retry")]
    assert len(transport.keys) == 2 and transport.keys[0] == transport.keys[1]
    assert listed == [accepted.id]  # the first, unanswered attempt created it; the retry found it


def test_gateway_errors_are_retried_with_backoff_and_the_same_key():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(503 if len(seen) == 1 else 502, json={"detail": "busy"})
        assert json.loads(request.read())["frames"]  # the body is sent again in full
        return httpx.Response(202, json={"id": "a1", "status": "queued", "url": "/v1/assessments/a1"})

    slept: list[float] = []
    with Client("http://test", "k", transport=httpx.MockTransport(handler), backoff_s=0.5, sleep=slept.append) as ms:
        accepted = ms.create_assessment(document(n=5))
    assert accepted.id == "a1" and slept == [0.5, 1.0]
    assert len({r.headers["idempotency-key"] for r in seen}) == 1


def test_server_errors_stop_after_max_retries():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            headers={"Retry-After": "2", "Content-Type": "application/problem+json"},
            json={
                "type": "https://motionscript.dev/problems/unavailable",
                "status": 503,
                "detail": "database unavailable",
            },
        )

    slept: list[float] = []
    with (
        Client("http://test", "k", transport=httpx.MockTransport(handler), max_retries=2, sleep=slept.append) as ms,
        pytest.raises(clients.ServerError) as exc,
    ):
        ms.get_assessment("x")
    assert slept == [2.0, 2.0] and exc.value.detail == "database unavailable" and exc.value.kind == "unavailable"

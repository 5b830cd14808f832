"""One trace end to end: a raw turn sent with the client's own `traceparent` is followed through all six
services on the real broker and Triton, from the spans the services write with the `file` trace exporter.

The services run as real processes with SLUICE_TRACE_EXPORTER=file; once every record produced anywhere has
been consumed and confirmed by every consumer of its topic (from the services' /metrics), they are stopped with
SIGTERM, and the spans must be in the files: flushed on a graceful stop.

Asserted for the chosen turn's trace (trace id = the one the test sent):
ingestion (parent: the client's span) -> features -> inference -> guardrails -> drift on its verdict topic,
and feedback and drift on the prediction, then their second stages (feedback.join, drift.observations); every
span's parent is the previous hop's span and it starts after that span ended; one span per hop. The batched
model call (features and inference) is a span of its own, linked both ways with the record's span. Turns sent
without a traceparent start their trace at ingestion and are never mixed into the chosen trace; a turn posted
to ingestion's HTTP endpoint with a traceparent continues the HTTP client's trace."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.runtime.conversations import generate_turns
from services.runtime.kafka_tools import produce_records
from services.runtime.topics import load_contract
from services.runtime.tracing import read_span_file

pytestmark = pytest.mark.integration
CONTRACT = load_contract()
SERVICES = ("ingestion", "features", "inference", "guardrails", "feedback", "drift")
TURNS = 6
TRACE_ID = "5ace0f1e2d3c4b5a69788796a5b4c3d2"
CLIENT_SPAN = "c11e27f00d5a1ce5"
HTTP_TRACE_ID = "0e77b0d1e5f0a1b2c3d4e5f60718293a"
HTTP_CLIENT_SPAN = "b0d1e5f0a1b2c3d4"
SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} ([0-9.e+-]+)$')


def metric_samples(body: bytes, name: str) -> dict[str, float]:
    """topic -> value of a Prometheus sample family (labels service, topic)."""
    out: dict[str, float] = defaultdict(float)
    for line in body.decode().splitlines():
        match = SAMPLE.match(line)
        if match and match.group(1) == name:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            out[labels["topic"]] += float(match.group(3))
    return out


def balance(processes: dict[str, object]) -> dict[tuple[str, str], tuple[float, float]]:
    """(consumer, topic) -> (records produced to the topic, records the consumer finished), for every route."""
    produced: dict[str, float] = defaultdict(float, {"turns.raw": TURNS})
    finished: dict[tuple[str, str], float] = {}
    for service, proc in processes.items():
        status, body = proc.http_get("/metrics")
        assert status == 200, f"{service} /metrics answered {status}"
        for topic, value in metric_samples(body, "sluice_messages_produced_total").items():
            produced[topic] += value
        for topic, value in metric_samples(body, "sluice_stage_latency_seconds_count").items():
            finished[(service, topic)] = value
    routes = {(service, spec.name) for spec in CONTRACT.topics for service in spec.consumers
              if service in processes}
    return {(s, t): (produced[t], finished.get((s, t), 0.0)) for s, t in routes}


def wait_until_quiet(processes, timeout_s: float = 120.0) -> None:
    """Every route has finished every record produced to its topic, in two scrapes in a row."""
    deadline, previous = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        for service, proc in processes.items():
            assert proc.process.poll() is None, f"{service} exited: {proc.log_tail()}"
        current = balance(processes)
        if all(p == f for p, f in current.values()) and current[("ingestion", "turns.raw")][1] == TURNS:
            if current == previous:
                return
            previous = current
        time.sleep(0.5)
    pending = {k: v for k, v in balance(processes).items() if v[0] != v[1]}
    raise AssertionError(f"pipeline did not drain: (produced, finished) {pending}")


async def test_one_raw_event_is_one_trace_across_every_service_hop(kafka, triton, namespace, service_factory,
                                                                   tmp_path):
    env = {"SLUICE_TRACE_EXPORTER": "file", "SLUICE_TRACE_FILE": str(tmp_path / "spans-{service}.jsonl"),
           "SLUICE_FEATURES_TRITON_URL": triton.grpc_url, "SLUICE_INFERENCE_TRITON_URL": triton.grpc_url}
    processes = {name: service_factory(name, **env) for name in SERVICES}
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        list(pool.map(lambda proc: proc.start(), processes.values()))

    turns = generate_turns(TURNS, seed=11, run_id=namespace, pii_share=0.0, toxic_share=0.0, injection_share=0.0)
    chosen = turns[2].record
    records = [(t.record.key, t.record.value, [h for h in t.record.headers if h[0] not in ("traceparent", "tracestate")])
               for t in turns]
    records[2] = (chosen.key, chosen.value, records[2][2] + [("traceparent", f"00-{TRACE_ID}-{CLIENT_SPAN}-01".encode())])
    await produce_records(kafka.bootstrap, CONTRACT.physical("turns.raw", namespace), records[:-1])
    # The last turn comes over ingestion's HTTP endpoint, with the HTTP client's own trace context.
    request = urllib.request.Request(
        processes["ingestion"].base_url + "/v1/turns", data=turns[-1].record.value, method="POST",
        headers={"Content-Type": "application/json", "traceparent": f"00-{HTTP_TRACE_ID}-{HTTP_CLIENT_SPAN}-01"})
    with await asyncio.to_thread(urllib.request.urlopen, request, timeout=30) as response:
        assert response.status == 202

    await asyncio.to_thread(wait_until_quiet, processes)
    for service, proc in processes.items():  # graceful stop: spans still queued must reach the file
        assert proc.stop() == 0, f"{service} did not stop cleanly: {proc.log_tail()}"

    spans = [s for name in SERVICES for s in read_span_file(tmp_path / f"spans-{name}.jsonl")]
    by_id = {s["span_id"]: s for s in spans}
    trace = [s for s in spans if s["trace_id"] == TRACE_ID]
    hops = Counter((s["name"], s["parent_span_id"]) for s in trace)
    assert all(n == 1 for n in hops.values()), f"a hop appears twice in the trace: {hops}"
    span = {s["name"]: s for s in trace if s["name"] != "drift process drift.observations"}

    def hop(name: str, parent_span_id: str, service: str) -> dict:
        assert name in span, f"no span {name!r} in the trace; it has {sorted(span)}"
        current = span[name]
        assert current["service"] == f"sluice-{service}"
        assert current["parent_span_id"] == parent_span_id, f"{name}: parent is not the previous hop"
        parent = by_id.get(parent_span_id)
        if parent is not None:
            assert parent["end_ns"] <= current["start_ns"], f"{name} started before {parent['name']} ended"
        assert current["status"] != "ERROR", current
        return current

    ingestion = hop("ingestion process turns.raw", CLIENT_SPAN, "ingestion")
    assert ingestion["attributes"]["sluice.event_id"] == chosen.event_id
    features = hop("features process turns.validated", ingestion["span_id"], "features")
    inference = hop("inference process features", features["span_id"], "inference")
    guardrails = hop("guardrails process predictions", inference["span_id"], "guardrails")
    verdict = guardrails["attributes"]["sluice.decision"]
    verdict_topic = "review.requests" if verdict == "block" else "turns.enriched"
    drift_verdict = hop(f"drift process {verdict_topic}", guardrails["span_id"], "drift")
    feedback = hop("feedback process predictions", inference["span_id"], "feedback")
    hop("feedback process feedback.join", feedback["span_id"], "feedback")
    drift = hop("drift process predictions", inference["span_id"], "drift")
    # drift observes the prediction and the verdict: one observation each (a flag's review request is skipped)
    observations = {s["parent_span_id"]: s for s in trace if s["name"] == "drift process drift.observations"}
    assert set(observations) == {drift["span_id"], drift_verdict["span_id"]}
    for observation in observations.values():
        assert by_id[observation["parent_span_id"]]["end_ns"] <= observation["start_ns"]
        assert observation["service"] == "sluice-drift"
    expected = {"ingestion process turns.raw", "features process turns.validated", "inference process features",
                "guardrails process predictions", f"drift process {verdict_topic}", "feedback process predictions",
                "feedback process feedback.join", "drift process predictions"}
    # a flag also goes to review.requests (drift reads it and skips it); the join may tick the online metrics
    optional = {"drift process review.requests", "feedback process feedback.metric-updates"}
    assert expected <= set(span) <= expected | optional, sorted(span)
    if "feedback process feedback.metric-updates" in span:
        hop("feedback process feedback.metric-updates", span["feedback process feedback.join"]["span_id"], "feedback")

    # The batched model calls: a fetch span per batch, linked to the record's incoming span, and back.
    for process, upstream in ((features, ingestion), (inference, features)):
        fetches = [by_id[link["span_id"]] for link in process["links"] if link["span_id"] in by_id]
        assert len(fetches) == 1 and fetches[0]["name"].startswith(f"{process['service'][7:]} fetch ")
        assert upstream["span_id"] in {link["span_id"] for link in fetches[0]["links"]}
        assert fetches[0]["trace_id"] != TRACE_ID and fetches[0]["parent_span_id"] is None

    # Over HTTP: the endpoint's produce span is a child of the client's span, and the raw record's span its child.
    http = [s for s in spans if s["trace_id"] == HTTP_TRACE_ID]
    produce = next(s for s in http if s["name"] == "ingestion http produce")
    assert produce["parent_span_id"] == HTTP_CLIENT_SPAN
    consumed = next(s for s in http if s["name"] == "ingestion process turns.raw")
    # (the produce span lasts until the broker's ack, which may come after ingestion has consumed the record)
    assert consumed["parent_span_id"] == produce["span_id"] and produce["start_ns"] <= consumed["start_ns"]
    assert "guardrails process predictions" in {s["name"] for s in http}

    # Turns sent without a traceparent: ingestion starts their trace, and each reaches guardrails in it.
    roots = [s for s in spans if s["name"] == "ingestion process turns.raw"
             and s["trace_id"] not in (TRACE_ID, HTTP_TRACE_ID)]
    assert len(roots) == TURNS - 2 and all(s["parent_span_id"] is None for s in roots)
    traces = {s["trace_id"] for s in roots}
    assert len(traces) == TURNS - 2
    reached = {s["trace_id"] for s in spans if s["name"] == "guardrails process predictions"}
    assert traces | {TRACE_ID, HTTP_TRACE_ID} == reached

"""Measures the embedding model: in-process texts/s at batch 1 and 32, and through a running Triton
(infra/triton/triton.sh start) serial HTTP latency plus throughput of concurrent gRPC clients, for one or more
dynamic-batching queue delays (each applied with a repository-API reload carrying a config override).

    .venv/bin/python infra/triton/models/embedding/bench.py [--inprocess-only] [--delays 0,2000]

Texts are call-centre-like turns of 10-25 words (the features' redacted_text), so padding stays realistic.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

TEXTS = [
    "Hi, I was charged twice for my [DATE] bill and I want the second charge reversed.",
    "I can't log into my account since the password reset, it keeps saying the link expired.",
    "My internet drops every evening around eight, I've restarted the router many times.",
    "Can you send the replacement card to [ADDRESS] instead of my old address please?",
    "I'd like to cancel my subscription at the end of this month.",
    "Thanks, that's all I needed, have a good day.",
    "Someone used my card [CARD] for purchases I never made, please block it now.",
    "I've been waiting forty minutes on hold, this is ridiculous, I want a supervisor.",
]


def inprocess(batch_sizes=(1, 32), windows=7, window_s=1.0):
    from infra.models.minilm import Embedder

    embedder = Embedder(ROOT / ".cache/models/embedding")
    embedder.embed(TEXTS)  # warm-up: first run allocates arenas
    for size in batch_sizes:
        batch = [TEXTS[i % len(TEXTS)] for i in range(size)]
        # Short windows: on a shared machine the best window approximates the uncontended cost, the median the
        # typical one.
        rates = []
        for _ in range(windows):
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < window_s:
                embedder.embed(batch)
                calls += 1
            rates.append(calls * size / (time.perf_counter() - started))
        print(f"in-process batch {size}: best {max(rates):.0f} texts/s ({size / max(rates) * 1e3:.2f} ms/call), "
              f"median {statistics.median(rates):.0f} texts/s over {windows} windows of {window_s:.0f} s")

def _http_infer(conn, text):
    body = json.dumps({"inputs": [{"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "data": [text]}]})
    conn.request("POST", "/v2/models/embedding/infer", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(payload[:300])


def serial_http(port, n=200):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for text in TEXTS:
        _http_infer(conn, text)
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        _http_infer(conn, TEXTS[i % len(TEXTS)])
        latencies.append((time.perf_counter() - started) * 1e3)
    latencies.sort()
    print(f"serial HTTP, batch 1: p50 {statistics.median(latencies):.2f} ms, "
          f"p95 {latencies[int(0.95 * n)]:.2f} ms (n={n})")


def concurrent_grpc(port, clients=8, seconds=8.0):
    import numpy as np
    import tritonclient.grpc as grpcclient

    done, stop = [0] * clients, threading.Event()

    def worker(k):
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        while not stop.is_set():
            tensor = grpcclient.InferInput("TEXT", [1, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[TEXTS[(k + done[k]) % len(TEXTS)].encode()]], dtype=object))
            client.infer("embedding", [tensor])
            done[k] += 1

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # warm-up: connections open, batches in flight
    base, started = sum(done), time.perf_counter()
    time.sleep(seconds)
    total, elapsed = sum(done) - base, time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join()
    print(f"  {clients} concurrent gRPC clients: {total / elapsed:.0f} texts/s, "
          f"mean latency {clients * elapsed / max(total, 1) * 1e3:.1f} ms")


def reload_with_delay(port, delay_us):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/v2/models/embedding/config")
    config = json.loads(conn.getresponse().read())
    config["dynamic_batching"]["max_queue_delay_microseconds"] = delay_us
    conn.request("POST", "/v2/repository/models/embedding/load",
                 json.dumps({"parameters": {"config": json.dumps(config)}}))
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(response.read()[:300])
    response.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inprocess-only", action="store_true")
    parser.add_argument("--delays", default="0,2000", help="max_queue_delay_microseconds values to compare")
    args = parser.parse_args()
    inprocess()
    if args.inprocess_only:
        return
    http_port = int(os.environ.get("SLUICE_TRITON_HTTP_PORT", "18000"))
    grpc_port = int(os.environ.get("SLUICE_TRITON_GRPC_PORT", "18001"))
    delays = [int(d) for d in args.delays.split(",")]
    for delay in delays:
        reload_with_delay(http_port, delay)
        print(f"max_queue_delay_microseconds={delay}:")
        serial_http(http_port)
        concurrent_grpc(grpc_port)
    # Leave the server as config.pbtxt says, not as the last experiment did.
    conn = http.client.HTTPConnection("127.0.0.1", http_port)
    conn.request("POST", "/v2/repository/models/embedding/load", "{}")
    conn.getresponse().read()


if __name__ == "__main__":
    main()

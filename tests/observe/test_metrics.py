"""Prometheus endpoints scraped over 127.0.0.1: the worker's counters and the queue gauges
served by `monitor --prometheus`, compared with `stats --json`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, run_cli, wait_for
from test_monitor import _known_db
from ytcorpus.observe.metrics import QueueMetrics, WorkerMetrics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text.decode())
            for s in fam.samples}


def test_worker_metrics_count_what_the_worker_reports():
    port = free_port()
    m = WorkerMetrics(port, addr="127.0.0.1")
    try:
        m.videos_done(3)
        m.audio_seconds(125.5)
        m.failure("network")
        m.failure("network")
        m.failure("private")
        m.batch(6, 8)
        m.batch(8, 8)
        m.pool_depth(17)
        m.engine_busy(2.5)
        m.download_bytes(1_000_000)
        m.circuit_state("open")
        got = scrape(port)
    finally:
        m.close()
    assert got[("ytcorpus_worker_videos_total", ())] == 3
    assert got[("ytcorpus_worker_audio_seconds_total", ())] == 125.5
    assert got[("ytcorpus_worker_failures_total", (("kind", "network"),))] == 2
    assert got[("ytcorpus_worker_failures_total", (("kind", "private"),))] == 1
    assert got[("ytcorpus_worker_batch_items_total", ())] == 14
    assert got[("ytcorpus_worker_batch_slots_total", ())] == 16
    assert got[("ytcorpus_worker_batch_fill", ())] == 1.0
    assert got[("ytcorpus_worker_chunk_pool_depth", ())] == 17
    assert got[("ytcorpus_worker_engine_busy_seconds_total", ())] == 2.5
    assert got[("ytcorpus_worker_download_bytes_total", ())] == 1_000_000
    assert got[("ytcorpus_worker_circuit", (("ytcorpus_worker_circuit", "open"),))] == 1
    assert got[("ytcorpus_worker_circuit", (("ytcorpus_worker_circuit", "closed"),))] == 0


def test_no_port_means_no_server_and_no_errors():
    m = WorkerMetrics(None)
    m.videos_done(1)
    m.failure("x")
    m.circuit_state("open")
    m.close()
    QueueMetrics(0).update({})  # never even reads the frame


def test_a_port_in_use_is_a_clear_error():
    from ytcorpus.core.errors import ConfigError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ConfigError, match="metrics port"):
            WorkerMetrics(s.getsockname()[1], addr="127.0.0.1")


def test_monitor_prometheus_matches_stats_json(tmp_path):
    db = str(tmp_path / "data.db")
    _known_db(db)
    stats = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ytcorpus", "--db", db, "monitor",
                             "--prometheus", str(port), "--interval", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        got = wait_for(lambda: _try_scrape(port), timeout=60)
        line = proc.stdout.readline()  # piped: one plain line per interval
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for status in ("pending", "processing", "completed", "error"):
        assert got[("ytcorpus_videos", (("status", status),))] == stats[status]
    assert got[("ytcorpus_audio_seconds_completed", ())] == stats["audio_seconds_completed"]
    assert got[("ytcorpus_tokens_completed", ())] == stats["tokens_completed"]
    for kind, n in stats["errors_by_kind"].items():
        assert got[("ytcorpus_errors", (("kind", kind),))] == n
    assert got[("ytcorpus_active_workers", ())] == stats["active_workers"]
    assert "1,200 completed" in line and "queue ETA" in line


def _try_scrape(port: int):
    try:
        return scrape(port)
    except OSError:
        return None


def test_dashboard_json_uses_exported_metric_names():
    board = json.loads((ROOT / "dashboards" / "ytcorpus.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p.get("targets", []))
    for name in ("ytcorpus_videos", "ytcorpus_audio_seconds_completed",
                 "ytcorpus_worker_audio_seconds_total", "ytcorpus_worker_failures_total",
                 "ytcorpus_worker_batch_fill", "ytcorpus_worker_engine_busy_seconds_total"):
        assert name in exprs, name

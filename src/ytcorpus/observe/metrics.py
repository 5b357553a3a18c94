"""Prometheus metrics: a worker's own counters (`work --metrics-port`) and the queue-wide
gauges (`monitor --prometheus`). Each object has its own registry and HTTP server, and
does nothing at all when no port is given, so callers never need an `if`.

Dashboard: dashboards/ytcorpus.json (Grafana).
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

CIRCUIT_STATES = ["closed", "open", "probing"]
QUEUE_STATUSES = ("pending", "processing", "completed", "error")


class _Served:
    """A registry served over HTTP on `port` (0/None: no server, every call a no-op)."""

    def __init__(self, port: int | None, addr: str = "0.0.0.0"):
        self.enabled = bool(port)
        self.server = None
        if not self.enabled:
            return
        from prometheus_client import CollectorRegistry, start_http_server

        self.registry = CollectorRegistry()
        self._define()
        try:
            self.server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            from ..core.errors import ConfigError

            raise ConfigError(f"metrics port {port}: {exc.strerror or exc}") from None
        log.info("Prometheus metrics on http://%s:%d/metrics", addr, port)

    def _define(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class WorkerMetrics(_Served):
    """What one worker exposes. The worker calls these as things happen."""

    def _define(self) -> None:
        from prometheus_client import Counter, Enum, Gauge

        r = self.registry
        self._videos = Counter("ytcorpus_worker_videos", "Videos completed by this worker",
                               registry=r)
        self._audio = Counter("ytcorpus_worker_audio_seconds",
                              "Audio seconds transcribed by this worker", registry=r)
        self._failures = Counter("ytcorpus_worker_failures", "Videos failed, by error kind",
                                 ["kind"], registry=r)
        self._batches = Counter("ytcorpus_worker_batches", "Engine batches run", registry=r)
        self._batch_items = Counter("ytcorpus_worker_batch_items",
                                    "Chunks in engine batches", registry=r)
        self._batch_slots = Counter("ytcorpus_worker_batch_slots",
                                    "Batch capacity offered (items / slots = fill)",
                                    registry=r)
        self._fill = Gauge("ytcorpus_worker_batch_fill", "Fill of the last batch (0..1)",
                           registry=r)
        self._pool = Gauge("ytcorpus_worker_chunk_pool_depth",
                           "Audio chunks waiting for the engine", registry=r)
        self._busy = Counter("ytcorpus_worker_engine_busy_seconds",
                             "Seconds the engine spent on batches (rate = busy share)",
                             registry=r)
        self._bytes = Counter("ytcorpus_worker_download_bytes", "Bytes downloaded",
                              registry=r)
        self._circuit = Enum("ytcorpus_worker_circuit", "Claiming circuit state",
                             states=CIRCUIT_STATES, registry=r)
        self._started = Gauge("ytcorpus_worker_start_time_seconds",
                              "Unix time the worker started", registry=r)
        self._started.set(time.time())

    def videos_done(self, n: int = 1) -> None:
        if self.enabled:
            self._videos.inc(n)

    def audio_seconds(self, seconds: float) -> None:
        if self.enabled and seconds > 0:
            self._audio.inc(seconds)

    def failure(self, kind: str) -> None:
        if self.enabled:
            self._failures.labels(kind=kind or "unknown").inc()

    def batch(self, fill: int, size: int) -> None:
        """One engine batch: `fill` items in a batch of capacity `size`."""
        if self.enabled:
            self._batches.inc()
            self._batch_items.inc(fill)
            self._batch_slots.inc(max(size, fill))
            self._fill.set(fill / size if size else 0.0)

    def pool_depth(self, n: int) -> None:
        if self.enabled:
            self._pool.set(n)

    def engine_busy(self, seconds: float) -> None:
        if self.enabled and seconds > 0:
            self._busy.inc(seconds)

    def download_bytes(self, n: int) -> None:
        if self.enabled and n > 0:
            self._bytes.inc(n)

    def circuit_state(self, state: str) -> None:
        if self.enabled and state in CIRCUIT_STATES:
            self._circuit.state(state)


class QueueMetrics(_Served):
    """Queue-wide gauges from a `stats --json` frame (monitor.collect)."""

    def _define(self) -> None:
        from prometheus_client import Gauge

        r = self.registry
        self._videos = Gauge("ytcorpus_videos", "Videos in the queue by status", ["status"],
                             registry=r)
        self._audio = Gauge("ytcorpus_audio_seconds_completed",
                            "Audio seconds of completed videos", registry=r)
        self._tokens = Gauge("ytcorpus_tokens_completed", "Tokens of completed videos",
                             registry=r)
        self._errors = Gauge("ytcorpus_errors", "Videos in error by kind", ["kind"],
                             registry=r)
        self._waiting = Gauge("ytcorpus_waiting_retry", "Pending videos waiting out a backoff",
                              registry=r)
        self._workers = Gauge("ytcorpus_active_workers", "Workers with a live heartbeat",
                              registry=r)
        self._speed = Gauge("ytcorpus_x_realtime", "Audio seconds per second, fleet-wide",
                            ["window"], registry=r)
        self._staged = Gauge("ytcorpus_staged_seconds",
                             "Audio seconds staged for GPU workers (ytcorpus fetch)", registry=r)
        self._downloaded = Gauge("ytcorpus_audio_bytes_downloaded",
                                 "Audio bytes downloaded, queue-wide", registry=r)
        self._eta = Gauge("ytcorpus_queue_eta_seconds",
                          "Seconds to empty the queue at the recent rate (-1: unknown)",
                          registry=r)

    def update(self, d: dict[str, Any]) -> None:
        if not self.enabled:
            return
        for status in QUEUE_STATUSES:
            self._videos.labels(status=status).set(d[status])
        self._audio.set(d["audio_seconds_completed"])
        self._tokens.set(d["tokens_completed"])
        self._errors.clear()
        for kind, n in d["errors_by_kind"].items():
            self._errors.labels(kind=kind).set(n)
        self._waiting.set(d["waiting_retry"])
        self._workers.set(d["active_workers"])
        self._speed.labels(window="5m").set(d["x_realtime_5m"])
        self._speed.labels(window="1h").set(d["x_realtime_1h"])
        self._staged.set(d.get("staged_seconds") or 0)
        self._downloaded.set(d.get("audio_bytes_downloaded") or 0)
        eta = d.get("queue_eta_seconds")
        self._eta.set(-1 if eta is None else eta)

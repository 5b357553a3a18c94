"""The node's circuit: stop claiming while the node itself is failing.

A node fault (rate limit, bot check, no network, full disk, a database outage: see
ytcorpus.errors.fault_of) trips the circuit open: the worker releases what it holds
uncharged and stops claiming. After a back-off (base_s, doubling on every failed probe,
capped at max_s) `allow_claim()` says yes exactly once: the worker claims one video as a
probe. Its success closes the circuit; its failure (another `trip`) opens it again for
twice as long.

    circuit = Circuit()
    if circuit.allow_claim(): claims = queue.claim(worker, 1 if circuit.state == "probing" else n)
    ... circuit.trip("rate_limited: HTTP Error 429")   or   circuit.success()
    ... circuit.abort_probe()   when the probe claim found nothing to do

States: "closed" (claim freely), "open" (claim nothing until `retry_at`), "probing" (one
probe is out; claim nothing more). Thread-safe: download threads and the writer report
into one Circuit.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class Circuit:
    def __init__(self, base_s: float = 30.0, max_s: float = 1800.0, *, jitter: float = 0.1,
                 clock: Callable[[], float] = time.monotonic):
        if base_s <= 0 or max_s < base_s:
            raise ValueError("Circuit needs 0 < base_s <= max_s")
        self.base_s, self.max_s, self.jitter = base_s, max_s, jitter
        self._clock = clock
        self._lock = threading.Lock()
        self.state = "closed"
        self.reason: str | None = None
        self.opened_at: float | None = None  # clock time the circuit last opened
        self.retry_at: float | None = None   # clock time the next probe is allowed
        self.backoff_s = 0.0                 # the current wait, grows on failed probes
        self.trips = 0                       # times it opened (for logs and metrics)
        self._probe_since: float | None = None
        self.on_change: Callable[[str], None] | None = None  # gets the new state (metrics)

    def _changed(self, before: str, after: str) -> None:
        """Tell `on_change` (outside the lock) when the state moved."""
        if self.on_change is not None and after != before:
            try:
                self.on_change(after)
            except Exception as exc:  # noqa: BLE001 - a metrics hook never stops claiming
                log.debug("circuit on_change failed: %s", exc)

    # ---- reports -------------------------------------------------------------------
    def trip(self, reason: str) -> None:
        """A node fault. Closed -> open for base_s; a failed probe -> open for twice as
        long (capped); while already open only the reason is updated."""
        with self._lock:
            now = self._clock()
            self.reason = reason
            if self.state == "open":
                return
            before = self.state
            grow = self.state == "probing"
            self.backoff_s = min(self.max_s, self.backoff_s * 2) if grow else self.base_s
            self.state = "open"
            self.opened_at = now
            self.retry_at = now + self.backoff_s * random.uniform(1 - self.jitter,
                                                                  1 + self.jitter)
            self._probe_since = None
            self.trips += 1
            wait = self.retry_at - now
        self._changed(before, "open")
        log.warning("node blocked (%s): no claims for %.0f s, then one probe", reason, wait)

    def success(self) -> None:
        """Work succeeded: a probe (or any success while not open) closes the circuit.
        Successes while open are ignored (work started before the fault can still end
        well); only a probe reopens the node."""
        with self._lock:
            if self.state == "open":
                return
            before = self.state
            was_probing = self.state == "probing"
            self.state, self.reason = "closed", None
            self.backoff_s, self.retry_at, self._probe_since = 0.0, None, None
        self._changed(before, "closed")
        if was_probing:
            log.info("node unblocked: the probe succeeded; claiming again")

    def abort_probe(self) -> None:
        """The probe claim found nothing to do: allow another probe right away."""
        with self._lock:
            before = self.state
            if self.state == "probing":
                self.state, self.retry_at, self._probe_since = "open", self._clock(), None
            after = self.state
        self._changed(before, after)

    # ---- the claim gate ------------------------------------------------------------
    def allow_claim(self) -> bool:
        """True while closed; while open, False until the back-off has passed, then True
        once (the probe). A probe that never reports back is allowed again after as long
        as the current back-off."""
        with self._lock:
            now = self._clock()
            if self.state == "closed":
                return True
            before = self.state
            if self.state == "probing":
                if now - (self._probe_since or now) < max(self.backoff_s, self.base_s):
                    return False
            elif now < (self.retry_at or 0.0):
                return False
            self.state, self._probe_since = "probing", now
        self._changed(before, "probing")
        return True

    @property
    def blocked(self) -> bool:
        """The node is not claiming freely (open or probing)."""
        return self.state != "closed"

    def seconds_left(self) -> float:
        """Seconds until the next probe is allowed (0 when closed or due)."""
        with self._lock:
            if self.state != "open" or self.retry_at is None:
                return 0.0
            return max(0.0, self.retry_at - self._clock())

    def describe(self) -> str:
        """One line for logs and the monitor."""
        if self.state == "closed":
            return "closed"
        if self.state == "probing":
            return f"probing ({self.reason})"
        return f"open for {self.seconds_left():.0f} s more ({self.reason})"

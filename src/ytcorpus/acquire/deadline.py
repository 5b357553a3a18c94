"""Download deadlines: a download that falls below a minimum throughput, or runs past an
overall cap, is stopped and its thread freed.

A server that trickles one byte every few seconds never trips a socket timeout and
never reaches yt-dlp's progress hooks (a read of a block waits for the whole block), so
one watchdog thread checks every download in flight and, when one is overdue, shuts down
the sockets its thread opened and refuses new connections from that thread until the
download returns. yt-dlp then fails at once; the fetcher turns that into `timeout`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_local = threading.local()  # .watch: the Watch of this thread's download; .sockets
_original_connect = socket.socket.connect
_install_lock = threading.Lock()
_installed = False


def _tracking_connect(self: socket.socket, address) -> None:
    watch = getattr(_local, "watch", None)
    if watch is not None and watch.expired:
        raise ConnectionAbortedError(f"download stopped: {watch.expired}")
    _original_connect(self, address)
    if watch is not None:
        with contextlib.suppress(OSError):
            # (fd, local, peer): a TLS wrapper takes over the fd, so keep the numbers
            watch.sockets.append((self.fileno(), self.getsockname(), self.getpeername()))


def install() -> None:
    """Route socket connects through the tracker (idempotent; a no-op for any thread
    that is not inside `Watchdog.watch`)."""
    global _installed
    with _install_lock:
        if not _installed:
            socket.socket.connect = _tracking_connect  # type: ignore[method-assign]
            _installed = True


def _shutdown(fd: int, local, peer) -> None:
    try:
        probe = socket.socket(fileno=fd)
    except OSError:
        return  # already closed
    try:
        # the fd may have been closed and reused: only the connection we saw opened
        if probe.getsockname() == local and probe.getpeername() == peer:
            probe.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        probe.detach()


@dataclass(eq=False)
class Watch:
    """One download in flight."""

    label: str
    started: float = field(default_factory=time.monotonic)
    bytes: int = 0
    samples: deque = field(default_factory=lambda: deque(maxlen=4096))
    sockets: list = field(default_factory=list)
    expired: str | None = None
    waiting: bool = False  # waiting for its pace slot: no deadline runs meanwhile

    def progress(self, downloaded_bytes: int | None) -> None:
        """From yt-dlp's progress hook; raises once the watchdog gave up on it."""
        if downloaded_bytes is not None:
            self.bytes = int(downloaded_bytes)
            self.samples.append((time.monotonic(), self.bytes))
        if self.expired:
            raise ConnectionAbortedError(f"download stopped: {self.expired}")

    def bytes_since(self, moment: float) -> int:
        before = 0
        for t, b in self.samples:
            if t > moment:
                break
            before = b
        return self.bytes - before


class Watchdog:
    """Checks every download in flight twice a second (one daemon thread)."""

    def __init__(self, *, min_bytes_s: float = 16384, window_s: float = 30.0,
                 grace_s: float = 60.0, max_s: float = 1800.0, period_s: float = 0.5):
        self.min_bytes_s = min_bytes_s
        self.window_s = window_s
        self.grace_s = grace_s
        self.max_s = max_s
        self.period_s = period_s
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._stopped: str | None = None
        self._thread: threading.Thread | None = None
        install()

    def overdue(self, w: Watch, now: float) -> str | None:
        """Why this download must stop now, or None."""
        if w.waiting:
            return None
        age = now - w.started
        if self.max_s and age > self.max_s:
            return f"took over {self.max_s:.0f} s"
        if self.min_bytes_s and age > self.grace_s + self.window_s:
            got = w.bytes_since(now - self.window_s)
            if got < self.min_bytes_s * self.window_s:
                return (f"{got / self.window_s:.0f} B/s over the last {self.window_s:.0f} s, "
                        f"under the minimum of {self.min_bytes_s:.0f} B/s")
        return None

    @contextlib.contextmanager
    def watch(self, label: str):
        w = Watch(label)
        if self._stopped:
            w.expired = self._stopped
        _local.watch = w
        with self._lock:
            self._watches.add(w)
            self._start()
        try:
            yield w
        finally:
            _local.watch = None
            with self._lock:
                self._watches.discard(w)

    def stop_all(self, reason: str = "stopping") -> None:
        """Stop every download in flight and refuse new ones (worker shutdown)."""
        self._stopped = reason
        with self._lock:
            watches = list(self._watches)
        for w in watches:
            self._expire(w, reason)

    def _expire(self, w: Watch, reason: str) -> None:
        if not w.expired:
            w.expired = reason
            log.info("stopping download %s: %s", w.label, reason)
        for fd, local, peer in list(w.sockets):
            _shutdown(fd, local, peer)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="download-watchdog",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.period_s)
            now = time.monotonic()
            with self._lock:
                watches = list(self._watches)
                if not watches:
                    self._thread = None
                    return
            for w in watches:
                reason = w.expired or self.overdue(w, now)
                if reason:
                    self._expire(w, reason)  # again each round: retries open new sockets

"""Whose fault: errors.fault_of and classify on real exception types and messages."""

from __future__ import annotations

import errno

import pytest

from ytcorpus.core.errors import (DatabaseUnavailableError, DeviceBrokenError, NodeFault,
                             PermanentError, RetryableError, classify, fault_of, last_line)

CASES = [
    # (exception, fault, kind from classify or None when not a download failure)
    (RetryableError("HTTP Error 429: Too Many Requests", kind="rate_limited"), "node", None),
    (Exception("ERROR: unable to download video data: HTTP Error 429: Too Many Requests"),
     "node", "rate_limited"),
    (Exception("ERROR: [youtube] x: Sign in to confirm you're not a bot"), "node", "bot_check"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), "node", "offline"),
    (Exception("<urlopen error [Errno -3] Temporary failure in name resolution>"), "node",
     "offline"),
    (OSError(errno.ENOSPC, "No space left on device"), "node", "disk_full"),
    (OSError(errno.EIO, "Input/output error"), "node", None),
    (OSError(errno.EFBIG, "File too large"), "node", "disk_full"),  # a file-size limit
    (MemoryError(), "node", None),
    (RuntimeError("CUDA error: an illegal memory access was encountered"), "node", None),
    (DatabaseUnavailableError("server closed the connection"), "node", None),
    (DeviceBrokenError("3 inputs failed in a row"), "node", None),
    (NodeFault("anything"), "node", None),
    (PermanentError("Private video", kind="private"), "video", None),
    (Exception("ERROR: [youtube] x: Private video. Sign in if you've been granted access"),
     "video", "private"),
    (Exception("ERROR: [generic] Unable to download webpage: HTTP Error 414: URI Too Long"),
     "video", "invalid"),
    (Exception("ERROR: unsafe file extension: 'exe'"), "video", "unsupported"),
    (ConnectionResetError("Connection reset by peer"), "video", "network"),
    (TimeoutError("read timed out"), "video", "timeout"),
    (KeyError("formats"), "unknown", "unknown"),
    (ValueError("first line\nsecond line\nthe cause"), "unknown", "unknown"),
    ("disk_full", "node", None),  # kind names, as queue.fail accepts them
    ("device", "node", None),
    ("private", "video", None),
    ("unknown", "unknown", None),
]


@pytest.mark.parametrize("exc,fault,kind", CASES, ids=[repr(c[0])[:60] for c in CASES])
def test_fault_of(exc, fault, kind):
    assert fault_of(exc) == fault
    if kind is not None:
        assert classify(exc).kind == kind


def test_unknown_keeps_the_exceptions_last_line():
    err = classify(ValueError("context\n\n  the cause  \n"))
    assert err.kind == "unknown" and err.retryable
    assert str(err) == "ValueError: the cause"
    assert last_line(KeyError("formats")) == "KeyError: 'formats'"


def test_414_and_unsafe_extension_are_permanent():
    from yt_dlp.utils import DownloadError

    for text in ("ERROR: [generic] Unable to download webpage: HTTP Error 414: URI Too Long",
                 "ERROR: unsafe file extension: 'php'",
                 "ERROR: The extracted extension ('php') is unusual and will be skipped for "
                 "safety reasons. If you believe this is an error, please report this issue"):
        err = classify(DownloadError(text))
        assert not err.retryable and err.kind in ("invalid", "unsupported")

"""The node circuit: trip, growing capped back-off, one probe, close on success."""

from __future__ import annotations

import threading

import pytest

from ytcorpus.work.circuit import Circuit


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(base=30.0, cap=120.0):
    clock = Clock()
    return Circuit(base, cap, jitter=0.0, clock=clock), clock


def test_closed_claims_freely_and_a_trip_opens_it():
    c, clock = make()
    assert c.state == "closed" and all(c.allow_claim() for _ in range(3))
    c.trip("rate_limited: HTTP Error 429")
    assert (c.state, c.reason, c.opened_at) == ("open", "rate_limited: HTTP Error 429", 1000.0)
    assert not c.allow_claim() and c.seconds_left() == 30.0
    clock.now += 29.9
    assert not c.allow_claim()
    clock.now += 0.2
    assert c.allow_claim() and c.state == "probing"
    assert not c.allow_claim()  # exactly one probe
    c.success()
    assert (c.state, c.reason) == ("closed", None) and c.allow_claim()


def test_failed_probes_double_the_backoff_up_to_the_cap():
    c, clock = make(base=30, cap=100)
    c.trip("bot_check")
    waits = []
    for _ in range(5):
        waits.append(c.seconds_left())
        clock.now += c.seconds_left()
        assert c.allow_claim() and c.state == "probing"
        c.trip("bot_check again")
    assert waits == [30, 60, 100, 100, 100]
    assert c.trips == 6 and c.reason == "bot_check again"


def test_trips_while_open_do_not_extend_and_successes_do_not_close():
    c, clock = make()
    c.trip("disk_full")
    clock.now += 20
    c.trip("disk_full")  # other in-flight work meeting the same fault
    c.success()  # work started before the fault ended well: not proof
    assert c.state == "open" and c.seconds_left() == 10
    clock.now += 10
    assert c.allow_claim()
    c.success()
    assert c.state == "closed"
    c.trip("offline")  # a fresh trip starts again from base
    assert c.seconds_left() == 30


def test_a_probe_that_finds_nothing_or_never_reports_is_allowed_again():
    c, clock = make()
    c.trip("rate_limited")
    clock.now += 30
    assert c.allow_claim()
    c.abort_probe()  # the claim came back empty
    assert c.state == "open" and c.allow_claim()
    clock.now += 29
    assert not c.allow_claim()
    clock.now += 2  # the probe never reported: after one back-off another may go
    assert c.allow_claim() and c.state == "probing"


def test_threads_get_one_probe():
    c, clock = make()
    c.trip("rate_limited")
    clock.now += 31
    granted = []
    threads = [threading.Thread(target=lambda: granted.append(c.allow_claim()))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(granted) == [False] * 7 + [True]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Circuit(0, 10)
    with pytest.raises(ValueError):
        Circuit(60, 30)


def test_on_change_hears_every_state_move_once():
    c, clock = make()
    seen: list[str] = []
    c.on_change = seen.append
    c.success()  # closed -> closed: nothing
    c.trip("rate_limited")
    c.trip("rate_limited again")  # still open: nothing
    clock.now += 30
    assert c.allow_claim()
    assert not c.allow_claim()  # still probing: nothing
    c.abort_probe()
    assert c.allow_claim()
    c.success()
    c.abort_probe()  # closed: nothing
    assert seen == ["open", "probing", "open", "probing", "closed"]

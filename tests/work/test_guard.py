"""EngineGuard with plugin-style engines that misbehave the way real ones do: a poison
input, a dead CUDA context, out-of-memory above a batch size (torch and CTranslate2)."""

from __future__ import annotations

import weakref

import pytest

from ytcorpus.core.errors import DeviceBrokenError, EngineError, NodeFault, fault_of
from ytcorpus.models import Segment
from ytcorpus.work.guard import EngineGuard, is_out_of_memory


class Buffer:
    """Stands for the tensors a failed batch leaves in its traceback's frames."""


class EchoEngine:
    """A working plugin engine: one segment per item, saying what the item was."""

    name, model_name, device = "echo", "echo-1", "cpu"

    def __init__(self, model=None, device="cpu", batch_size=8):
        self.batch_size = batch_size
        self.sizes: list[int] = []

    def transcribe_chunks(self, items):
        self.sizes.append(len(items))
        self.check(items)
        return [[{"start": 0.0, "end": 1.0, "text": str(item)}] for item in items]

    def check(self, items):
        pass


class PoisonEngine(EchoEngine):
    """Fails the whole batch whenever a poison input is in it (a device-side assert)."""

    def check(self, items):
        if any(str(item).startswith("poison") for item in items):
            raise RuntimeError("CUDA error: device-side assert triggered")


class DeadEngine(EchoEngine):
    """A dead CUDA context: every call fails, whatever the input."""

    def check(self, items):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


class TorchOomEngine(EchoEngine):
    """torch raises OutOfMemoryError above `fits` items; records whether the previous
    failed batch's memory was freed before the next call."""

    fits = 3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.leaked: list[bool] = []
        self._last: weakref.ref | None = None

    def check(self, items):
        import torch

        if self._last is not None:
            self.leaked.append(self._last() is not None)
        if len(items) > self.fits:
            buffer = Buffer()  # held by this frame, so by the exception's traceback
            self._last = weakref.ref(buffer)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self._last = None


class Ct2OomEngine(EchoEngine):
    fits = 2

    def check(self, items):
        if len(items) > self.fits:
            raise RuntimeError("CUDA failed with error out of memory")


def texts(results):
    return [r[0].text if isinstance(r, list) else type(r).__name__ for r in results]


def test_healthy_batch_passes_through():
    engine = EchoEngine(batch_size=4)
    guard = EngineGuard(engine)
    results = guard.run(["a", "b", "c"], ["v1", "v1", "v2"])
    assert texts(results) == ["a", "b", "c"]
    assert all(isinstance(s, Segment) for r in results for s in r)
    assert engine.sizes == [3] and guard.run([]) == []


def test_a_poison_input_is_found_charged_and_its_batch_mates_complete():
    engine = PoisonEngine(batch_size=8)
    guard = EngineGuard(engine)
    items = ["a", "b", "c", "poison", "d", "e", "f", "g"]
    keys = ["v1", "v1", "v2", "v3", "v4", "v4", "v5", "v6"]
    results = guard.run(items, keys)
    assert texts(results) == ["a", "b", "c", "EngineError", "d", "e", "f", "g"]
    assert isinstance(results[3], EngineError) and results[3].kind == "engine_rejected"
    assert fault_of(results[3]) == "video"
    assert "device-side assert" in str(results[3])
    assert guard.calls <= 2 * 3 + 1  # a binary search, not one call per input
    assert guard.batch_size == 8  # not an OOM: the batch size stays


def test_an_input_failing_last_is_proven_with_the_canary():
    engine = PoisonEngine(batch_size=8)
    guard = EngineGuard(engine)
    results = guard.run(["ok", "poison"], ["v1", "v2"])  # nothing succeeds after it...
    assert texts(results) == ["ok", "EngineError"]  # ...so "ok" is run again as proof
    assert engine.sizes == [2, 1, 1, 1]
    results = guard.run(["poison"], ["v2"])  # alone, as at the end of a queue
    assert texts(results) == ["EngineError"]


def test_with_no_proof_the_input_is_only_a_suspect():
    guard = EngineGuard(PoisonEngine(batch_size=8))
    results = guard.run(["poison", "poison2"], ["v1", "v2"])  # nothing ever worked here
    assert texts(results) == ["NodeFault", "NodeFault"]
    assert fault_of(results[1]) == "node" and results[1].kind == "device"
    results = guard.run(["poison", "ok"], ["v1", "v3"])  # a success after it: charged
    assert texts(results) == ["EngineError", "ok"]


class DyingEngine(EchoEngine):
    """Works for its first call, then fails like a GPU that fell off the bus."""

    def check(self, items):
        if len(self.sizes) > 1:
            raise RuntimeError("CUDA error: unspecified launch failure")


def test_a_device_that_dies_after_working_is_found_with_the_canary():
    guard = EngineGuard(DyingEngine(batch_size=4), broken_after=3)
    assert texts(guard.run(["a", "b"], ["va", "vb"])) == ["a", "b"]
    assert texts(guard.run(["c"], ["vc"])) == ["NodeFault"]  # the canary failed too
    with pytest.raises(DeviceBrokenError) as info:
        guard.run(["d"], ["vd"])
    assert info.value.suspects == ["vc", "vd"]


def test_a_dead_device_raises_device_broken_without_charging_anyone():
    engine = DeadEngine(batch_size=8)
    guard = EngineGuard(engine, broken_after=3)
    with pytest.raises(DeviceBrokenError) as info:
        guard.run(["a", "b", "c", "d"], ["v1", "v1", "v2", "v3"])
    assert info.value.suspects == ["v1", "v2", "v3"]
    assert fault_of(info.value) == "node"


def test_failures_of_one_video_alone_are_not_a_broken_device():
    guard = EngineGuard(DeadEngine(batch_size=4), broken_after=3)
    results = guard.run(["a1", "a2", "a3", "a4"], ["va"] * 4)
    assert texts(results) == ["NodeFault"] * 4  # released uncharged, nothing proven
    results = guard.run(["b1"], ["vb"])
    assert texts(results) == ["NodeFault"]
    with pytest.raises(DeviceBrokenError):  # the third different video in the streak
        guard.run(["c1"], ["vc"])


def test_a_success_between_failures_resets_the_streak():
    guard = EngineGuard(PoisonEngine(batch_size=1), broken_after=3)
    for n in range(6):  # poison on a new video each time, a good input between
        results = guard.run([f"poison{n}", f"ok{n}"], [f"p{n}", f"g{n}"])
        assert texts(results) == ["EngineError", f"ok{n}"]


def test_torch_oom_halves_frees_memory_first_and_grows_back():
    engine = TorchOomEngine(batch_size=8)
    guard = EngineGuard(engine, grow_after=3)
    results = guard.run([f"x{i}" for i in range(8)], [f"v{i}" for i in range(8)])
    assert texts(results) == [f"x{i}" for i in range(8)]  # nobody charged for an OOM
    assert guard.batch_size == 2 and engine.sizes == [8, 4, 2, 2, 2, 2]
    assert engine.leaked and not any(engine.leaked)  # freed before every retry
    for _ in range(3):
        guard.run(["y", "z"], ["v", "w"])
    assert guard.batch_size == 4
    for _ in range(3):
        guard.run(["y"], ["v"])
    assert guard.batch_size == 8  # back to the engine's own, no further


def test_ctranslate2_oom_message_is_recognised():
    engine = Ct2OomEngine(batch_size=6)
    guard = EngineGuard(engine)
    results = guard.run(list("abcdef"), list("uvwxyz"))
    assert texts(results) == list("abcdef")
    assert engine.sizes == [6, 3, 1, 1, 1, 1, 1, 1] and guard.batch_size == 1
    assert guard.ooms == 2


@pytest.mark.parametrize("exc,oom", [
    (RuntimeError("CUDA failed with error out of memory"), True),
    (RuntimeError("std::bad_alloc"), True),
    (MemoryError(), True),
    (RuntimeError("CUDA error: out of memory"), True),
    (RuntimeError("CUDA error: an illegal memory access was encountered"), False),
    (ValueError("bad input"), False),
])
def test_is_out_of_memory(exc, oom):
    assert is_out_of_memory(exc) is oom


def test_keys_must_match_items():
    with pytest.raises(ValueError):
        EngineGuard(EchoEngine()).run(["a", "b"], ["v"])


def test_keys_may_be_unhashable_objects():
    a, b, c = {"video": "a"}, {"video": "b"}, {"video": "c"}
    guard = EngineGuard(DeadEngine(batch_size=4), broken_after=3)
    with pytest.raises(DeviceBrokenError) as info:
        guard.run(["1", "2", "3", "4"], [a, a, b, c])
    assert info.value.suspects == [a, b, c]


def test_without_keys_every_input_is_its_own_video():
    guard = EngineGuard(DeadEngine(batch_size=4), broken_after=3)
    with pytest.raises(DeviceBrokenError):
        guard.run(["a", "b", "c"])


def test_suspects_are_node_faults_for_the_queue():
    results = EngineGuard(PoisonEngine()).run(["poison"], ["v"])
    assert isinstance(results[0], NodeFault)


class RejectingEngine(EchoEngine):
    """A plugin that rejects some inputs (clipped audio: ValueError) and works on others."""

    def check(self, items):
        if any(str(item).startswith("clipped") for item in items):
            raise ValueError("input is clipped")


def test_inputs_rejected_before_anything_worked_are_charged_once_a_probe_works():
    """Four rejected inputs queued first, one at a time: before, the third different video
    made the device 'broken' (exit 70, forever); the probe proves the device instead."""
    engine = RejectingEngine(batch_size=1)
    guard = EngineGuard(engine, broken_after=3, probe=lambda: "known-good")
    for n in range(4):
        results = guard.run([f"clipped{n}"], [f"v{n}"])
        assert texts(results) == ["EngineError"], n
        assert results[0].kind == "engine_rejected" and fault_of(results[0]) == "video"
        assert "input is clipped" in str(results[0])
    assert texts(guard.run(["ok"], ["w"])) == ["ok"]


def test_reaching_broken_after_runs_the_known_good_input_first():
    """Rejections on 3 different videos inside one run, no success between: the
    known-good input still transcribes, so they are the inputs' fault, not the device's."""
    engine = RejectingEngine(batch_size=1)
    guard = EngineGuard(engine, broken_after=3)
    assert texts(guard.run(["ok"], ["g"])) == ["ok"]  # the canary
    results = guard.run(["clipped1", "clipped2", "clipped3", "clipped4"], list("abcd"))
    assert texts(results) == ["EngineError"] * 4


def test_a_plugin_failing_everything_is_broken_even_with_a_probe():
    guard = EngineGuard(RejectingEngine(batch_size=1), broken_after=3,
                        probe=lambda: "clipped-probe")  # the known-good input fails too
    assert texts(guard.run(["clipped1"], ["a"])) == ["NodeFault"]
    with pytest.raises(DeviceBrokenError) as info:
        guard.run(["clipped2"], ["b"])
    assert "input is clipped" in str(info.value) and info.value.suspects == ["a", "b"]

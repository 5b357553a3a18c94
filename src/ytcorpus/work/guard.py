"""EngineGuard: run engine batches so that one bad input, a full GPU or a dead device
each cost what they should and no more.

    guard = EngineGuard(engine, broken_after=3, grow_after=20, probe=known_good)
    results = guard.run(items, keys)      # keys: the video each item belongs to
    # one entry per item, in order: its segments (list[Segment]), or an exception:
    #   EngineError (kind "engine_rejected")      charge that item's video: the engine
    #                                              rejected it while a known-good input
    #                                              still transcribes;
    #   NodeFault (kind "device")                  release the video uncharged (a suspect
    #                                              the device has not yet been proven
    #                                              healthy against).
    # raises DeviceBrokenError (exit 70) when the device is broken; EngineContractError
    # (a bug in the engine) is re-raised as is.

`keys` is a parallel list naming each item's video (e.g. its video_id). Without it every
item counts as a video of its own, so three failing chunks of one video could be taken
for a broken device: pass keys.

Rules:
- Out of memory (torch.OutOfMemoryError, CTranslate2's "CUDA failed with error out of
  memory", std::bad_alloc, MemoryError): the exception is dropped first (its traceback
  holds the batch's tensors), then the cache is emptied, outside the except block; the
  batch size halves and the same items run again in smaller batches. After `grow_after`
  batches in a row without an OOM the batch size doubles again, up to the engine's own.
- Any other failure of a batch of several items: it is split in halves, recursively,
  until the failing input stands alone (a binary search: one poison input in a batch
  of 16 costs about 8 extra calls; its batch-mates complete).
- An input that fails alone is charged (EngineError, kind "engine_rejected", with the
  engine's message) only when the engine has since succeeded on another input: proof the
  device still works. When nothing in the run succeeded after it, a known-good input is
  run alone as that proof: the last input the engine got right (the canary, one item
  kept), or before any success `probe()` (a known-good input the caller makes: the
  worker's is a real speech clip, so inputs rejected before anything succeeded are still
  proven). With no proof (no known-good input, or it fails too) the input comes back as
  NodeFault and its video is released uncharged.
- `broken_after` single-input failures in a row, on that many different videos, with no
  success between: the known-good input is run once more; when it transcribes, the
  inputs were at fault (charged, the streak ends); when it fails too (or there is none):
  DeviceBrokenError. The worker releases every row (suspects included) and exits 70 so
  the supervisor restarts it with a fresh CUDA context.
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any, Callable, Sequence

from ..engines.base import EngineContractError, check_results
from ..core.errors import DeviceBrokenError, EngineError, NodeFault, last_line

log = logging.getLogger(__name__)

OOM_MARKERS = ("out of memory", "cuda_error_out_of_memory", "cudaerrormemoryallocation",
               "std::bad_alloc", "failed to allocate", "cublas_status_alloc_failed")


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError, CTranslate2's and CUDA's allocation failures."""
    if type(exc).__name__ in ("OutOfMemoryError", "MemoryError") or isinstance(exc,
                                                                               MemoryError):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in OOM_MARKERS)


def free_device_memory() -> None:
    """Collect what the failed batch left and give cached blocks back to the device.
    Call it outside any except block, once the exception is no longer referenced."""
    gc.collect()
    torch = sys.modules.get("torch")  # only when the engine imported it
    if torch is not None:
        try:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - best effort
            pass


class EngineGuard:
    def __init__(self, engine: Any, broken_after: int = 3, grow_after: int = 20,
                 probe: Callable[[], Any] | None = None):
        self.engine = engine
        self.probe = probe  # makes a known-good input, used before any success
        self.max_batch = self.batch_size = max(1, int(getattr(engine, "batch_size", 1) or 1))
        self.broken_after = max(1, int(broken_after))
        self.grow_after = max(1, int(grow_after))
        self.calls = 0        # transcribe_chunks calls (tests, bench)
        self.ooms = 0
        self._good_runs = 0   # runs in a row without an OOM
        self._event = 0       # numbers successes and failures in order
        self._last_success = 0
        self._streak: list[Any] = []  # keys of single-input failures since the last success
        self._canary: Any = None      # one input the engine last got right (see below)
        self._canary_key = object()   # the canary counts as a video of its own

    # ---- public --------------------------------------------------------------------
    def run(self, items: list, keys: Sequence[Any] | None = None) -> list:
        if not items:
            return []
        if keys is None:
            keys = [object() for _ in items]  # every item its own video (see module doc)
        elif len(keys) != len(items):
            raise ValueError("EngineGuard.run: keys must name one video per item")
        out: list[Any] = [None] * len(items)
        suspects: list[tuple[int, int, str]] = []  # (index, event, message)
        ooms_before = self.ooms
        self._batches(list(range(len(items))), items, keys, out, suspects)
        if suspects and self._last_success <= suspects[-1][1]:
            self._check_with_canary()
        for index, when, message in suspects:
            if self._last_success > when:  # the device worked on another input since
                out[index] = EngineError(f"the engine rejected this input (a known-good "
                                         f"input still transcribes): {message}",
                                         kind="engine_rejected")
            else:
                out[index] = NodeFault(f"engine failed on this input, device not proven "
                                       f"healthy since: {message}", kind="device")
        self._after_run(oom=self.ooms > ooms_before)
        return out

    # ---- internals -----------------------------------------------------------------
    def _batches(self, idx: list[int], items, keys, out, suspects) -> None:
        """Run idx in pieces of at most the current batch size."""
        k = 0
        while k < len(idx):
            step = max(1, self.batch_size)
            self._try(idx[k:k + step], items, keys, out, suspects)
            k += step

    def _try(self, idx: list[int], items, keys, out, suspects) -> None:
        batch = [items[i] for i in idx]
        error: BaseException | None = None
        self.calls += 1
        try:
            results = check_results(self.engine, batch, self.engine.transcribe_chunks(batch))
        except EngineContractError:
            raise
        except Exception as exc:  # noqa: BLE001 - decided below, outside the except block
            error = exc
        if error is None:
            for i, segments in zip(idx, results):
                out[i] = segments
            self._canary = batch[0]
            self._event += 1
            self._last_success = self._event
            self._streak.clear()
            return
        oom = is_out_of_memory(error)
        message = last_line(error)
        error = None  # drop the traceback (and the tensors its frames hold) first
        del batch
        if oom:
            self.ooms += 1
            free_device_memory()
        if len(idx) == 1:
            self._single_failure(idx[0], keys, message, suspects)
        elif oom:
            self.batch_size = max(1, min(self.batch_size, len(idx)) // 2)
            log.warning("out of memory on %d inputs: batch size now %d", len(idx),
                        self.batch_size)
            self._batches(idx, items, keys, out, suspects)
        else:
            half = len(idx) // 2
            log.info("engine failed on a batch of %d (%s): splitting it", len(idx), message)
            self._try(idx[:half], items, keys, out, suspects)
            self._try(idx[half:], items, keys, out, suspects)

    def _check_with_canary(self) -> None:
        """Inputs failed alone and nothing succeeded after them: run a known-good input
        alone. If it works the device is proven and the suspects are charged; if it fails
        too, that is one more failure towards a broken device. (So a poison input that
        keeps arriving last, or alone, or first, is still charged.)"""
        message = self._prove()
        if message:  # None: proven; "": nothing known to be good, no proof either way
            self._single_failure(None, [self._canary_key], message, [])

    def _known_good(self) -> Any:
        if self._canary is not None:
            return self._canary
        if self.probe is None:
            return None
        try:
            self._canary = self.probe()
        except Exception as exc:  # noqa: BLE001 - no proof then, as without a probe
            log.warning("cannot make a known-good input: %s", last_line(exc))
        return self._canary

    def _prove(self) -> str | None:
        """Run the known-good input alone: None when it transcribed (a success: the
        streak ends), else why it failed ("" when there is no known-good input)."""
        canary = self._known_good()
        if canary is None:
            return ""
        error: BaseException | None = None
        self.calls += 1
        try:
            check_results(self.engine, [canary], self.engine.transcribe_chunks([canary]))
        except EngineContractError:
            raise
        except Exception as exc:  # noqa: BLE001 - decided below, outside the except block
            error = exc
        if error is None:
            self._event += 1
            self._last_success = self._event
            self._streak.clear()
            return None
        message = last_line(error)
        error = None
        free_device_memory()
        return message or "failed"

    def _single_failure(self, index: int | None, keys, message: str, suspects) -> None:
        self._event += 1
        self._streak.append(keys[0] if index is None else keys[index])
        videos: list[Any] = []  # distinct, in order (keys need not be hashable)
        for key in self._streak:
            if not any(key is v or key == v for v in videos):
                videos.append(key)
        if len(videos) >= self.broken_after:
            proof = self._prove() if index is not None else message
            if proof is None:  # a known-good input still transcribes: the inputs' fault
                suspects.append((index, self._event, message))
                return
            error = DeviceBrokenError(
                f"the device failed on single inputs of {len(videos)} different videos in "
                f"a row with no success between, and a known-good input "
                + (f"failed too: {proof}" if proof else "was not at hand")
                + f" (last input: {message})")
            # the keys of the videos that failed alone
            error.suspects = [v for v in videos if v is not self._canary_key]
            self._streak.clear()
            raise error
        suspects.append((index, self._event, message))

    def _after_run(self, oom: bool) -> None:
        if oom:
            self._good_runs = 0
            return
        self._good_runs += 1
        if self._good_runs >= self.grow_after and self.batch_size < self.max_batch:
            self.batch_size = min(self.max_batch, self.batch_size * 2)
            self._good_runs = 0
            log.info("batch size grows back to %d", self.batch_size)

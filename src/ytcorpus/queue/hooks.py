"""Completion hooks: what other stores write in the transaction that completes a row.

The lease contract (base.Queue) knows nothing of dedup or staging; the modules that keep
those tables register a hook here when the queue package is imported. A hook has
`prepare(result)` (CPU work, run before the write transaction opens) and
`store(q, cur, video_id, result, prepared)` (run in it, after the row's UPDATE succeeded),
and optionally `after(q, rows)` (run once it committed).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple


class CompletionHook(NamedTuple):
    name: str
    store: Callable[..., None]
    prepare: Callable[[Any], Any] = lambda result: None
    # after(q, [(video_id, prepared), ...]): once the completing transaction committed,
    # outside any lock (dedup links a row to its near-duplicates here: queue/duplicates.py)
    after: Callable[..., None] | None = None


_HOOKS: dict[str, CompletionHook] = {}


def register(hook: CompletionHook) -> None:
    """Add (or replace, by name) a hook; completions run hooks in registration order."""
    _HOOKS[hook.name] = hook


def completion_hooks() -> tuple[CompletionHook, ...]:
    return tuple(_HOOKS.values())

"""`ytcorpus cluster`: the fleet on a Ray cluster. fleet.py is the supervisor loop (one
per cluster, anywhere that reaches the Ray head and the database); actors.py holds the
Ray actors that run the same staged worker (ytcorpus.work.worker) and download fleet
(ytcorpus.acquire.fleet) in-process on the nodes. Ray is imported only here, lazily."""

from __future__ import annotations

from ..core.errors import ConfigError

INSTALL = 'pip install "ytcorpus[cluster]"'


def import_ray():
    """The ray module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"`ytcorpus cluster` needs Ray: {INSTALL}") from None
    return ray

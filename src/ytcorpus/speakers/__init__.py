"""Who spoke when (`--diarize`): speaker embeddings over the VAD's speech regions in the
prepare stage (embed), clustering with an unknown number of speakers (cluster), and
labels on the transcript's segments, split at changes of speaker (assign).

Heavy dependencies (torch, the resemblyzer weights, librosa's mel filters) are imported
only when diarization runs: `pip install 'ytcorpus[diarize]'`."""

from __future__ import annotations

from ..core.errors import ConfigError


class DiarizeUnavailable(ConfigError):
    """--diarize was asked for but the `diarize` extra is not installed."""

    kind = "config"


def speaker_turns_of(windows) -> list:
    """SpeakerWindows (embed.py) -> turns (assign.Turn): clustered, runs merged."""
    from .assign import speaker_turns
    from .cluster import cluster_speakers

    return speaker_turns(windows.times, cluster_speakers(windows.matrix()))


def require_diarize() -> None:
    """Raise DiarizeUnavailable (with the pip command) when the extra is missing."""
    from .embed import require_extra

    require_extra()

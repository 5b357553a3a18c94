"""Public alias: `ytcorpus.models` is the data model that lives in `ytcorpus.core.models`."""

from .core.models import (AddResult, Claim, InvalidList, InvalidSource, Result, Segment, Stats,
                          Status, Transcript, Video, coerce_segments)

__all__ = ["AddResult", "Claim", "InvalidList", "InvalidSource", "Result", "Segment", "Stats",
           "Status", "Transcript", "Video", "coerce_segments"]

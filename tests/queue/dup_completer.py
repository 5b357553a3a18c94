"""Completes rows at an agreed moment, for the race-free root test.

usage: python dup_completer.py DB WORKER START_AT VIDEO_ID=TEXTFILE...
Waits until the wall clock reads START_AT, then completes each row (held by WORKER)
with the text in its file; each pair's two rows complete at the same moment.
"""

import sys
import time
from pathlib import Path

from ytcorpus.models import Result
from ytcorpus.queue import open_queue


def main() -> None:
    db, worker, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    q = open_queue(db)
    for i, item in enumerate(sys.argv[4:]):
        video_id, path = item.split("=", 1)
        text = Path(path).read_text()
        time.sleep(max(0.0, start_at + 0.5 * i - time.time()))
        assert q.complete(worker, video_id, Result(transcript=text, duration_seconds=60.0))
    q.close()


if __name__ == "__main__":
    main()

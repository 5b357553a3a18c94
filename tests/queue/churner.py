"""A process that changes row statuses every way a worker can, for the counter tests:
claim, complete, fail (retryable, permanent, node), release, let leases run out, reap.
Completions carry a language and its source, flags, downloaded bytes, and one row in
five a shared text (near-duplicates: dedup links them), all chosen by the video id.

usage: python churner.py DB NAME SEED ROUNDS
"""

import random
import sys

from ytcorpus.core.errors import video_error
from ytcorpus.models import Result
from ytcorpus.queue import open_queue


SHARED = " ".join(f"word{j} of the shared lecture" for j in range(30))


def extras(video_id: str) -> dict:
    """What a completion of this row stores besides its counts (test_quality_counts.py)."""
    k = int(video_id[-3:])
    return {"transcript": SHARED if k % 5 == 0 else f"text of {video_id}",
            "language": ("en", "de", None)[k % 3],
            "language_source": ("model", "signals", "metadata", None)[k % 4],
            "flags": (["no_speech"], [], ["language_uncertain", "no_speech"])[k % 3],
            "audio_bytes": None if k % 7 == 0 else 1000 + k}


def main() -> None:
    db, name, seed, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    q = open_queue(db, retry_base_s=0.0, retry_max_s=0.0)
    for _ in range(rounds):
        claims = q.claim(name, rng.randint(1, 4), lease_s=rng.choice([0.0, 60.0, 60.0]))
        for c in claims:
            action = rng.random()
            if action < 0.4:
                q.complete(name, c.video_id, Result(
                    duration_seconds=rng.randint(1, 90), tokens=rng.randint(1, 500),
                    **extras(c.video_id)))
            elif action < 0.55:
                q.fail(name, c.video_id, video_error("network", "reset", c.video_id))
            elif action < 0.7:
                q.fail(name, c.video_id, video_error("private", "private", c.video_id))
            elif action < 0.8:
                q.release(name, [c.video_id])
            # else: held until its lease runs out (lease 0: at once) and is reaped
        q.reap_expired()
    q.close()


if __name__ == "__main__":
    main()

"""A process that changes row statuses every way a worker can, for the counter tests:
claim, complete, fail (retryable, permanent, node), release, let leases run out, reap.

usage: python churner.py DB NAME SEED ROUNDS
"""

import random
import sys

from ytcorpus.core.errors import video_error
from ytcorpus.models import Result
from ytcorpus.queue import open_queue


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
                    transcript=f"text of {c.video_id}", duration_seconds=rng.randint(1, 90),
                    tokens=rng.randint(1, 500)))
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

"""A claiming process for the concurrency tests: claim -> (pretend work) -> complete.

usage: python claimer.py DB NAME LOGFILE LEASE_S WORK_S
Appends each video id it completed (complete() returned True) to LOGFILE.
"""

import os
import random
import sys
import time

from ytcorpus.models import Result
from ytcorpus.queue import open_queue


def main() -> None:
    db, name, log_path, lease_s, work_s = sys.argv[1:6]
    name = f"{name}-{os.getpid()}"
    lease, work = float(lease_s), float(work_s)
    q = open_queue(db)
    idle = 0
    with open(log_path, "a", buffering=1) as log:
        while idle < 3:
            claims = q.claim(name, random.randint(1, 5), lease_s=lease)
            if not claims:
                idle += 1
                q.reap_expired()
                time.sleep(0.05)
                continue
            idle = 0
            if work:
                time.sleep(random.uniform(0, work))
                q.heartbeat(name, [c.video_id for c in claims], lease_s=lease)
            done = q.complete_many(name, [(c.video_id, Result(transcript=c.video_id,
                                                                duration_seconds=1.0))
                                          for c in claims])
            for claim, ok in zip(claims, done):
                if ok:
                    log.write(claim.video_id + "\n")
    q.close()


if __name__ == "__main__":
    main()

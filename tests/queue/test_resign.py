"""Signatures stored by an older ytcorpus (another shingle/band scheme) are made again
from the transcripts when the database is upgraded, so old rows still find new copies."""

from __future__ import annotations

import speech_texts as T
from ytcorpus.models import Result, Video
from ytcorpus.queue import open_queue
from ytcorpus.queue.quality import duplicates_of


def test_upgrade_remakes_signatures_of_another_scheme(db_url):
    with open_queue(db_url) as q:
        q.add([Video(video_id=f"g{i:09d}", url=f"https://example.org/{i}") for i in range(3)])
        a, b, c = (x.video_id for x in q.claim("w", 3))
        q.complete("w", a, Result(transcript=T.ENGLISH_PRESS_A))
        q.complete("w", b, Result(transcript=T.ENGLISH_CELLS))
        with q._write_tx() as cur:  # as schema 5 left it: other bands, no scheme row
            q._exec(cur, "DROP TABLE dedup_scheme")
            q._exec(cur, "UPDATE minhash_bands SET hash = hash + 1")
            q._exec(cur, "UPDATE schema_version SET version = 5")
    with open_queue(db_url) as q:  # the upgrade
        q.complete("w", c, Result(transcript=T.ENGLISH_PRESS_A + " Thank you."))
        assert duplicates_of(q, c) == [a]
        assert q.get(c)["duplicate_of"] == a
        assert duplicates_of(q, b) == []

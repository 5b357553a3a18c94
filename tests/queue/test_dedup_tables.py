"""The near-duplicate side tables: one signature and one set of bands per row, replaced
when a row completes again (completions are at-least-once)."""

from ytcorpus.models import Result, Video
from ytcorpus.quality import dedup
from ytcorpus.queue.quality import duplicates_of

LECTURE = ("rivers carve valleys over thousands of years as water carries sand and stones "
           "downhill and every flood cuts a little deeper into the rock while soft ground "
           "lets the valley grow wide and hard ground leaves a narrow gorge with steep walls")
OTHER = ("cells are wrapped in a thin membrane that decides what enters and what leaves "
         "while the nucleus keeps the instructions and small mitochondria turn sugar and "
         "oxygen into the energy that the cell spends on growing and dividing in two")


def _count(queue, sql: str) -> int:
    with queue._read_tx() as cur:
        queue._exec(cur, sql)
        return int(list(dict(cur.fetchone()).values())[0])


def test_completing_again_replaces_signature_and_bands(queue):
    ids = ["dedupA00001", "dedupB00001"]
    queue.add([Video(v, f"https://youtu.be/{v}") for v in ids])
    queue.claim("w", n=2)
    queue.complete("w", ids[0], Result(transcript=LECTURE))
    queue.complete("w", ids[1], Result(transcript=LECTURE + " and so on"))
    assert queue.get(ids[1])["duplicate_of"] == ids[0]
    assert _count(queue, "SELECT COUNT(*) FROM minhash_bands") == 2 * dedup.BANDS
    with queue._write_tx() as cur:  # the row is done again (e.g. re-queued by hand)
        queue._exec(cur, "UPDATE videos SET status = 'processing', worker = 'w' "
                         "WHERE video_id = ?", (ids[1],))
    queue.complete("w", ids[1], Result(transcript=OTHER))
    assert _count(queue, "SELECT COUNT(*) FROM minhash_bands") == 2 * dedup.BANDS
    assert _count(queue, "SELECT COUNT(*) FROM minhash_signatures") == 2
    assert queue.get(ids[1])["duplicate_of"] is None
    assert duplicates_of(queue, ids[0]) == []

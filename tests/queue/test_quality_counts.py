"""stats' "quality" and the monitor's download totals from counters (queue/summary_counts.py):
equal to counting the rows through every change, on both backends, with several processes
at once, after a migration, and on a database made before these counters (read-only:
counted as before; at its next writable open: built once)."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import run_cli
from test_counts import churn
from test_flat_plans import _plans

from ytcorpus.core.errors import video_error
from ytcorpus.models import Result, Video
from ytcorpus.queue import open_queue, summary_counts
from ytcorpus.queue.migrate import migrate
from ytcorpus.queue.quality import quality_summary
from ytcorpus.queue.staging import download_totals, mark_staged

sys.path.insert(0, str(Path(__file__).parent))
from churner import SHARED, extras  # noqa: E402

OTHER = " ".join(f"another{j} sentence of a different talk" for j in range(30))


def scanned(q) -> tuple[dict, dict]:
    """What quality_summary and download_totals must say, by counting every row."""
    with q._read_tx() as cur:
        q._exec(cur, "SELECT flag, COUNT(*) AS n FROM video_flags GROUP BY flag")
        flags = {r["flag"]: int(r["n"]) for r in cur.fetchall()}
        q._exec(cur, "SELECT language, language_source FROM videos WHERE status = 'completed'")
        rows = cur.fetchall()
        q._exec(cur, "SELECT COUNT(*) AS n FROM videos WHERE status = 'completed' "
                     "AND duplicate_of IS NOT NULL")
        dups = int(cur.fetchone()["n"])
        q._exec(cur, "SELECT COUNT(*) AS n, COALESCE(SUM(audio_bytes), 0) AS b, "
                     "COALESCE(SUM(duration_seconds), 0) AS s FROM videos "
                     "WHERE audio_bytes IS NOT NULL")
        r = cur.fetchone()
    quality = {"flags": dict(sorted(flags.items())),
               "languages": dict(Counter(r["language"] or "unknown" for r in rows)),
               "language_sources": dict(Counter(r["language_source"] or "unknown"
                                                for r in rows)),
               "duplicates": dups}
    return quality, {"videos": int(r["n"]), "bytes": int(r["b"]),
                     "seconds": pytest.approx(float(r["s"]))}


def counted(q) -> bool:
    """The readers answer from the counters (not by counting)."""
    with q._read_tx() as cur:
        return summary_counts.read(q, cur, ("flag",)) is not None


def exact(q, *, from_counters: bool = True) -> tuple[dict, dict]:
    now = (quality_summary(q), download_totals(q))
    assert now == scanned(q)
    assert counted(q) is from_counters
    return now


def _videos(n: int, prefix: str) -> list[Video]:
    return [Video(video_id=f"{prefix}{i:08d}", url=f"https://example.org/{prefix}{i}",
                  duration_seconds=10.0 + i) for i in range(n)]


def _recomplete(q, video_id: str, **result) -> None:
    """Completed twice (at-least-once): the second completion replaces the first's flags."""
    with q._write_tx() as cur:
        q._exec(cur, "UPDATE videos SET status = 'processing', worker = 'w' "
                     "WHERE video_id = ?", (video_id,))
    assert q.complete("w", video_id, Result(**result))


def _mix(q) -> None:
    """Every way a row's counted values change."""
    q.add(_videos(24, "q"))
    ids = [c.video_id for c in q.claim("w", 16)]
    texts = [SHARED, SHARED + " Thank you.", OTHER, SHARED]  # three near-duplicates
    for i, video_id in enumerate(ids[:4]):
        assert q.complete("w", video_id, Result(
            transcript=texts[i], duration_seconds=30.0 + i, tokens=5, language="en",
            language_source="model", flags=["no_speech"] if i % 2 else [],
            audio_bytes=10_000 + i))
    assert exact(q)[0]["duplicates"] == 2
    q.complete_many("w", [(v, Result(transcript=f"short {v}", duration_seconds=2.5,
                                     language=("de", None, "")[i % 3],
                                     language_source=("signals", None)[i % 2],
                                     flags=["language_uncertain", "no_speech"][:i % 3]))
                          for i, v in enumerate(ids[4:8])])
    exact(q)
    assert q.fail("w", ids[8], video_error("private", "private", ids[8])) == "error"
    q.fail("w", ids[9], video_error("network", "reset", ids[9]))
    q.release("w", [ids[10]])
    assert mark_staged(q, "w", ids[11], staged_path="a.opus", seconds=42.0, size=777)
    assert exact(q)[1]["videos"] == 5
    # completed again: another language, other flags (forget() deletes the old ones)
    _recomplete(q, ids[5], transcript="again", duration_seconds=3.0, language="fr",
                language_source="metadata", flags=["hallucination"], audio_bytes=5)
    _recomplete(q, ids[0], transcript=OTHER, duration_seconds=31.0, language="en")
    exact(q)
    q.requeue_errors()
    staged = q.claim("gpu", 1, staged=True)[0]
    q.complete("gpu", staged.video_id, Result(transcript="staged", duration_seconds=41.0,
                                              language="en", audio_bytes=800))
    with q._write_tx() as cur:  # a completed row back to pending, another one deleted
        q._exec(cur, "UPDATE videos SET status = 'pending', worker = NULL "
                     "WHERE video_id = ?", (ids[4],))
        q._exec(cur, "UPDATE videos SET duplicate_of = NULL WHERE video_id = ?", (ids[3],))
        q._exec(cur, "UPDATE video_flags SET flag = 'renamed' WHERE flag = 'hallucination'")
        q._exec(cur, "DELETE FROM videos WHERE video_id = ?", (ids[1],))
    exact(q)
    q.claim("w2", 30, lease_s=-1)
    q.reap_expired()
    q.release_worker("w2")


def test_counters_equal_the_counts_through_every_change(db_url):
    with open_queue(db_url, retry_base_s=0.0, retry_max_s=0.0) as q:
        _mix(q)
        quality, downloads = exact(q)
        assert quality["flags"]["renamed"] == 1 and quality["languages"]["fr"] == 1
        assert downloads["bytes"] > 0 and quality["duplicates"] > 0
    with open_queue(db_url, read_only=True) as q:  # readers read the same counters
        assert exact(q) == (quality, downloads)


def test_counters_stay_exact_with_processes_working_at_once(db_url):
    churn(db_url, 300, 30)
    with open_queue(db_url) as q:
        quality, downloads = exact(q)
        assert quality["duplicates"] > 0 and quality["flags"]["no_speech"] > 0
        assert downloads["videos"] > 0
        if q.backend == "postgres":  # the churners' shards fold into shard 0
            q.checkpoint()
            assert exact(q) == (quality, downloads)
            with q._read_tx() as cur:
                cur.execute("SELECT COUNT(*) AS n FROM summary_counts WHERE shard <> 0 AND "
                            "shard NOT IN (SELECT pid FROM pg_stat_activity)")
                assert cur.fetchone()["n"] == 0


def test_migrate_carries_the_counters(tmp_path, pg_server):
    src = str(tmp_path / "src.db")
    with open_queue(src, retry_base_s=0.0, retry_max_s=0.0) as q:
        q.add(_videos(20, "m"))
        for c in q.claim("w", 8):
            assert q.complete("w", c.video_id, Result(duration_seconds=5, **extras(c.video_id)))
        q.fail("w", q.claim("w", 1)[0].video_id, "private")
        q.claim("w", 2)
        before = exact(q)
        assert before[0]["duplicates"] > 0
    dst_url = pg_server.new_database()
    with open_queue(src) as s, open_queue(dst_url) as d:
        migrate(s, d)
        assert exact(d) == before


def _as_made_before_these_counters(q) -> None:
    """The database as the code before summary_counts left it (schema 6 all the same)."""
    pg = q.backend == "postgres"
    with q._write_tx() as cur:
        for table, prefix in (("videos", "videos_summary"), ("video_flags",
                                                            "video_flags_counts")):
            for event in ("insert", "update", "delete"):
                q._exec(cur, f"DROP TRIGGER IF EXISTS {prefix}_{event}"
                             + (f" ON {table}" if pg else ""))
                if pg:
                    q._exec(cur, f"DROP FUNCTION IF EXISTS ytcorpus_{prefix}_{event}()")
        q._exec(cur, "DROP TABLE summary_counts")


def test_a_database_made_before_the_counters_is_read_by_counting_then_upgraded(db_url):
    with open_queue(db_url) as q:
        _mix(q)
        _as_made_before_these_counters(q)
        for c in q.claim("w", 3):  # changes no counter saw
            q.complete("w", c.video_id, Result(duration_seconds=9, **extras(c.video_id)))
    with open_queue(db_url, read_only=True) as q:  # a reader: counts, changes nothing
        before = exact(q, from_counters=False)
        assert before[0]["languages"]
    out = run_cli("stats", "--json", "--db", db_url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["quality"] == before[0]
    with open_queue(db_url, read_only=True) as q:
        assert not counted(q)
    with open_queue(db_url) as q:  # the next writable open builds them, once
        assert exact(q) == before
        q.add(_videos(4, "n"))
        for c in q.claim("w", 4):
            q.complete("w", c.video_id, Result(duration_seconds=9, **extras(c.video_id)))
        exact(q)
    with open_queue(db_url, read_only=True) as q:
        exact(q)


def test_a_reader_without_select_on_the_new_table_counts(pg_server):
    """A read-only role granted SELECT before the upgrade made summary_counts."""
    import psycopg

    url = pg_server.new_database()
    with open_queue(url) as q:
        _mix(q)
        _as_made_before_these_counters(q)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                     "'qc_reader') THEN CREATE ROLE qc_reader LOGIN; END IF; END $$")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO qc_reader")
    with open_queue(url) as q:
        expected = exact(q)
    reader = url.replace("ytcorpus@", "qc_reader@")
    with open_queue(reader, read_only=True) as q:
        assert exact(q, from_counters=False) == expected


def _traced(q, call) -> list[tuple[str, tuple]]:
    traced: list[tuple[str, tuple]] = []
    exec_ = q._exec

    def recording(cur, sql, params=()):
        traced.append((sql, tuple(params)))
        return exec_(cur, sql, params)

    q._exec = recording
    try:
        call(q)
    finally:
        q._exec = exec_
    return traced




@pytest.mark.parametrize("read_only", [False, True])
def test_readers_touch_no_row_of_videos_or_video_flags(db_url, read_only):
    with open_queue(db_url) as q:
        q.add(_videos(500, "p"))
        for c in q.claim("w", 40):
            q.complete("w", c.video_id, Result(duration_seconds=9, **extras(c.video_id)))
    with open_queue(db_url, read_only=read_only) as q:
        for call in (quality_summary, download_totals):
            statements = _traced(q, call)
            assert statements
            table = re.compile(r"\b(videos|video_flags)\b", re.IGNORECASE)
            for (sql, _), plan in zip(statements, _plans(q, statements)):
                assert not table.search(sql), sql
                assert not table.search(plan), plan

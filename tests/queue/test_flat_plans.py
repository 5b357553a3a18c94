"""Claims and reaping read only what they change: the partial indexes on claimable
(pending) and leased (processing) rows, never a scan of the table (EXPLAIN)."""

from __future__ import annotations

from ytcorpus.queue import open_queue


def _plans(q, statements: list[tuple[str, tuple]]) -> list[str]:
    out = []
    with q._read_tx() as cur:
        for sql, params in statements:
            q._exec(cur, "EXPLAIN " + ("QUERY PLAN " if q.backend == "sqlite" else "") + sql,
                    params)
            out.append(" ".join(str(list(dict(r).values())[-1]) for r in cur.fetchall()))
    return out


def _reap_statements(q) -> list[tuple[str, tuple]]:
    traced: list[tuple[str, tuple]] = []
    exec_ = q._exec

    def recording(cur, sql, params=()):
        if sql.startswith("UPDATE videos"):
            traced.append((sql, tuple(params)))
        return exec_(cur, sql, params)

    q._exec = recording
    try:
        q.reap_expired()
    finally:
        q._exec = exec_
    return traced


def test_reap_probes_the_leased_rows_index(db_url):
    q = open_queue(db_url)
    q.add([f"https://www.youtube.com/watch?v=p{i:010d}" for i in range(3000)])
    q.claim("w", 40, lease_s=-1)
    q.claim("w", 40)
    if q.backend == "postgres":
        with q._write_tx() as cur:
            q._exec(cur, "ANALYZE videos")
    statements = _reap_statements(q)
    assert len(statements) == 2
    for plan in _plans(q, statements):
        if q.backend == "sqlite":
            assert "SEARCH videos USING INDEX idx_videos_leases" in plan, plan
        else:
            assert "Seq Scan" not in plan and "idx_videos_" in plan, plan
    q.close()

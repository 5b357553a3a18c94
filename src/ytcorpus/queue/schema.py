"""The videos table, shared by both backends. Columns of the original schema first;
an older database is upgraded in place by adding the missing columns."""

from __future__ import annotations

SCHEMA_VERSION = 2  # 2: covering indexes for stats and the monitor

# (name, sqlite type, postgresql type)
COLUMNS: list[tuple[str, str, str]] = [
    ("title", "TEXT", "TEXT"),
    ("course", "TEXT", "TEXT"),
    ("university", "TEXT", "TEXT"),
    ("url", "TEXT", "TEXT"),
    ("duration_seconds", "REAL", "DOUBLE PRECISION"),
    ("status", "TEXT NOT NULL DEFAULT 'pending'", "TEXT NOT NULL DEFAULT 'pending'"),
    ("transcript", "TEXT", "TEXT"),
    ("processing_time_seconds", "REAL", "DOUBLE PRECISION"),
    ("speed_ratio", "REAL", "DOUBLE PRECISION"),
    ("created_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP",
     "TEXT DEFAULT to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD HH24:MI:SS')"),
    ("completed_at", "TIMESTAMP", "TEXT"),
    ("priority", "INTEGER NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
    # added by ytcorpus
    ("source", "TEXT", "TEXT"),
    ("channel", "TEXT", "TEXT"),
    ("license", "TEXT", "TEXT"),
    ("language", "TEXT", "TEXT"),
    ("segments", "TEXT", "TEXT"),
    ("tokens", "INTEGER", "BIGINT"),
    ("model", "TEXT", "TEXT"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
    ("not_before", "REAL NOT NULL DEFAULT 0", "DOUBLE PRECISION NOT NULL DEFAULT 0"),
    ("worker", "TEXT", "TEXT"),
    ("lease_until", "REAL", "DOUBLE PRECISION"),
    ("error_kind", "TEXT", "TEXT"),
    ("error", "TEXT", "TEXT"),
    ("flags", "TEXT", "TEXT"),  # JSON list of quality flags, e.g. ["no_speech"]
]

INDEXES = [
    # the claim path: only pending rows, in claim order
    "CREATE INDEX IF NOT EXISTS idx_videos_pending ON videos (priority DESC, id) "
    "WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS idx_videos_leases ON videos (lease_until) "
    "WHERE status = 'processing'",
    "CREATE INDEX IF NOT EXISTS idx_videos_status ON videos (status)",
    # covering indexes: stats and the monitor never read rows (transcripts are inline and
    # `tokens` sits after them, so reading it from the row pulls the whole transcript)
    # (status is repeated in the columns: SQLite needs it there to call the index covering)
    "CREATE INDEX IF NOT EXISTS idx_videos_completed_at ON videos "
    "(completed_at, status, worker, duration_seconds, tokens) WHERE status = 'completed'",
    "CREATE INDEX IF NOT EXISTS idx_videos_completed_totals ON videos "
    "(status, duration_seconds, tokens) WHERE status = 'completed'",
]

WORKERS_TABLE = """
CREATE TABLE IF NOT EXISTS workers (
    worker TEXT PRIMARY KEY,
    host TEXT,
    device TEXT,
    model TEXT,
    started_at {real},
    last_seen {real},
    lease_s {real},
    state TEXT
)"""

# Fields exported and returned by iter_completed.
EXPORT_FIELDS = [
    "id", "video_id", "title", "transcript", "duration_seconds", "speed_ratio", "source",
    "url", "channel", "license", "language", "tokens", "model", "completed_at", "segments",
    "course", "university", "processing_time_seconds", "flags",
]


def create_videos_sql(backend: str) -> str:
    idx = 1 if backend == "sqlite" else 2
    pk = ("id INTEGER PRIMARY KEY AUTOINCREMENT" if backend == "sqlite"
          else "id BIGSERIAL PRIMARY KEY")
    cols = ",\n    ".join(f"{c[0]} {c[idx]}" for c in COLUMNS)
    return (f"CREATE TABLE IF NOT EXISTS videos (\n    {pk},\n"
            f"    video_id TEXT UNIQUE NOT NULL,\n    {cols}\n)")


def add_column_sql(backend: str, name: str) -> str:
    idx = 1 if backend == "sqlite" else 2
    decl = next(c[idx] for c in COLUMNS if c[0] == name)
    return f"ALTER TABLE videos ADD COLUMN {name} {decl}"


def upgrade_statements(backend: str, have: set[str]) -> list[str]:
    """After CREATE TABLE IF NOT EXISTS: what brings an existing table to this version."""
    real = "REAL" if backend == "sqlite" else "DOUBLE PRECISION"
    # version 1 had a narrower idx_videos_completed_at: rebuild it with its new columns
    return ([add_column_sql(backend, name) for name, _, _ in COLUMNS if name not in have]
            + ["DROP INDEX IF EXISTS idx_videos_completed_at"] + INDEXES
            + [WORKERS_TABLE.format(real=real), "DELETE FROM schema_version"])

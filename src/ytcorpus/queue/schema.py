"""The videos table, shared by both backends. Columns of the original schema first;
an older database is upgraded in place by adding the missing columns."""

from __future__ import annotations

from . import counts, summary_counts

SCHEMA_VERSION = 6  # 2: covering indexes for stats and the monitor; 3: crashes, completed_seq
# 5: audio_bytes/audio_format, staged_* (fetch fleet), routes table (STAGE_TABLES)
# 6: speakers (--diarize); queue_counts and its triggers (queue/counts.py), the
#    completion_numbers sequence (PostgreSQL), idx_videos_retry; summary_counts and its
#    triggers (queue/summary_counts.py: added to a version-6 database at a writable open)
# 4: quality, language_source, license_source, duplicate_of; MinHash side tables (QUALITY_TABLES)

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
    # times a lease of this row was reaped from a dead worker (3 -> error worker_crash)
    ("crashes", "INTEGER NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
    # commit order of completions (export --incremental's cursor; see COMPLETION_SEQ)
    ("completed_seq", "INTEGER", "BIGINT"),
    # quality helper: signals JSON, how the language was decided, where the licence was read
    ("quality", "TEXT", "TEXT"),
    ("language_source", "TEXT", "TEXT"),
    ("license_source", "TEXT", "TEXT"),
    ("duplicate_of", "TEXT", "TEXT"),  # video_id of the first row of its duplicate cluster
    # fetch helper: bytes downloaded and the format chosen (JSON: format_id, ext, abr, acodec)
    ("audio_bytes", "INTEGER", "BIGINT"),
    ("audio_format", "TEXT", "TEXT"),
    # fetch fleet (ytcorpus.stage): audio staged for GPU workers, path relative to the store
    ("staged_path", "TEXT", "TEXT"),
    ("staged_seconds", "REAL", "DOUBLE PRECISION"),
    ("staged_bytes", "INTEGER", "BIGINT"),
    ("staged_at", "REAL", "DOUBLE PRECISION"),
    # --diarize: how many speakers the transcript's segments name (NULL: not diarized)
    ("speakers", "INTEGER", "INTEGER"),
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
    "CREATE INDEX IF NOT EXISTS idx_videos_completed_seq ON videos (completed_seq) "
    "WHERE status = 'completed'",
    # stats' waiting_retry: only the rows that ever backed off (not_before > 0)
    "CREATE INDEX IF NOT EXISTS idx_videos_retry ON videos (not_before) "
    "WHERE status = 'pending' AND not_before > 0",
]

# SQLite: a one-row counter handing out completed_seq. complete_many bumps it inside its
# transaction; SQLite has one writer, so numbers are handed out in commit order: an export
# that has seen number N has seen every completion numbered below N.
# PostgreSQL: the completion_numbers SEQUENCE (no row lock shared by the fleet); numbers
# are not in commit order there, so an incremental export first waits for the
# transactions that may hold a number below its mark (see queue/seq.py).
COMPLETION_SEQ = [
    "CREATE TABLE IF NOT EXISTS completion_seq (v BIGINT NOT NULL)",
    "UPDATE videos SET completed_seq = id WHERE status = 'completed' AND completed_seq IS NULL",
    "INSERT INTO completion_seq (v) SELECT COALESCE(MAX(completed_seq), 0) FROM videos "
    "WHERE NOT EXISTS (SELECT 1 FROM completion_seq)",
]
COMPLETION_NUMBERS = [
    "CREATE SEQUENCE IF NOT EXISTS completion_numbers",
    "SELECT setval('completion_numbers', GREATEST(m, 1), m > 0) FROM (SELECT GREATEST("
    "(SELECT COALESCE(MAX(v), 0) FROM completion_seq), "
    "(SELECT COALESCE(MAX(completed_seq), 0) FROM videos), "
    "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM completion_numbers)) AS m) x",
]

# Fetch fleet: claims of staged rows, the staged backlog and the download rate read only
# these partial indexes; one row per (worker, route) with its pacing counters.
STAGE_TABLES = [
    "CREATE INDEX IF NOT EXISTS idx_videos_staged ON videos (priority DESC, id) "
    "WHERE status = 'pending' AND staged_path IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_videos_staged_backlog ON videos "
    "(status, staged_seconds, staged_bytes) WHERE staged_path IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_videos_staged_at ON videos (staged_at, staged_seconds) "
    "WHERE staged_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_videos_audio_bytes ON videos (audio_bytes, duration_seconds) "
    "WHERE audio_bytes IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS routes (worker TEXT NOT NULL, route TEXT NOT NULL, "
    "state TEXT, success BIGINT, rate_limited BIGINT, bot_check BIGINT, failures BIGINT, "
    "rest_until {real}, last_error TEXT, updated_at {real}, PRIMARY KEY (worker, route))",
]

# Near-duplicates (ytcorpus.quality.dedup): one MinHash signature per completed row and its
# LSH band hashes, so a row's candidates are one indexed lookup per band at any size;
# flags one row per (row, flag) so stats counts them from a narrow index.
QUALITY_TABLES = [
    "CREATE TABLE IF NOT EXISTS minhash_signatures (video_rowid BIGINT PRIMARY KEY, "
    "signature {blob} NOT NULL)",
    # the key is the lookup index (SQLite: the table itself, WITHOUT ROWID): 1M rows measured
    # 1.7 GB with a heap + two indexes; a row's old bands are deleted by key (from its
    # stored signature), so no second index
    "CREATE TABLE IF NOT EXISTS minhash_bands (band INTEGER NOT NULL, hash BIGINT NOT NULL, "
    "video_rowid BIGINT NOT NULL, PRIMARY KEY (band, hash, video_rowid)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS video_flags (video_rowid BIGINT NOT NULL, flag TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS idx_video_flags_flag ON video_flags (flag)",
    "CREATE INDEX IF NOT EXISTS idx_video_flags_row ON video_flags (video_rowid)",
    "CREATE INDEX IF NOT EXISTS idx_videos_duplicate_of ON videos (duplicate_of) "
    "WHERE duplicate_of IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_videos_completed_language ON videos "
    "(status, language, language_source) WHERE status = 'completed'",
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
    "course", "university", "processing_time_seconds", "flags", "completed_seq",
    "quality", "language_source", "license_source", "duplicate_of", "speakers",
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


def dedup_scheme_statements() -> list[str]:
    """The scheme the stored MinHash bands were made with (queue/duplicates.py); bands of
    another scheme are dropped here and made again by duplicates.resign() on open."""
    from .duplicates import scheme

    return ["CREATE TABLE IF NOT EXISTS dedup_scheme (scheme TEXT NOT NULL)",
            "DELETE FROM minhash_bands WHERE NOT EXISTS (SELECT 1 FROM dedup_scheme "
            f"WHERE scheme = '{scheme()}')"]


def upgrade_statements(backend: str, have: set[str]) -> list[str]:
    """After CREATE TABLE IF NOT EXISTS: what brings an existing table to this version."""
    real = "REAL" if backend == "sqlite" else "DOUBLE PRECISION"
    # version 1 had a narrower idx_videos_completed_at: rebuild it with its new columns
    return ([add_column_sql(backend, name) for name, _, _ in COLUMNS if name not in have]
            + ["DROP INDEX IF EXISTS idx_videos_completed_at"] + INDEXES
            + [WORKERS_TABLE.format(real=real)] + COMPLETION_SEQ
            + [sql.format(real=real) for sql in STAGE_TABLES]
            + [sql.format(blob="BLOB" if backend == "sqlite" else "BYTEA",
                          without_rowid=" WITHOUT ROWID" if backend == "sqlite" else "")
               for sql in QUALITY_TABLES]
            + (COMPLETION_NUMBERS if backend != "sqlite" else [])
            + dedup_scheme_statements()
            + counts.schema_statements(backend)
            + summary_counts.schema_statements(backend)
            + ["DELETE FROM schema_version"])

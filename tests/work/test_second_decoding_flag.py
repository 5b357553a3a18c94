"""--second-decoding / --no-second-decoding (and second_decoding in the config file or
YTCORPUS_SECOND_DECODING) reach the engine of `work`; the default is on."""

from __future__ import annotations

import pytest

from ytcorpus.cli.main import build_parser
from ytcorpus.queue import open_queue
from ytcorpus.work.worker import build_worker


@pytest.mark.parametrize("flags,env,want", [
    ([], {}, True),
    (["--no-second-decoding"], {}, False),
    ([], {"YTCORPUS_SECOND_DECODING": "false"}, False),
    (["--second-decoding"], {"YTCORPUS_SECOND_DECODING": "false"}, True),
])
def test_second_decoding_reaches_the_engine(tmp_path, monkeypatch, flags, env, want):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    db = str(tmp_path / "q.db")
    open_queue(db).close()
    args = build_parser().parse_args(["--db", db, "work", "--device", "cpu", "--engine",
                                      "ctranslate2", "--model", "tiny.en",
                                      "--work-dir", str(tmp_path / "w"), *flags])
    worker, queue = build_worker(args)
    try:
        assert worker.engine.second_decoding is want
    finally:
        queue.close()

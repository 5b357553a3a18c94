"""A PostgreSQL outage under `ytcorpus work`: twelve short clips, a worker whose engine
takes --engine-s per chunk, the server stopped after the first completion for --down-s
seconds, then started again. Prints the worker's exit code and, per row, how often it was
completed (a transcript finished before the outage and redone after counts twice) and
whether any attempt or crash was charged. Runs this tree and, with --against SRC,
another checkout's src/ (e.g. the start commit) side by side.

    python bench/db_outage.py [--down-s 90] [--against /tmp/old/src] [--pause]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/queue.py and tests/queue/ must not hide the standard library's queue
sys.path[:] = [str(ROOT / "src")] + [p for p in sys.path if Path(p or ".").resolve()
                                     != ROOT / "bench"] + [str(ROOT / "tests")]

from pgserver import PostgresServer  # noqa: E402
from ytcorpus.queue import open_queue  # noqa: E402


def scenario(server: PostgresServer, src: str, folder: Path, args) -> dict:
    url = server.new_database()
    clip = (ROOT / "src" / "ytcorpus" / "demo_data" / "arctic_a0007.wav").read_bytes()
    files = []
    for k in range(12):
        path = folder / f"{Path(src).parent.name}-{k}.wav"
        path.write_bytes(clip)
        files.append(str(path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(ROOT / "tests")]),
           "YTCORPUS_DB_OUTAGE_WAIT_S": "60"}
    subprocess.run([sys.executable, "-m", "ytcorpus", "--db", url, "add", *files], env=env,
                   check=True, capture_output=True)
    log = folder / f"{Path(src).parent.name}-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "ytcorpus", "--db", url, "work", "--device", "cpu",
           "--engine", "fault_engines:SlowEngine", "--model", str(args.engine_s),
           "--batch-size", "1", "--prepare-threads", "1", "--lease", "600",
           "--work-dir", str(folder / "w")]
    first = cmd + ([] if args.pause else ["--exit-when-empty"])
    proc = subprocess.Popen(first, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    while "completed" not in log.read_text() and proc.poll() is None:
        time.sleep(0.2)
    server.down()
    time.sleep(args.down_s)
    server.up()
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        with open_queue(url) as q:
            if args.pause and q.stats().completed == 12:
                proc.terminate()  # SIGTERM once: a paused worker never exits by itself
                proc.wait(120)
                break
        time.sleep(1)
    if proc.poll() is None:
        proc.kill()
    code = proc.wait()
    second = subprocess.run(cmd + ["--exit-when-empty"], capture_output=True, text=True,
                            env=env, timeout=600)
    completions = re.findall(r"completed (\S+):", log.read_text() + second.stderr)
    with open_queue(url) as q, q._read_tx() as cur:
        q._exec(cur, "SELECT status, attempts, crashes FROM videos")
        rows = [dict(r) for r in cur.fetchall()]
    return {"exit": code, "second_exit": second.returncode,
            "completed": sum(r["status"] == "completed" for r in rows),
            "redone": len(completions) - len(set(completions)),
            "charged": sum(r["attempts"] > 0 or r["crashes"] > 0 for r in rows)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--down-s", type=float, default=90.0)
    p.add_argument("--engine-s", type=float, default=1.0)
    p.add_argument("--pause", action="store_true", help="without --exit-when-empty")
    p.add_argument("--against", help="another checkout's src/ to run side by side")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    server = PostgresServer()
    try:
        runs = ([("against", args.against)] if args.against else []) + [
            ("this tree", str(ROOT / "src"))]
        print(f"PostgreSQL down {args.down_s:.0f} s after the first completion, "
              f"{'pause mode' if args.pause else '--exit-when-empty'}")
        for label, src in runs:
            r = scenario(server, src, folder, args)
            print(f"{label:10} exit {r['exit']:3}  rows completed {r['completed']}/12 "
                  f"(after a second worker, exit {r['second_exit']})  transcripts redone "
                  f"{r['redone']}  rows charged {r['charged']}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

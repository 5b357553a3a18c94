"""Issue 20's "right blame" cases, measured through the CLI against real servers and
proxies on 127.0.0.1 that count requests; one line per case. Run it once per tree to get
the before/after table (the tree under test is the one on PYTHONPATH):

    PYTHONPATH=/path/to/tree/src python bench/blame_scenarios.py [case ...]

Backoffs are shortened the same way for both trees (tests/test_blame.py's FAST settings;
an older tree ignores the settings it does not know). A tree from before the layout change
(c14c0c5) needs this file and tests/test_blame.py with the old import paths
(ytcorpus.demo, ytcorpus.audio, ytcorpus.errors): the "before" column was measured so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))

from conftest import run_cli  # noqa: E402
from media import tone, write_audio  # noqa: E402
from test_blame import Proxy, Server, _dead_port, _env, _popen, _rows, _work  # noqa: E402


def _add(db: str, *urls: str) -> None:
    assert run_cli("--db", db, "add", *urls).returncode == 0


def _status(db: str) -> str:
    rows = _rows(db).values()
    counts: dict[str, int] = {}
    for r in rows:
        key = r["status"] + (f"/{r['error_kind']}" if r["error_kind"] else "")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))


def case_403(tmp: Path, srv: list[Server]) -> str:
    db = str(tmp / "q.db")
    _add(db, srv[0].url("403", "a.wav"), *[srv[0].url("ok", f"c{i}.wav") for i in range(6)])
    t = time.monotonic()
    out = _work(db, "--exit-when-empty", "--download-threads", "1")
    charged = _rows(db)[srv[0].url("403", "a.wav")]["attempts"]
    return (f"exit {out.returncode} after {time.monotonic() - t:.0f} s; {_status(db)}; "
            f"403 row charged {charged}")


def case_404_410(tmp: Path, srv: list[Server]) -> str:
    db = str(tmp / "q.db")
    _add(db, srv[0].url("ok", "c0.wav"), srv[0].url("404", "b.wav"), srv[0].url("ok", "c1.wav"),
         srv[0].url("410", "d.wav"), srv[0].url("ok", "c2.wav"))
    out = _work(db, "--exit-when-empty", "--download-threads", "1")
    rows = _rows(db)
    gone = rows[srv[0].url("410", "d.wav")]
    return (f"exit {out.returncode}; {_status(db)}; 410 row: {gone['status']}/"
            f"{gone['error_kind']} after {gone['attempts']} tries")


def _fetch_for(tmp: Path, db: str, seconds: float) -> int:
    log = tmp / "fetch.log"
    proc = _popen(["--db", db, "fetch", "--stage", str(tmp / "stage"),
                   "--work-dir", str(tmp / "w")], log)
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=120)


def case_fetch_loop(tmp: Path, srv: list[Server], status: str) -> str:
    db = str(tmp / "q.db")
    srv[0].hits.clear()
    _add(db, srv[0].url(status, "x.wav"), *[srv[1].url("ok", f"c{i}.wav") for i in range(3)])
    _fetch_for(tmp, db, 15)
    bad = _rows(db)[srv[0].url(status, "x.wav")]
    hits = srv[0].count(status)
    try:
        again = run_cli("--db", db, "fetch", "--stage", str(tmp / "stage"), "--exit-when-empty",
                        "--work-dir", str(tmp / "w"), env=_env(), timeout=60)
        ended = f"exit {again.returncode}"
    except subprocess.TimeoutExpired:
        ended = "never exits (killed after 60 s)"
    return (f"{hits} requests to the {status} URL in 15 s ({hits * 4} a minute); row "
            f"{bad['status']}/{bad['error_kind']} charged {bad['attempts']}, error kept: "
            f"{bool(bad['error'])}; then fetch --exit-when-empty: {ended}")


def case_429_storm(tmp: Path, srv: list[Server]) -> str:
    db = str(tmp / "q.db")
    _add(db, srv[0].url("429", "y.wav"))
    codes = []
    for _ in range(3):
        codes.append(_work(db, "--exit-when-empty").returncode)
        time.sleep(1.5)
    row = _rows(db)[srv[0].url("429", "y.wav")]
    return (f"work --exit-when-empty x3: exits {codes}; row error kept: {bool(row['error'])}, "
            f"charged {row['attempts']}")


def case_proxy(tmp: Path, srv: list[Server], which: str) -> str:
    db = str(tmp / "q.db")
    _add(db, *[srv[0].url("ok", f"c{i}.wav") for i in range(4)])
    proxies = {"dead": [], "407": [Proxy(answer_407=True)],
               "dead+2 live": [Proxy(), Proxy()]}[which]
    routes = ([] if which == "407" else [f"http://127.0.0.1:{_dead_port()}"]) + \
        [p.url for p in proxies]
    t = time.monotonic()
    out = _work(db, "--exit-when-empty", env=_env(YTCORPUS_PROXIES=",".join(routes)))
    for p in proxies:
        p.close()
    charged = sum(r["attempts"] for r in _rows(db).values())
    return (f"exit {out.returncode} after {time.monotonic() - t:.0f} s; {_status(db)}; "
            f"attempts charged {charged}")


def case_sigkill(tmp: Path, srv: list[Server]) -> str:
    from conftest import wait_for

    db = str(tmp / "q.db")
    _add(db, *[srv[0].url("ok", f"c{i}.wav") for i in range(8)])
    first = _popen(["--db", db, "work", "--device", "cpu", "--engine",
                    "fault_engines:SlowEngine", "--model", "1.0", "--batch-size", "1",
                    "--prepare-threads", "1", "--lease", "300", "--work-dir", str(tmp / "w1")],
                   tmp / "w1.log")
    wait_for(lambda: sum(r["status"] == "processing" for r in _rows(db).values()) >= 3,
             timeout=120, interval=0.3)
    first.kill()
    first.wait()
    leased = sum(r["status"] == "processing" for r in _rows(db).values())
    stats = json.loads(run_cli("--db", db, "stats", "--json").stdout)
    dead = [w.get("dead", not w["alive"]) for w in stats.get("workers", [])]
    dry = run_cli("--db", db, "requeue", "--stale", "--dry-run").stdout.strip()
    t = time.monotonic()
    second = _work(db, "--exit-when-empty")
    return (f"{leased} rows leased to the killed worker; stats: active {stats['active_workers']}"
            f", dead flags {dead}; `{dry}`; new --exit-when-empty worker: exit "
            f"{second.returncode} after {time.monotonic() - t:.0f} s, {_status(db)}")


def case_blocked_claim(tmp: Path, srv: list[Server]) -> str:
    from conftest import wait_for
    from ytcorpus.models import Video
    from ytcorpus.queue import open_queue
    from ytcorpus.queue.base import Queue

    db = str(tmp / "q.db")
    run_cli("--db", db, "init")
    log = tmp / "w.log"
    worker = _popen(["--db", db, "work", "--device", "cpu", "--engine", "free_engine:FreeEngine",
                     "--prepare-threads", "1", "--work-dir", str(tmp / "w")], log)
    wait_for(lambda: "ready" in log.read_text(), timeout=120, interval=0.2)
    time.sleep(1.0)
    with open_queue(db) as q:
        with q._write_tx() as cur:
            q._insert_new(cur, [Queue._row(Video(video_id=f"v{i}", url=f"file:///x{i}.wav"),
                                           None, None) for i in range(3)])
            time.sleep(1.0)
            worker.send_signal(signal.SIGTERM)
            time.sleep(7.0)
    code = worker.wait(timeout=120)
    return f"worker exit {code}; after it: {_status(db)}"


def case_secrets(tmp: Path, srv: list[Server]) -> str:
    secrets = [f"SECRET{i}x" for i in range(4)]
    env = _env(YTCORPUS_DB=f"postgresql://u:{secrets[0]}@127.0.0.1:1/db?password={secrets[1]}",
               YTCORPUS_PROXIES=f"http://user-s1:{secrets[2]}@gw:8000")
    outs = {"config": run_cli("config", env=env),
            "stats (URL ?password=)": run_cli("stats", env=env),
            "stats (key=value DSN)": run_cli("stats", env={
                **env, "YTCORPUS_DB": f"host=127.0.0.1 password={secrets[3]}"})}
    leaks = {name: [s for s in secrets if s in o.stdout + o.stderr] for name, o in outs.items()}
    return "; ".join(f"{name}: {len(v)} leaked" for name, v in leaks.items())


def case_errors_waiting(tmp: Path, srv: list[Server]) -> str:
    db = str(tmp / "q.db")
    _add(db, srv[0].url("403", "w.wav"), srv[0].url("ok", "c0.wav"))
    _work(db, "--exit-when-empty", env=_env(YTCORPUS_RETRY_BASE_S="600"))
    answers = []
    for args in (["errors"], ["errors", "--waiting"]):
        out = run_cli("--db", db, *args)
        last = (out.stdout.strip() or out.stderr.strip() or "-").splitlines()[-1]
        answers.append(f"`{' '.join(args)}`: exit {out.returncode}, {last[:90]!r}")
    return "; ".join(answers)


def case_unreadable(tmp: Path, srv: list[Server]) -> str:
    junk = tmp / "junk.wav"
    junk.write_bytes(b"\x00junk" * 200)
    locked = tmp / "locked.wav"
    write_audio(locked, tone(1.0))
    locked.chmod(0)
    caps = "-dac_override,-dac_read_search"
    prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"] \
        if os.geteuid() == 0 else []
    code = ("import sys; from ytcorpus.core.audio import decode_to_mono16k\n"
            "from ytcorpus.core.errors import fault_of\n"
            "for p in sys.argv[1:]:\n"
            "    try: decode_to_mono16k(p)\n"
            "    except Exception as e: print(fault_of(e), e.kind, str(e)[-70:])\n")
    out = subprocess.run([*prefix, sys.executable, "-c", code, str(locked), str(junk)],
                         capture_output=True, text=True, env=_env(), timeout=120)
    return " | ".join(out.stdout.strip().splitlines())


CASES = {
    "403": case_403, "404_410": case_404_410,
    "fetch_429": lambda t, s: case_fetch_loop(t, s, "429"),
    "fetch_403": lambda t, s: case_fetch_loop(t, s, "403"),
    "429_storm": case_429_storm,
    "proxy_dead": lambda t, s: case_proxy(t, s, "dead"),
    "proxy_407": lambda t, s: case_proxy(t, s, "407"),
    "proxy_dead_among_live": lambda t, s: case_proxy(t, s, "dead+2 live"),
    "sigkill": case_sigkill, "blocked_claim": case_blocked_claim, "secrets": case_secrets,
    "errors_waiting": case_errors_waiting, "unreadable": case_unreadable,
}


def main() -> None:
    import ytcorpus

    wanted = sys.argv[1:] or list(CASES)
    root = Path(tempfile.mkdtemp(prefix="blame-"))
    media = root / "media"
    media.mkdir()
    for i in range(8):
        write_audio(media / f"c{i}.wav", tone(1.0 + 0.1 * i))
    servers = [Server(media), Server(media)]
    print(f"tree: {Path(ytcorpus.__file__).parents[1]}")
    for name in wanted:
        folder = root / name
        folder.mkdir()
        try:
            line = CASES[name](folder, servers)
        except Exception as exc:  # noqa: BLE001 - a case that breaks is a result too
            line = f"FAILED: {type(exc).__name__}: {str(exc)[:200]}"
        print(f"{name:<22} {line}", flush=True)
    for s in servers:
        s.close()


if __name__ == "__main__":
    main()

"""Text only from words: real speech against speech-like sound without words (babble,
speech under heavy noise or reverberation, humming, reversed, distorted, nonsense
syllables, scrambled, noise-vocoded; tests/wordless.py makes the set) through the
packaged tiny.en model (CPU), the queue and `export --clean`, per kind of sound.

With --old SRC (a `src` folder of another checkout, e.g. `git worktree add /tmp/old
c14c0c5` then --old /tmp/old/src) the same clips go through that code too, one after
the other in this run, and the table shows both side by side: rows that reached
`export --clean` with text, rows of real speech lost, WER of what was kept.

    python bench/hallucination.py [--old /tmp/old/src] [--per-kind N] [--cache DIR]
        [--keep DIR] [--saved old=DIR/old.json] [--held-out]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("YTCORPUS_BENCH_CACHE", Path(tempfile.gettempdir())
                            / "ytcorpus-wordless"))


def run(src: str, per_kind: int | None, cache: Path, out: Path, first: int = 0,
        second: bool = True) -> None:
    """Child: transcribe the set with the ytcorpus found in `src`, store, filter."""
    sys.path[:0] = [src, str(ROOT / "tests")]
    import wordless
    from ytcorpus.engines import load_engine
    from ytcorpus.models import Result
    from ytcorpus.queue import open_queue
    from ytcorpus.work.pipeline import transcribe_arrays
    try:
        from ytcorpus.output.clean import CleanFilter
    except ImportError:  # before the layout change (issue 18)
        from ytcorpus.quality.clean import CleanFilter

    clips = wordless.clips(cache, per_kind, first=first) if first else \
        wordless.clips(cache, per_kind)
    engine = load_engine("ctranslate2", "tiny.en", "cpu", batch_size=8)
    engine.second_decoding = second
    transcripts = transcribe_arrays(engine, [c.audio for c in clips])
    ids = {c.name: f"h{i:010d}" for i, c in enumerate(clips)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, open_queue(str(Path(tmp) / "q.db")) as q:
        q.add([f"https://www.youtube.com/watch?v={ids[c.name]}" for c in clips])
        q.claim("bench", n=len(clips))
        for c, t in zip(clips, transcripts):
            q.complete("bench", ids[c.name], Result(
                transcript=t.text, segments=t.segments, duration_seconds=t.duration,
                language=t.language, model="tiny.en", flags=t.flags, quality=t.quality))
        clean = CleanFilter(language="en")
        by_id = {r["video_id"]: r for r in q.iter_completed()}
        for c, t in zip(clips, transcripts):
            row = by_id[ids[c.name]]
            rows.append({"name": c.name, "kind": c.kind, "label": c.label, "ref": c.text,
                         "text": t.text, "flags": t.flags, "clean": clean.keep(row),
                         "cut": (t.quality or {}).get("hallucination_cut", 0)})
    out.write_text(json.dumps({"rows": rows, "manifest": clean.report()["clean"]}))


def wer_counts(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words) after lower-casing and dropping punctuation."""
    sys.path.insert(0, str(ROOT / "src"))
    from ytcorpus.quality.loops import normalize

    r, h = normalize(ref).split(), normalize(hyp).split()
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hw in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1], len(r)


def summarize(rows: list[dict], good: set[str]) -> dict[str, dict]:
    """Per kind. `good`: clips whose text in the first run was mostly right (WER < 50%):
    losing one of those loses real words (`lost_good`)."""
    kinds: dict[str, dict] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"label": r["label"], "n": 0, "text": 0, "clean": 0,
                                         "lost": 0, "lost_good": 0, "edits": 0, "words": 0,
                                         "cut": 0})
        k["n"] += 1
        has_text = bool(r["text"].strip())
        k["text"] += has_text
        k["cut"] += r["cut"]
        kept = r["clean"] and has_text
        k["clean"] += kept
        if r["label"] != "wordless":
            k["lost"] += not kept
            k["lost_good"] += not kept and r["name"] in good
            if kept:
                e, w = wer_counts(r["ref"], r["text"])
                k["edits"] += e
                k["words"] += w
    return kinds


def table(results: dict[str, list[dict]]) -> None:
    names = list(results)
    good = set()
    for r in results[names[0]]:
        if r["label"] != "wordless" and r["text"].strip():
            e, w = wer_counts(r["ref"], r["text"])
            if e < 0.5 * w:
                good.add(r["name"])
    sums = {n: summarize(rows, good) for n, rows in results.items()}
    head = f"{'kind':20} {'label':8} {'n':>3}"
    for n in names:
        head += (f" | {n + ' text':>10} {'clean':>5} {'lost':>4} {'good':>4} {'WER%':>5} "
                 f"{'cut':>4}")
    print(head)
    totals = {n: {} for n in names}
    for kind in sums[names[0]]:
        k0 = sums[names[0]][kind]
        line = f"{kind:20} {k0['label']:8} {k0['n']:3}"
        for n in names:
            k = sums[n][kind]
            t = totals[n].setdefault(k["label"], dict.fromkeys(k, 0))
            for key, v in k.items():
                if key != "label":
                    t[key] += v
            wer = f"{100 * k['edits'] / k['words']:5.1f}" if k["words"] else "    -"
            line += (f" | {k['text']:10d} {k['clean']:5d} {k['lost']:4d} "
                     f"{k['lost_good']:4d} {wer} {k['cut']:4d}")
        print(line)
    for label in ("speech", "wordless", "mixed"):
        if label not in totals[names[0]]:
            continue
        line = f"{'ALL ' + label:20} {'':8} {totals[names[0]][label]['n']:3}"
        for n in names:
            k = totals[n][label]
            wer = f"{100 * k['edits'] / k['words']:5.1f}" if k["words"] else "    -"
            line += (f" | {k['text']:10d} {k['clean']:5d} {k['lost']:4d} "
                     f"{k['lost_good']:4d} {wer} {k['cut']:4d}")
        print(line)
    print("text: rows with any text; clean: rows export --clean keeps with text; lost: "
          "speech rows not kept; good: of those, rows whose text in the first column had "
          "WER < 50%; WER: of kept speech rows; cut: segments cut as invented")
    kept = [{r["name"]: r for r in rows if r["label"] == "speech" and r["clean"]}
            for rows in results.values()]
    common = set.intersection(*(set(k) for k in kept)) if kept else set()
    if common and len(names) > 1:  # the same rows in every column: WER compared fairly
        line = ", ".join(f"{n} {100 * wer_of([k[x] for x in sorted(common)]):.1f}%"
                         for n, k in zip(names, kept))
        print(f"WER of the {len(common)} speech rows every column kept: {line}")


def wer_of(rows: list[dict]) -> float:
    edits = words = 0
    for r in rows:
        e, w = wer_counts(r["ref"], r["text"])
        edits, words = edits + e, words + w
    return edits / max(1, words)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", help="another checkout's src folder to compare with")
    p.add_argument("--per-kind", type=int, help="at most N clips of each kind")
    p.add_argument("--cache", type=Path, default=CACHE, help=f"audio cache ({CACHE})")
    p.add_argument("--show", action="store_true", help="print each clip's text and flags")
    p.add_argument("--held-out", action="store_true",
                   help="the held-out set: the same kinds, clips 100 on (other sentences, "
                        "voices, speeds and noise than the set the thresholds were chosen on)")
    p.add_argument("--no-second-decoding", action="store_true",
                   help="the new code without the second decoding of doubtful chunks")
    p.add_argument("--keep", type=Path, help="write each run's rows (JSON) to this folder")
    p.add_argument("--saved", action="append", default=[], metavar="NAME=JSON",
                   help="a run kept earlier (--keep) as a column, instead of running it")
    p.add_argument("--child", nargs=2, metavar=("SRC", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return run(args.child[0], args.per_kind, args.cache, Path(args.child[1]),
                   100 if args.held_out else 0, not args.no_second_decoding)
    srcs = {"new": str(ROOT / "src")}
    if args.old:
        srcs = {"old": args.old, **srcs}
    results = {}
    saved = dict(item.split("=", 1) for item in args.saved)
    for name in saved:
        srcs.pop(name, None)
    for name, path in saved.items():
        results[name] = json.loads(Path(path).read_text())["rows"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in srcs.items():
            out = (args.keep or Path(tmp)) / f"{name}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, __file__, "--child", src, str(out), "--cache",
                   str(args.cache)] + (["--per-kind", str(args.per_kind)] if args.per_kind
                                       else []) + (["--held-out"] if args.held_out else [])
            if args.no_second_decoding and name == "new":
                cmd.append("--no-second-decoding")
            subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": src})
            data = json.loads(out.read_text())
            results[name] = data["rows"]
            if name == "new":
                print("manifest clean.removed:", json.dumps(data["manifest"]["removed"]))
    if args.show:
        for name, rows in results.items():
            for r in rows:
                if r["text"]:
                    print(f"{name:4} {r['name']:22} {'CLEAN' if r['clean'] else '     '} "
                          f"{','.join(r['flags'])[:60]:60} {r['text'][:90]!r}")
    table(results)


if __name__ == "__main__":
    main()

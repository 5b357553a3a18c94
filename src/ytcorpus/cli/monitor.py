"""`ytcorpus monitor` (and `python monitor.py`): the live dashboard, read-only."""

from __future__ import annotations

import argparse
import sys
import time

from .args import positive_float, positive_int


def register(sub) -> None:
    s = sub.add_parser("monitor", help="live dashboard (read-only)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="A live dashboard over the queue: counts, audio hours, "
                       "speed, the ETA to empty the queue and to the token target, workers. "
                       "Read-only. When stdout is not a terminal it prints one line per "
                       "interval; --once prints one frame. --prometheus serves the queue-wide "
                       "gauges for Prometheus while it runs.",
                       epilog="examples:\n  ytcorpus monitor\n  ytcorpus monitor --once "
                              "--target 10M\n  ytcorpus monitor --interval 60 >> monitor.log\n"
                              "  ytcorpus monitor --prometheus 9100   # scrape :9100/metrics")
    s.add_argument("--once", action="store_true", help="print one frame and exit")
    s.add_argument("--interval", type=positive_float, help="seconds between frames (default 2)")
    s.add_argument("--target", metavar="TOKENS",
                   help="token target: 100B, 10M, 1.5K or a number (default 100B)")
    s.add_argument("--prometheus", type=positive_int, metavar="PORT",
                   help="serve queue-wide gauges on this port (/metrics)")
    s.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from ..core.config import MonitorConfig, build
    from ..observe.monitor import collect, parse_count, plain_line, render
    from ..queue import open_queue

    cfg = build(MonitorConfig, interval=args.interval, target=args.target,
                prometheus=args.prometheus)
    target = parse_count(cfg.target)
    exporter = None
    with open_queue(args.db, create=False, read_only=True) as q:
        frame = collect(q, target_tokens=target)
        if cfg.prometheus:
            from ..observe.metrics import QueueMetrics

            exporter = QueueMetrics(cfg.prometheus)
            exporter.update(frame)
        if args.once:
            Console().print(render(frame))
            return 0
        try:
            if sys.stdout.isatty():
                _live(q, frame, target, cfg.interval, exporter)
            else:
                while True:
                    print(plain_line(frame), flush=True)
                    time.sleep(cfg.interval)
                    frame = collect(q, target_tokens=target)
                    if exporter:
                        exporter.update(frame)
        except KeyboardInterrupt:
            pass
    return 0


def _live(q, frame: dict, target: float, interval: float, exporter) -> None:
    from rich.console import Console
    from rich.live import Live

    from ..observe.monitor import collect, render

    with Live(render(frame), console=Console(), refresh_per_second=4, screen=False) as live:
        while True:
            time.sleep(max(0.2, interval))
            frame = collect(q, target_tokens=target)
            if exporter:
                exporter.update(frame)
            live.update(render(frame))


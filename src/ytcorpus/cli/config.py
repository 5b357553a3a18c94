"""`ytcorpus config` and the checks behind it: effective settings with where each came
from (secrets masked), and unknown config-file keys and YTCORPUS_* variables."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
from typing import Any

from ..core.config import (OTHER_ENV, PREFIX, SECRET_FIELDS, STAGES, TOP_LEVEL_KEYS, Setting,
                     config_path, file_db, load_file, settings)

log = logging.getLogger("ytcorpus.config")


def unknown_settings() -> list[str]:
    """Warnings for config-file keys and YTCORPUS_* variables that no stage reads."""
    fields = {f.name for cls in STAGES.values() for f in dataclasses.fields(cls)}
    known_env = {name.upper() for name in fields} | OTHER_ENV
    out = [f"unknown environment variable {name} (known: see `ytcorpus config`)"
           for name in sorted(os.environ)
           if name.startswith(PREFIX) and name[len(PREFIX):] not in known_env]
    data = load_file()
    for key, value in data.items():
        if key in TOP_LEVEL_KEYS:
            continue
        if key not in STAGES or not isinstance(value, dict):
            out.append(f"{config_path()}: unknown key or table {key!r} "
                       f"(tables: {', '.join(sorted(STAGES))})")
            continue
        names = {f.name for f in dataclasses.fields(STAGES[key])}
        out += [f"{config_path()}: unknown key {sub!r} in [{key}]" for sub in value
                if sub not in names]
    return out


def warn_unknown() -> None:
    for line in unknown_settings():
        log.warning("%s", line)


def mask(name: str, value: Any) -> Any:
    """Secrets out of a value for display: cookie files, proxy and database passwords."""
    if value is None or value == "" or value == ():
        return value
    if name in SECRET_FIELDS:
        return "***"
    if isinstance(value, tuple):
        return tuple(mask(name, v) for v in value)
    if isinstance(value, str):
        return re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1***@", value)
    return value


def effective(db: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """{table: {name: {"value", "source"}}} for every stage, secrets masked."""
    from ..queue import resolve_db

    if db:
        db_setting = Setting(db, "flag")
    elif os.environ.get(f"{PREFIX}DB"):
        db_setting = Setting(os.environ[f"{PREFIX}DB"], f"env {PREFIX}DB")
    elif os.environ.get("DB_URL"):
        db_setting = Setting(os.environ["DB_URL"], "env DB_URL")
    elif file_db():
        db_setting = Setting(file_db(), str(config_path()))
    else:
        db_setting = Setting(resolve_db(None), "default")
    out = {"": {"db": {"value": mask("db", db_setting.value), "source": db_setting.source}}}
    for table, cls in sorted(STAGES.items()):
        out[table] = {name: {"value": mask(name, s.value), "source": s.source}
                      for name, s in settings(cls).items()}
    return out


def register(sub) -> None:
    import argparse

    s = sub.add_parser("config", help="show the effective settings and where each came from",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Settings come from defaults < the config file "
                       "(--config, $YTCORPUS_CONFIG or ./ytcorpus.toml) < YTCORPUS_* "
                       "environment variables < flags. Secrets are masked. Unknown keys "
                       "and variables are reported on stderr.",
                       epilog="examples:\n  ytcorpus config\n"
                              "  YTCORPUS_BATCH_SIZE=8 ytcorpus --config prod.toml config --json"
                              "\n\nytcorpus.toml:\n  db = \"postgresql://corpus@db/corpus\"\n"
                              "  [work]\n  batch_size = 8\n  [fetch]\n"
                              "  proxies = [\"socks5://10.0.0.2:1080\"]")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=config_command)

def config_command(args) -> int:
    """`ytcorpus config [--json]`: effective settings and where each came from."""
    import json

    data = effective(getattr(args, "db", None))
    warnings = unknown_settings()
    if args.json:
        print(json.dumps({"config_file": config_path(), "settings": data,
                          "warnings": warnings}, indent=2, default=list))
        return 0
    print(f"# config file: {config_path() or 'none (defaults, environment and flags)'}")
    for table, values in data.items():
        if table:
            print(f"\n[{table}]")
        width = max(len(n) for n in values)
        for name, item in values.items():
            value = item["value"]
            shown = "(none)" if value is None else (
                ",".join(value) if isinstance(value, tuple) else value)
            print(f"{name:<{width}} = {shown!s:<30} # {item['source']}")
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0

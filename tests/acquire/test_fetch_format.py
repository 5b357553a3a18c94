"""Fewest bytes: from a DASH manifest with several audio bitrates (read by yt-dlp's
generic extractor from a real HTTP server on 127.0.0.1), the right rendition is fetched."""

from __future__ import annotations

import pytest

from media import MediaServer, tone
from ytcorpus.core.config import FetchConfig
from ytcorpus.acquire.ytdlp import Fetcher

OPUS = [16, 32, 64, 128]
AAC = [48, 128]


def _encode(path, fmt, codec, rate, kbps, samples):
    import av

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        stream.bit_rate = kbps * 1000
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for f in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _rep(rid, codec, kbps, rate, name):
    return (f'<Representation id="{rid}" codecs="{codec}" bandwidth="{kbps * 1000}" '
            f'audioSamplingRate="{rate}"><BaseURL>{name}</BaseURL></Representation>')


def _manifest(opus, aac):
    sets = []
    if opus:
        reps = "".join(_rep(f"opus{k}", "opus", k, 48000, f"opus{k}.webm") for k in opus)
        sets.append(f'<AdaptationSet mimeType="audio/webm" contentType="audio" lang="en">'
                    f"{reps}</AdaptationSet>")
    if aac:
        reps = "".join(_rep(f"aac{k}", "mp4a.40.2", k, 44100, f"aac{k}.m4a") for k in aac)
        sets.append(f'<AdaptationSet mimeType="audio/mp4" contentType="audio" lang="en">'
                    f"{reps}</AdaptationSet>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
            'type="static" mediaPresentationDuration="PT3S" minBufferTime="PT1S" '
            'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period>'
            + "".join(sets) + "</Period></MPD>")


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    samples = tone(3.0)
    for k in OPUS:
        _encode(root / f"opus{k}.webm", "webm", "libopus", 48000, k, samples)
    for k in AAC:
        _encode(root / f"aac{k}.m4a", "ipod", "aac", 44100, k, samples)
    (root / "all.mpd").write_text(_manifest(OPUS, AAC))
    (root / "low_opus.mpd").write_text(_manifest([16], AAC))  # opus under its floor
    (root / "opus_only_low.mpd").write_text(_manifest([16], []))
    server = MediaServer(root)
    yield root, server
    server.close()


def _fetched(server, fetcher, manifest):
    server.hits.clear()
    got = fetcher.fetch(manifest.split(".")[0], server.url(manifest))
    media = sorted(p.strip("/").split("/")[-1] for p in server.hits if not p.endswith(".mpd"))
    return got, media


@pytest.mark.parametrize("manifest,chosen,abr", [
    ("all.mpd", "opus32.webm", 32),          # the smallest opus over 32 kbps
    ("low_opus.mpd", "aac48.m4a", 48),       # opus 16 is under the floor: AAC 48
    ("opus_only_low.mpd", "opus16.webm", 16),  # nothing over the floor: smallest audio
])
def test_default_format_downloads_the_smallest_rendition_over_the_floor(
        dash, tmp_path, manifest, chosen, abr):
    root, server = dash
    fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path), retries=0))
    got, media = _fetched(server, fetcher, manifest)
    assert media == [chosen]  # the server saw one media request: the chosen rendition
    assert got.path.read_bytes() == (root / chosen).read_bytes()
    assert got.audio_bytes == (root / chosen).stat().st_size
    assert got.audio_format["format_id"] == chosen.split(".")[0]
    assert got.audio_format["abr"] == abr and got.audio_format["ext"] == chosen.split(".")[1]


def test_audio_format_setting_overrides_the_default(dash, tmp_path):
    root, server = dash
    fetcher = Fetcher(FetchConfig(work_dir=str(tmp_path), retries=0, audio_format="bestaudio"))
    got, media = _fetched(server, fetcher, "all.mpd")
    assert media == ["opus128.webm"]
    assert got.audio_format["acodec"] == "opus" and got.audio_format["abr"] == 128
    small = Fetcher(FetchConfig(work_dir=str(tmp_path / "b"), audio_format="ba[acodec^=mp4a]"))
    assert _fetched(server, small, "all.mpd")[1] == ["aac128.m4a"]


def _yt_audio(fid, ext, acodec, abr, lang="en", pref=10):
    return {"format_id": fid, "ext": ext, "acodec": acodec, "vcodec": "none", "abr": abr,
            "tbr": abr, "url": f"https://example.invalid/{fid}", "protocol": "https",
            "language": lang, "language_preference": pref}


YT_FORMATS = [  # the audio a YouTube watch page offers (ids and bitrates as YouTube's)
    _yt_audio("139", "m4a", "mp4a.40.5", 48.8), _yt_audio("140", "m4a", "mp4a.40.2", 129.5),
    _yt_audio("249", "webm", "opus", 51.0), _yt_audio("250", "webm", "opus", 66.0),
    _yt_audio("251", "webm", "opus", 133.0), _yt_audio("600", "webm", "opus", 35.0),
    _yt_audio("599", "m4a", "mp4a.40.5", 31.0),
    _yt_audio("600-dub", "webm", "opus", 33.0, lang="de", pref=-1),  # smaller, but a dub
    {"format_id": "18", "ext": "mp4", "acodec": "mp4a.40.2", "vcodec": "avc1", "tbr": 500,
     "height": 360, "url": "https://example.invalid/18", "protocol": "https"},
]


@pytest.mark.parametrize("drop,single_track,audio_format,chosen", [
    ((), False, None, "600"),        # smallest original-language opus >= 32, not the dub
    (("600", "249", "250", "251"), False, None, "139"),  # no original opus: AAC >= 48
    (("600-dub",), True, None, "600"),  # one track (language_preference -1 everywhere)
    (("600", "600-dub", "249", "250", "251"), True, None, "139"),
    ((), False, "bestaudio", "251"),  # the user's selector, yt-dlp's own order
])
def test_format_choice_on_a_youtube_format_list_offline(tmp_path, drop, single_track,
                                                        audio_format, chosen):
    """yt-dlp's own format selection on a hand-built YouTube info dict (no network)."""
    from yt_dlp import YoutubeDL

    opts = Fetcher(FetchConfig(work_dir=str(tmp_path), audio_format=audio_format)).options("x")
    formats = [dict(f) for f in YT_FORMATS if f["format_id"] not in drop]
    if single_track:  # what YouTube's extractor sets for a video without audio tracks
        for f in formats:
            f.update(language=None, language_preference=-1)
    info = {"id": "abcdefghijk", "title": "t", "extractor": "youtube",
            "extractor_key": "Youtube", "webpage_url": "https://www.youtube.com/watch?v=x",
            "formats": formats}
    with YoutubeDL({**opts, "simulate": True}) as ydl:
        got = ydl.process_ie_result(info, download=False)
    assert got["format_id"] == chosen
    assert got.get("language") == (None if single_track else "en")

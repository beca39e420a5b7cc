"""Audio through the output path, on real encodes decoded back with PyAV: the MP4's AAC track in sync
with the frames, the WAV companion and its sidecar record, the post stage keeping the soundtrack
(interpolation, presets, ProRes), an uploaded track replacing or mixed under it, and the extension
seam. A generated tone stands in for a model's audio here; the tiny LTX-2 tests run the real thing."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from pipelines.audio import AudioTrack, fit_duration, join_at_seam, mix, read_audio, tone, write_wav
from pipelines.core.hashing import file_sha256
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.encode import encode_mp4, probe
from pipelines.families import default_catalog
from pipelines.outputs import write_outputs
from pipelines.post.deliver import write_post_outputs, write_repost_outputs
from pipelines.post.spec import ExportSpec, InterpolateSpec, PostSpec
from pipelines.result import VideoResult
from pipelines.stitch import stitch_audio
from pipelines.weights import WeightsLocation

FPS = 24


def _streams(path: Path) -> tuple[int, int, float, float]:
    """(video streams, audio streams, video seconds, decoded audio seconds)."""
    with av.open(str(path)) as c:
        nv, na = len(c.streams.video), len(c.streams.audio)
        frames = sum(1 for _ in c.decode(video=0))
        rate = float(c.streams.video[0].average_rate or 0)
    audio = read_audio(path)
    return nv, na, frames / rate, audio.duration_s if audio else 0.0


def _result(frames: int = 25, audio: AudioTrack | None = None, seed: int = 1) -> VideoResult:
    rs = resolve(GenerationSpec(model="tiny-ltx-video", prompt="a tone", width=64, height=64, num_frames=frames,
                                fps=FPS, seed=seed), default_catalog())
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 255, (frames, 64, 64, 3), dtype=np.uint8)
    where = WeightsLocation(rs.model, Path("/nonexistent"), "weights_dir", tiny=True)
    return VideoResult(video, rs, where, "cpu", "float32", {"total_s": 0.0}, audio=audio)


@pytest.mark.parametrize("rate", [16000, 24000, 48000])  # the tiny LTX-2's, LTX-2's, LTX-2.3's
def test_mp4_has_one_video_and_one_aac_stream_in_sync(tmp_path: Path, rate: int) -> None:
    frames = np.zeros((49, 32, 32, 3), np.uint8)
    path = encode_mp4(frames, tmp_path / "v.mp4", FPS, audio=fit_duration(tone(3.0, rate, channels=1), 49 / FPS))
    nv, na, video_s, audio_s = _streams(path)
    assert (nv, na) == (1, 1)
    assert abs(video_s - audio_s) <= 1 / FPS
    info = probe(path)
    # mono is upmixed; AAC runs at 48 kHz unless the track is 44.1/48 kHz (its last-frame padding
    # would outlast a video frame at 16 or 24 kHz)
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 2)
    with av.open(str(path)) as c:
        assert c.streams.audio[0].start_time == c.streams.video[0].start_time == 0


def test_no_audio_no_stream(tmp_path: Path) -> None:
    path = encode_mp4(np.zeros((9, 32, 32, 3), np.uint8), tmp_path / "v.mp4", FPS)
    assert _streams(path)[1] == 0
    assert probe(path).audio_codec is None


def test_write_outputs_writes_the_wav_and_the_sidecar_record(tmp_path: Path) -> None:
    # The model's audio is a little longer than the clip: it is cut to the frames' duration.
    result = _result(25, tone(1.2, 24000))
    files = write_outputs(result, tmp_path / "video.mp4")
    assert files.audio is not None and files.audio.name == "video.audio.wav"
    wav = read_audio(files.audio)
    assert wav is not None and (wav.sample_rate, wav.channels, wav.num_samples) == (24000, 2, 25 * 1000)
    rec = json.loads(files.sidecar.read_text())["audio"]
    assert rec["sample_rate"] == 24000 and rec["channels"] == 2
    assert rec["duration_s"] == pytest.approx(25 / FPS)
    assert rec["generated_duration_s"] == pytest.approx(1.2)
    assert rec["sha256"] == file_sha256(files.audio)
    _, na, video_s, audio_s = _streams(files.video)
    assert na == 1 and abs(video_s - audio_s) <= 1 / FPS


def test_a_video_only_result_has_no_audio_file(tmp_path: Path) -> None:
    files = write_outputs(_result(9), tmp_path / "video.mp4")
    assert files.audio is None and "audio" not in json.loads(files.sidecar.read_text())


@pytest.mark.parametrize(
    ("post", "codec"),
    [
        (PostSpec(interpolate=InterpolateSpec(factor=2, method="classical")), "aac"),
        (PostSpec(export=ExportSpec(preset="square-1080")), "aac"),
        (PostSpec(export=ExportSpec(preset="prores-archive")), "pcm_s16le"),
        (PostSpec(export=ExportSpec(codec="vp9")), "opus"),
    ],
    ids=["interpolate-x2", "h264-preset", "prores", "webm"],
)
def test_post_stage_keeps_the_audio_duration(tmp_path: Path, post: PostSpec, codec: str) -> None:
    result = _result(25, tone(25 / FPS, 24000))
    files = write_post_outputs(result, post, tmp_path)
    nv, na, video_s, audio_s = _streams(files.video)
    assert (nv, na) == (1, 1)
    assert abs(audio_s - 25 / FPS) <= 1 / FPS   # the soundtrack's duration is unchanged ...
    assert abs(audio_s - video_s) <= 1 / FPS    # ... and in sync with the delivered frames
    with av.open(str(files.video)) as c:
        assert c.streams.audio[0].codec_context.name == codec
    assert files.audio is not None and json.loads(files.sidecar.read_text())["audio"]["source"] == "generated"


def test_repost_carries_the_source_audio(tmp_path: Path) -> None:
    first = write_post_outputs(_result(25, tone(25 / FPS, 24000)), PostSpec(), tmp_path / "a")
    assert first.generated is not None and _streams(first.generated)[1] == 1
    again = write_repost_outputs(first.generated, PostSpec(interpolate=InterpolateSpec(factor=2, method="classical")),
                                 tmp_path / "b")
    _, na, video_s, audio_s = _streams(again.video)
    assert na == 1 and abs(audio_s - 25 / FPS) <= 1 / FPS and abs(audio_s - video_s) <= 1 / FPS


def _level(track: AudioTrack, freq: float) -> float:
    """Amplitude of one frequency in the track (a single DFT bin)."""
    x = track.samples[0]
    t = np.arange(len(x)) / track.sample_rate
    return float(2 * abs(np.dot(x, np.exp(-2j * np.pi * freq * t))) / len(x))


@pytest.mark.parametrize("mode", ["replace", "mix"])
def test_an_uploaded_track_replaces_or_mixes(tmp_path: Path, mode: str) -> None:
    upload = write_wav(tone(3.0, 44100, freq=1000.0, channels=1, amplitude=0.4), tmp_path / "upload.wav")
    result = _result(25, tone(25 / FPS, 24000, freq=300.0, amplitude=0.3))
    spec = PostSpec(export=ExportSpec(audio=upload, audio_mode=mode, audio_mix_db=-6.0))  # type: ignore[arg-type]
    files = write_post_outputs(result, spec, tmp_path / mode)
    assert files.audio is not None
    served = read_audio(files.audio)
    assert served is not None and served.duration_s == pytest.approx(25 / FPS, abs=1e-3)
    generated, uploaded = _level(served, 300.0), _level(served, 1000.0)
    if mode == "replace":
        assert generated < 0.01 and uploaded == pytest.approx(0.4, abs=0.03)
    else:
        assert generated == pytest.approx(0.3, abs=0.03)
        assert uploaded == pytest.approx(0.4 * 10 ** (-6 / 20), abs=0.03)  # the mix level in dB
    assert _streams(files.video)[1] == 1


def test_mix_level_is_in_db() -> None:
    base = AudioTrack(np.zeros((2, 4800), np.float32), 48000)
    out = mix(base, tone(0.1, 48000, amplitude=0.5), -20.0)
    assert float(np.abs(out.samples).max()) == pytest.approx(0.05, rel=0.02)


def test_seam_join_keeps_both_sides_and_has_no_click() -> None:
    sr = 48000
    a = AudioTrack(np.full((2, sr), 0.5, np.float32), sr)       # 1 s of DC at 0.5
    b = AudioTrack(np.full((2, sr // 2), -0.5, np.float32), sr)  # 0.5 s at -0.5
    out = join_at_seam(a, b, seam_s=1 / FPS)
    assert out.num_samples == sr + sr // 2 - sr // FPS           # the dropped frame's time goes
    assert np.all(out.samples[:, : sr - 2400] == 0.5)            # the source untouched before the fade
    assert np.allclose(out.samples[:, sr:], -0.5)                # the continuation untouched after it
    assert float(np.abs(np.diff(out.samples[0])).max()) < 0.05   # a ramp, not a step


def test_stitch_audio_is_source_then_continuation(tmp_path: Path) -> None:
    src_frames, cont_frames = 25, 17
    source = fit_duration(tone(2.0, 24000, freq=300.0), src_frames / FPS)
    video = encode_mp4(np.zeros((src_frames, 32, 32, 3), np.uint8), tmp_path / "src.mp4", FPS, audio=source)
    cont = fit_duration(tone(2.0, 24000, freq=1000.0), cont_frames / FPS)
    out = stitch_audio(video, FPS, src_frames, cont, cont_frames)
    assert out is not None
    assert out.duration_s == pytest.approx((src_frames + cont_frames - 1) / FPS, abs=1e-4)
    seam = int(src_frames / FPS * 24000)
    head = AudioTrack(out.samples[:, 2400:seam - 2400], 24000)
    tail = AudioTrack(out.samples[:, seam + 2400:], 24000)
    assert _level(head, 300.0) > 0.2 and _level(head, 1000.0) < 0.03
    assert _level(tail, 1000.0) > 0.2 and _level(tail, 300.0) < 0.03


def test_stitch_audio_without_any_audio_is_none(tmp_path: Path) -> None:
    video = encode_mp4(np.zeros((9, 32, 32, 3), np.uint8), tmp_path / "src.mp4", FPS)
    assert stitch_audio(video, FPS, 9, None, 9) is None
    # a silent source still lines the continuation's audio up after the source's frames
    out = stitch_audio(video, FPS, 9, tone(9 / FPS, 24000), 9)
    assert out is not None and out.duration_s == pytest.approx(17 / FPS, abs=1e-4)
    assert float(np.abs(out.samples[:, : int(8 / FPS * 24000) - 1200]).max()) == 0.0

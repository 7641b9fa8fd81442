"""The photo-to-painting video tab without a browser: examples, video and image uploads, translation with and
without the λ_t = 0 comparison, shared statistics, reference styles, the flicker readout, and bad input.

Always runs the untrained tiny models (VSL_RANDOM_WEIGHTS=1: 64 px, fast; the shipped weights may be training
while these tests run). Every bad input must end as a gr.Error with a readable message.
"""

from __future__ import annotations

import re
import wave

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo_lib import registry
from demo_lib.data import paintings
from demo_lib.ui import common
from demo_lib.ui import munit_video_tab as mv
from demo_lib.video import read_image, read_video, write_gif, write_mp4


@pytest.fixture
def weights(random_weights):
    """The untrained tiny models (conftest's random_weights)."""


@pytest.fixture
def pan(weights) -> mv.Clip:
    return mv.read_example(next(iter(mv.examples())))


def _error_message(fn, *args) -> str:
    with pytest.raises(gr.Error) as exc:
        fn(*args)
    return exc.value.message


def _moving(frames: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A textured picture sliding right by 2 px a frame: uint8 (frames, h, w, 3)."""
    rng = np.random.default_rng(seed)
    texture = np.kron(rng.integers(0, 255, (h // 4 + 1, (w + 2 * frames) // 4 + 1, 3)), np.ones((4, 4, 1)))
    return np.stack([texture[:h, 2 * t:2 * t + w] for t in range(frames)]).astype(np.uint8)


def _png(path, array) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def _flicker_cells(readout: str) -> dict[str, str]:
    """Row label -> flicker cell of the readout table."""
    rows = [line.split("|")[1:3] for line in readout.splitlines() if line.startswith("| ") and "---" not in line]
    return {label.strip(): cell.strip().strip("*") for label, cell in rows[1:]}


# ---------------------------------------------------------------------------------------------------------------
# Examples


def test_examples_are_honestly_named_and_load(weights):
    names = list(mv.examples())
    assert sum("held out from training" in n for n in names) >= 1 and any("(a training photo)" in n for n in names)
    assert names[0] == "Camera pan over grace_hopper.jpg (held out from training)"
    for name in names:
        clip = mv.read_example(name)
        assert clip.name == name and clip.count == mv.EXAMPLE_FRAMES and max(clip.frames.shape[1:3]) <= mv.work_side()
        assert not clip.frames.flags.writeable
        mp4, info = mv.show_clip(clip)
        assert read_video(mp4)[0].shape[0] == mv.EXAMPLE_FRAMES and name in info and "24 frames" in info
    assert [name for _, name in mv._example_thumbnails()] == names
    assert "Unknown example" in _error_message(mv.read_example, "no such clip")


def test_examples_work_without_the_videos_beside_the_repo(weights, monkeypatch):
    """The real held-out videos are not part of the project: without them, the camera pans remain."""
    monkeypatch.setattr(paintings, "photo_sources", lambda *a, **k: [])
    mv.examples.cache_clear()
    try:
        names = list(mv.examples())
        assert len(names) == len(mv.PAN_PHOTOS) and all(n.startswith("Camera pan over") for n in names)
    finally:
        mv.examples.cache_clear()


# ---------------------------------------------------------------------------------------------------------------
# Translation


def test_translate_with_comparison_gives_both_models_and_their_flicker(pan):
    calls = []
    result = mv.translate(pan, "photo2painting", seed=3, compare=True, progress=lambda d, t: calls.append((d, t)))
    assert set(result.outputs) == {"temporal", "lambda_t0"}
    for frames in result.outputs.values():
        assert frames.shape == pan.frames.shape and frames.dtype == np.uint8
    # Two different models (each variant is its own untrained net), not one model twice.
    assert np.abs(result.outputs["temporal"].astype(int) - result.outputs["lambda_t0"].astype(int)).max() > 0
    assert all(np.isfinite(v) and v >= 0 for v in result.flicker.values()) and set(result.flicker) == {
        "input", "temporal", "lambda_t0"}
    assert calls[-1] == (2 * pan.count, 2 * pan.count) and calls == sorted(calls)
    cells = _flicker_cells(mv.readout(result))
    assert set(cells) == {"input video (reference)", mv.MODELS["temporal"][1], mv.MODELS["lambda_t0"][1]}
    assert all(re.fullmatch(r"\d+\.\d{4}", cell) for cell in cells.values())
    assert f"rendered {pan.count} frames in" in mv.readout(result) and "style seed 3" in mv.readout(result)


def test_translate_is_deterministic_per_seed_and_settings_matter(pan):
    a = mv.translate(pan, seed=7).outputs["temporal"]
    np.testing.assert_array_equal(a, mv.translate(pan, seed=7).outputs["temporal"])
    assert not np.array_equal(a, mv.translate(pan, seed=8).outputs["temporal"])
    per_frame = mv.translate(pan, seed=7, shared_norm=False)
    assert not np.array_equal(a, per_frame.outputs["temporal"]) and "per frame" in per_frame.settings
    back = mv.translate(pan, "painting2photo", seed=7)
    assert not np.array_equal(a, back.outputs["temporal"]) and "painting → photo" in back.settings
    assert "direction must be one of" in _error_message(mv.run, pan, "sideways", 7, None, True, False)


def test_reference_style_image_overrides_the_seed(pan, tmp_path):
    style = paintings.paint(_moving(1, 64, 64, seed=5)[0], seed=1)
    a = mv.translate(pan, seed=1, style_image=style)
    b = mv.translate(pan, seed=2, style_image=style)
    np.testing.assert_array_equal(a.outputs["temporal"], b.outputs["temporal"])
    assert not np.array_equal(a.outputs["temporal"], mv.translate(pan, seed=1).outputs["temporal"])
    assert "style from the reference image" in mv.readout(a) and "style seed" not in a.settings
    path = _png(tmp_path / "painting.png", style)
    _, _, _, readout = mv.run(pan, "photo2painting", 5, path, True, False)
    assert "style from the reference image" in readout
    tiny = _png(tmp_path / "tiny.png", style[:10, :10])
    assert "style image is too small" in _error_message(mv.run, pan, "photo2painting", 5, tiny, True, False)


def test_run_writes_videos_and_downloads(pan):
    temporal, baseline, downloads, readout = mv.run(pan, "photo2painting", 0, None, True, True)
    assert downloads == [temporal, baseline] and all(p.endswith(".mp4") for p in downloads)
    for path in downloads:
        assert read_video(path)[0].shape == pan.frames.shape
    assert len(_flicker_cells(readout)) == 3
    temporal, baseline, downloads, readout = mv.run(pan, "photo2painting", 2**40 + 5, None, False, False)
    assert baseline is None and downloads == [temporal] and len(_flicker_cells(readout)) == 2
    assert "style seed 5" in readout and "No input yet" in _error_message(mv.run, None, "photo2painting", 0, None,
                                                                          True, False)


# ---------------------------------------------------------------------------------------------------------------
# Uploads


def test_video_upload_is_resized_and_cut_with_notes(weights, tmp_path):
    side = mv.work_side()
    clip = mv.read_video_upload(str(write_mp4(_moving(6, 96, 160), tmp_path / "walk.mp4", fps=25)))
    assert clip.count == 6 and clip.fps == 25 and max(clip.frames.shape[1:3]) == side
    assert f"resized from 160x96 to {side}x{round(96 * side / 160)}" in mv.describe(clip)
    long = mv.read_video_upload(str(write_gif(_moving(mv.MAX_FRAMES + 3, 32, 32), tmp_path / "long.gif")))
    assert long.count == mv.MAX_FRAMES and f"long.gif (first {mv.MAX_FRAMES} frames used)" in mv.describe(long)
    result = mv.translate(long, seed=0)
    assert result.outputs["temporal"].shape == long.frames.shape


def test_image_upload_is_one_frame_without_flicker(weights, tmp_path):
    rgb = _moving(1, 40, 50)[0]
    clip = mv.read_image_upload(_png(tmp_path / "photo.png", rgb))
    assert clip.frames.shape == (1, 40, 50, 3) and "a single image" in mv.describe(clip)
    temporal, baseline, downloads, readout = mv.run(clip, "photo2painting", 0, None, True, True)
    assert set(_flicker_cells(readout).values()) == {"n/a for a single image"}
    assert [p.rsplit(".", 1)[1] for p in downloads] == ["mp4", "mp4", "png", "png"]
    assert read_image(downloads[2]).shape == (40, 50, 3) and read_video(temporal)[0].shape[0] == 1
    # Grayscale and alpha are converted to RGB.
    gray = mv.read_image_upload(_png(tmp_path / "gray.png", rgb[..., 0]))
    rgba = mv.read_image_upload(_png(tmp_path / "rgba.png", np.dstack([rgb, np.full((40, 50), 128, np.uint8)])))
    assert gray.frames.shape == rgba.frames.shape == (1, 40, 50, 3)


def test_bad_uploads_give_readable_errors(weights, tmp_path):
    text = tmp_path / "holiday.mp4"
    text.write_text("not a video at all")
    assert "could not be decoded as a video" in _error_message(mv.read_video_upload, str(text))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty.mp4 is empty" in _error_message(mv.read_video_upload, str(empty))
    sound = tmp_path / "sound.wav"                      # a real media file without any video
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    assert "has no video stream" in _error_message(mv.read_video_upload, str(sound))
    huge = write_mp4(np.zeros((1, 1600, 2600, 3), np.uint8), tmp_path / "huge.mp4")
    message = _error_message(mv.read_video_upload, str(huge))
    assert "2600x1600 are too large" in message and f"works at up to {mv.work_side()} pixels" in message
    tiny = write_gif(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "tiny.gif")
    assert "too small" in _error_message(mv.read_video_upload, str(tiny))
    thin = write_gif(_moving(2, 16, 400), tmp_path / "thin.gif")
    assert "too thin" in _error_message(mv.read_video_upload, str(thin))
    assert "No video yet" in _error_message(mv.read_video_upload, None)
    dot = _png(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    assert "too small" in _error_message(mv.read_image_upload, dot)
    small = _png(tmp_path / "small.png", np.zeros((12, 12, 3), np.uint8))
    assert "at least 16 pixels" in _error_message(mv.read_image_upload, small)
    assert "holiday.mp4 is not an image" in _error_message(mv.read_image_upload, str(text))
    assert "No image yet" in _error_message(mv.read_image_upload, None)


# ---------------------------------------------------------------------------------------------------------------
# Weights and the app


def test_missing_weights_are_readable(pan, weights_dir, monkeypatch):
    status = mv.weights_markdown()
    assert status.count("Weights missing") == 2 and "--variant lambda_t0" in status
    assert not mv.comparison_available() and mv.work_side() == registry.get(mv.MODEL).preset("demo")[0].inference_size
    assert "weights not found" in _error_message(mv.run, pan, "photo2painting", 0, None, True, False)

    # Only the comparison model missing: the message says how to go on without it.
    tiny = registry.random_pipeline(mv.MODEL, "tiny")
    monkeypatch.setitem(common._MODELS, (mv.MODEL, False), tiny)
    message = _error_message(mv.run, pan, "photo2painting", 0, None, True, True)
    assert "λ_t = 0 model" in message and "weights not found" in message and "Untick" in message
    assert mv.run(pan, "photo2painting", 0, None, True, False)[1] is None


def test_variants_are_cached_apart(weights):
    assert common.get_model(mv.MODEL) is common.get_model(mv.MODEL, None)
    assert common.get_model(mv.MODEL, "lambda_t0") is not common.get_model(mv.MODEL)
    assert (f"{mv.MODEL}/lambda_t0", True) in common.loaded_models()


def test_app_has_the_tab():
    import app

    tabs = [block for block in app.demo.blocks.values() if isinstance(block, gr.Tab)]
    assert [tab.id for tab in tabs][:3] == ["timelapse", "vid2vid", "munit_video"]
    assert "Photo to painting video" in app.HEADER and "coming later" not in app.HEADER.split("3.")[1].split("4.")[0]
    assert "Licence" in mv.about_markdown() and "Limitations" in mv.about_markdown()

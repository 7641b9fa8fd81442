"""The Gradio app without a browser: `import app` loads no model, the time-lapse handlers on good and bad input.

Uses the shipped weights when weights/timelapse/demo.safetensors exists, else an untrained tiny model
(VSL_RANDOM_WEIGHTS=1). Every bad input must end as a gr.Error with a readable message, never another exception.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo_lib import registry
from demo_lib.ui import common
from demo_lib.ui import timelapse_tab as tl
from demo_lib.video import MAX_IMAGE_PIXELS, read_video
from demo_lib.weights import WeightsError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def weights(monkeypatch):
    """Shipped weights when present, else the untrained tiny model."""
    if not registry.weights_path("timelapse").is_file():
        monkeypatch.setenv("VSL_RANDOM_WEIGHTS", "1")


def _png(path, array) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def _photo(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sky = np.linspace([90, 140, 220], [200, 220, 240], h // 2)[:, None, :].repeat(w, axis=1)
    ground = rng.integers(30, 120, (h - h // 2, w, 3))
    return np.concatenate([sky, ground]).astype(np.uint8)


def _error_message(fn, *args) -> str:
    with pytest.raises(gr.Error) as exc:
        fn(*args)
    return exc.value.message


# ---------------------------------------------------------------------------------------------------------------
# The app object


def test_import_builds_demo_without_loading_a_model():
    """In a fresh interpreter (other tests load models into the shared caches): importing the app loads none."""
    code = (
        "import gradio as gr\n"
        "from demo_lib import registry\n"
        "def refuse(*a, **k): raise AssertionError('a model was loaded while building the app')\n"
        "registry.load = registry.random_pipeline = registry.pipeline_from_file = refuse\n"
        "import app\n"
        "from demo_lib.ui import common\n"
        "assert isinstance(app.demo, gr.Blocks) and app.demo.title == 'Video Synthesis Lab'\n"
        "assert common.loaded_models() == [] and registry._load_cached.cache_info().currsize == 0\n"
        "print('IMPORT-OK')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and "IMPORT-OK" in result.stdout, result.stderr[-3000:]


def test_examples_are_files_with_real_and_procedural_photos():
    files = tl.example_files()
    assert len(files) >= 5
    assert any("Rocket" in name for name in files) and any("grayscale" in name for name in files)
    assert any(name.lower().startswith("procedural") for name in files)
    for path in files.values():
        assert common.load_user_image(path).dtype == np.uint8


def test_example_files_are_written_once_when_the_first_requests_arrive_together(monkeypatch):
    """The page's first requests can reach an example writer at the same moment; with a plain lru_cache each of them
    wrote the files, rewriting them while Gradio served them (issue 28's "Too little data for declared
    Content-Length"). With common.written_once one request writes them and the others get its result."""
    import threading

    from PIL import Image as PILImage

    writes, save = [], PILImage.Image.save
    monkeypatch.setattr(PILImage.Image, "save", lambda self, fp, *a, **k: (writes.append(str(fp)), save(self, fp, *a,
                                                                                                        **k))[1])
    tl.example_files.cache_clear()
    start, results = threading.Barrier(8), []

    def first_request():
        start.wait()
        results.append(tl.example_files())

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert writes and len(writes) == len(set(writes))         # each file written by one request, once


# ---------------------------------------------------------------------------------------------------------------
# Good input


def test_every_example_loads_and_renders_a_frame(weights):
    for name in tl.example_files():
        path, photo = tl.read_example(name)
        assert path == tl.example_files()[name]
        assert max(photo.preview.shape[:2]) <= tl.PREVIEW_SIDE and max(photo.full.shape[:2]) <= tl.RENDER_SIDE
        frame, info = tl.render_frame(photo, 6.5, 0, True)
        assert frame.dtype == np.uint8 and frame.shape == photo.preview.shape
        assert "06:30" in info and "rendered 1 frame in" in info and name in info


def test_frames_are_deterministic_per_seed_and_hour_24_is_midnight(weights):
    _, photo = tl.read_example(next(iter(tl.example_files())))
    a, _ = tl.render_frame(photo, 13.0, 7, True)
    b, _ = tl.render_frame(photo, 13.0, 7, True)
    np.testing.assert_array_equal(a, b)
    midnight, info = tl.render_frame(photo, 24.0, 7, False)
    np.testing.assert_array_equal(midnight, tl.render_frame(photo, 0.0, 7, False)[0])
    assert "00:00" in info
    assert 0 <= common.new_seed() <= common.MAX_SEED
    strip = tl.render_filmstrip(photo, 7, True)
    assert [caption for _, caption in strip] == [common.hhmm(h) for h in tl.STRIP_HOURS]


def test_uploaded_png_frame_and_day_cycle_files(weights, tmp_path):
    photo = tl.read_photo(_png(tmp_path / "street.png", _photo(101, 150)))   # odd height: the MP4 pads it
    assert photo.name == "street.png" and photo.full.shape == (101, 150, 3)
    frame, _ = tl.render_frame(photo, 18.0, 3, True)
    assert frame.shape == (101, 150, 3) and frame.dtype == np.uint8
    video, files, info = tl.render_day_cycle(photo, 8, 3, True)
    assert "rendered 8 frames in" in info
    assert [f.rsplit(".", 1)[1] for f in files] == ["gif", "mp4"] and files[1] == video
    mp4, _ = read_video(video)
    gif, _ = read_video(files[0])
    assert mp4.shape == (8, 102, 150, 3) and gif.shape == (8, 101, 150, 3)


def test_large_photo_is_downscaled_for_interaction_and_render(weights, tmp_path):
    photo = tl.read_photo(_png(tmp_path / "big.png", _photo(1500, 2000)))
    assert photo.full.shape == (768, 1024, 3) and photo.preview.shape == (384, 512, 3)


def test_grayscale_and_rgba_pngs_are_converted(weights, tmp_path):
    gray = tl.read_photo(_png(tmp_path / "gray.png", _photo()[..., 0]))
    assert gray.preview.shape == (96, 128, 3)
    assert tl.render_frame(gray, 9.0, 0, True)[0].shape == (96, 128, 3)
    rgba = np.dstack([_photo(), np.full((96, 128), 128, np.uint8)])
    photo = tl.read_photo(_png(tmp_path / "alpha.png", rgba))
    assert photo.preview.shape == (96, 128, 3)
    assert tl.render_frame(photo, 9.0, 0, True)[0].shape == (96, 128, 3)


# ---------------------------------------------------------------------------------------------------------------
# Bad input: a gr.Error whose message says what is wrong


def _huge_png_header(path, width: int = 20_000, height: int = 20_000) -> str:
    """A 60-byte PNG that claims width x height pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return str(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # read_image refuses it itself
def test_bad_uploads_give_readable_errors(weights, tmp_path):
    text = tmp_path / "holiday.png"
    text.write_text("not a picture at all")
    assert "holiday.png is not an image" in _error_message(tl.read_photo, str(text))

    jpeg = tmp_path / "photo.jpg"
    Image.fromarray(_photo()).save(jpeg, quality=90)
    data = jpeg.read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    assert "corrupt" in _error_message(tl.read_photo, str(truncated))
    garbled = tmp_path / "garbled.jpg"
    garbled.write_bytes(data[:16] + bytes(range(256)) * 8)
    assert "garbled.jpg" in _error_message(tl.read_photo, str(garbled))

    huge = _huge_png_header(tmp_path / "huge.png")
    message = _error_message(tl.read_photo, huge)
    assert "too large" in message and f"limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels" in message
    mid = _huge_png_header(tmp_path / "mid.png", 7_000, 7_000)            # over the limit, under PIL's bomb check
    assert "too large (7000x7000)" in _error_message(tl.read_photo, mid)

    tiny = _png(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    assert "too small" in _error_message(tl.read_photo, tiny)

    assert "No photo yet" in _error_message(tl.read_photo, None)
    assert "No such image file" in _error_message(tl.read_photo, str(tmp_path / "gone.png"))
    assert "Unknown example" in _error_message(tl.read_example, "no such example")


def test_handlers_without_a_photo_or_with_bad_settings(weights):
    assert "No photo yet" in _error_message(tl.render_frame, None, 9.0, 0, True)
    assert "No photo yet" in _error_message(tl.render_day_cycle, None, 24, 0, True)
    assert tl.render_filmstrip(None, 0, True) == []
    _, photo = tl.read_example(next(iter(tl.example_files())))
    assert "between 2 and 240" in _error_message(tl.render_day_cycle, photo, 1000, 0, True)


def test_missing_weights_give_a_readable_error(monkeypatch, tmp_path):
    monkeypatch.delenv("VSL_RANDOM_WEIGHTS", raising=False)
    monkeypatch.setattr(common, "_MODELS", {})
    missing = tmp_path / "weights" / "timelapse" / "demo.safetensors"
    monkeypatch.setattr(registry, "weights_path", lambda name, variant=None: missing)
    monkeypatch.setattr(registry, "load", lambda name, variant=None, device=None:
                        registry.pipeline_from_file(name, missing))
    with pytest.raises(WeightsError):
        registry.load("timelapse")
    photo = tl.LoadedPhoto("x", _photo(), _photo())
    message = _error_message(tl.render_frame, photo, 9.0, 0, True)
    assert "weights not found" in message and "train.export" in message
    assert "Weights missing" in common.weights_status("timelapse")


def test_small_helpers():
    assert common.hhmm(6.25) == "06:15" and common.hhmm(0) == "00:00" and common.hhmm(24) == "24:00"
    assert common.timing(24, 1.836, "cpu") == "rendered 24 frames in 1.84 s on cpu"
    a, b = common.output_path("x", ".mp4"), common.output_path("x", ".mp4")
    assert a != b and a.parent == common.output_dir()

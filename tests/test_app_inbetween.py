"""The inbetweening tab without a browser: example pairs, uploads of any size, samples beside the references, the
frame scrubber, MP4/GIF downloads, the model choice, and bad input.

Runs the untrained tiny model (VSL_RANDOM_WEIGHTS=1: 32 px, 8 frames, fast), or tiny weights written into a
temporary weights folder for the "shipped weights" paths. Every bad input must end as a gr.Error with a readable
message.
"""

from __future__ import annotations

import dataclasses

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo_lib import registry
from demo_lib.ui import common
from demo_lib.ui import inbetween_tab as ib
from demo_lib.video import read_video
from demo_lib.weights import save_weights
from test_app import _huge_png_header
from test_inbetween_model import warmed_pipeline


@pytest.fixture
def lively(random_weights, monkeypatch):
    """The untrained tiny model with warmed batch-norm statistics: with the initial ones it paints flat grey
    whatever the seed, which would hide what the seed changes."""
    monkeypatch.setitem(common._MODELS, (ib.MODEL, True), warmed_pipeline(registry.get(ib.MODEL).preset("tiny")[0]))


@pytest.fixture
def walking(random_weights) -> tuple[ib.Keyframe, ib.Keyframe]:
    return ib.read_example(next(iter(ib.examples())))[2:]


def _error_message(fn, *args) -> str:
    with pytest.raises(gr.Error) as exc:
        fn(*args)
    return exc.value.message


def _png(path, array) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus blocks: uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 1 - x], axis=-1) * 200
    blocks = np.kron(rng.integers(0, 55, (h // 8 + 1, w // 8 + 1, 3)), np.ones((8, 8, 1)))[:h, :w]
    return (base + blocks).astype(np.uint8)


def _run(start, end, variant=None, n=2, seed=0, t=None):
    return ib.run(start, end, variant, n, seed, t, progress=lambda *a, **k: None)


# ---------------------------------------------------------------------------------------------------------------
# Examples


def test_examples_load_with_one_click(random_weights):
    names = list(ib.examples())
    for prefix in ("KTH-like walking", "KTH-like boxing", "BAIR-like pushing", "Moving digits",
                   "Camera pan across astronaut.png"):
        assert any(name.startswith(prefix) for name in names), prefix
    assert [name for _, name in ib.example_thumbnails()] == names
    for name in names:
        start_file, end_file, start, end = ib.read_example(name)
        assert (start.path, end.path) == (start_file, end_file) and start.example == end.example == name
        picture, info = ib.show_pair(start, end, None)
        side = ib.model_side(None)
        assert picture.dtype == np.uint8 and picture.shape[0] > 4 * side and name in info
        assert f"resized to {side}x{side}" in info
    pan = next(n for n in names if n.startswith("Camera pan"))
    info = ib.show_pair(*ib.read_example(pan)[2:], None)[1]
    assert "320x240, centre square 240x240 (columns 40-279) cropped" in info
    assert "Unknown example" in _error_message(ib.read_example, "no such pair")


def test_examples_work_without_the_shared_data(random_weights, monkeypatch):
    """The sky and street videos are not part of the project: without them, the procedural and pan pairs stay."""
    from demo_lib.data import inbetween_data

    monkeypatch.setattr(inbetween_data, "default_sky_timelapse_root", lambda: None)
    monkeypatch.setattr(inbetween_data, "default_cityscapes_root", lambda: None)
    assert inbetween_data.real_sources() == {"street": [], "sky": []} and inbetween_data.real_clips(4) == []
    ib._examples.cache_clear()
    try:
        names = list(ib.examples())
        assert len(names) >= 6 and not any(n.startswith(("Sky", "Cityscapes")) for n in names)
    finally:
        ib._examples.cache_clear()


# ---------------------------------------------------------------------------------------------------------------
# Inbetweening


def test_samples_keep_the_keyframes_and_sit_beside_the_references(walking):
    start, end = walking
    model = common.get_model(ib.MODEL)
    result = ib.inbetween(start, end, None, 3, seed=5)
    t, s = model.cfg.frames, model.cfg.image_size
    assert result.samples.shape == (3, t, s, s, 3) and result.samples.dtype == np.uint8
    assert list(result.references) == [ib.BLEND, ib.FLOW, ib.TRUTH]     # a held-out clip: its truth is known
    for clip in result.references.values():
        assert clip.shape == (t, s, s, 3) and clip.dtype == np.uint8
    seen_start, seen_end = model.prepare(start.image)[0], model.prepare(end.image)[0]
    assert (result.samples[:, 0] == seen_start).all() and (result.samples[:, -1] == seen_end).all()
    np.testing.assert_array_equal(result.references[ib.TRUTH][0], seen_start)


def test_seeds_are_deterministic_and_differ_in_the_middle(lively, walking):
    start, end = walking
    a = ib.inbetween(start, end, None, 2, seed=7).samples
    np.testing.assert_array_equal(a, ib.inbetween(start, end, None, 2, seed=7).samples)
    b = ib.inbetween(start, end, None, 2, seed=8).samples
    np.testing.assert_array_equal(a[1], b[0])                           # sample k of seed s = sample 0 of s + k
    assert not np.array_equal(a[0, 1:-1], b[0, 1:-1]) and not np.array_equal(a[0, 1:-1], a[1, 1:-1])
    np.testing.assert_array_equal(a[0, [0, -1]], b[0, [0, -1]])         # the keyframes do not move


def test_run_gives_looping_gifs_a_scrubber_and_downloads(lively, walking):
    start, end = walking
    samples, references, picture, scrubber, downloads, readout, result = _run(start, end, n=3, seed=11)
    t = result.frames
    assert [caption for _, caption in samples] == ["sample 1 · seed 11", "sample 2 · seed 12", "sample 3 · seed 13"]
    assert [caption for _, caption in references] == [ib.BLEND, ib.FLOW, ib.TRUTH]
    for path, _ in samples + references:
        with Image.open(path) as gif:
            assert gif.format == "GIF" and gif.info.get("loop") == 0
            durations = []                  # (Pillow merges repeated frames into one longer frame)
            for k in range(gif.n_frames):
                gif.seek(k)
                durations.append(gif.info["duration"])
            assert sum(durations) == t * round(1000 / ib.FPS)
            assert gif.size[0] >= ib.DISPLAY_SIDE - 16                 # upscaled to be visible
    assert isinstance(scrubber, gr.Slider) and scrubber.maximum == t - 1 and scrubber.value == t // 2
    np.testing.assert_array_equal(picture, ib.scrub(result, t // 2))
    assert [p.rsplit(".", 1)[1] for p in downloads] == ["mp4", "gif"]
    mp4, gif = read_video(downloads[0])[0], read_video(downloads[1])[0]
    assert mp4.shape[0] == gif.shape[0] == t and abs(mp4.shape[2] - picture.shape[1]) <= 1
    assert "**3 samples**" in readout and "seeds 11-13" in readout and f"rendered {3 * t} frames in" in readout
    assert "untrained tiny model" in readout and "ground truth" in readout
    # A t from the page is kept (clamped to the clip).
    assert _run(start, end, t=99)[3].value == t - 1 and _run(start, end, t=2)[3].value == 2


def test_scrubber_shows_frame_t_of_every_clip(lively, walking):
    result = ib.inbetween(*walking, None, 2, seed=1)
    first, middle, last = (ib.scrub(result, t) for t in (0, result.frames // 2, result.frames - 1))
    assert first.shape == middle.shape == last.shape and not np.array_equal(first, middle)
    assert not np.array_equal(middle, last)
    np.testing.assert_array_equal(ib.scrub(result, -5), first)
    np.testing.assert_array_equal(ib.scrub(result, 1000), last)
    assert ib.scrub(None, 3) is None
    # Two rows (samples, references), each tile upscaled by a whole factor with a label strip above it.
    tile = ib._upscale(result.samples[0, 0]).shape[0]
    assert tile % result.samples.shape[2] == 0 and first.shape[0] == 2 * (tile + 20) + 6


def test_resample_draws_a_new_seed(random_weights):
    seeds = {common.new_seed() for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s <= common.MAX_SEED for s in seeds)
    assert common.clean_seed(2**40 + 5) == 5 and common.clean_seed(None) == 0


# ---------------------------------------------------------------------------------------------------------------
# Uploads: any size, crops reported, odd pairs explained


def test_uploads_of_different_sizes_are_cropped_and_said_so(random_weights, tmp_path):
    start = ib.read_keyframe(_png(tmp_path / "wide.png", _picture(90, 160)), "start")
    end = ib.read_keyframe(_png(tmp_path / "tall.png", _picture(120, 100, seed=1)), "end")
    side = ib.model_side(None)
    picture, info = ib.show_pair(start, end, None)
    assert "wide.png" in info and "tall.png" in info
    assert f"start frame: 160x90, centre square 90x90 (columns 35-124) cropped, resized to {side}x{side}" in info
    assert "end frame: 100x120, centre square 100x100 (rows 10-109) cropped" in info
    assert "differ in size (160x90 and 100x120)" in info and "centre-cropped and resized on its own" in info
    result = ib.inbetween(start, end, None, 1, seed=0)
    assert list(result.references) == [ib.BLEND, ib.FLOW]                # no truth for uploads
    assert any("differ in size" in note for note in result.notes)


def test_large_upload_is_kept_small_and_its_crop_is_in_its_own_pixels(random_weights, tmp_path):
    big = ib.read_keyframe(_png(tmp_path / "big.png", _picture(1500, 3000)), "start")
    assert max(big.image.shape[:2]) == ib.KEEP_SIDE and big.size == (3000, 1500)
    info = ib.show_pair(big, big, None)[1]
    assert "3000x1500, centre square 1500x1500 (columns 750-2249) cropped" in info


def test_identical_keyframes_generate_with_a_note(random_weights, tmp_path):
    """Not refused (holding still is a fair request); the note says a faithful result is a still clip."""
    path = _png(tmp_path / "same.png", _picture(64, 64))
    start, end = ib.read_keyframe(path, "start"), ib.read_keyframe(path, "end")
    assert "identical" in ib.show_pair(start, end, None)[1]
    *_, readout, result = _run(start, end)
    assert "a faithful result is a still clip" in readout and result.samples.shape[0] == 2
    # The blend of a frame with itself is that frame: the references are still.
    assert (result.references[ib.BLEND] == result.references[ib.BLEND][0]).all()


def test_grayscale_and_alpha_are_converted(random_weights, tmp_path):
    rgb = _picture(48, 48)
    gray = ib.read_keyframe(_png(tmp_path / "gray.png", rgb[..., 0]), "start")
    rgba = ib.read_keyframe(_png(tmp_path / "rgba.png", np.dstack([rgb, np.full((48, 48), 128, np.uint8)])), "end")
    assert gray.image.shape == rgba.image.shape == (48, 48, 3) and gray.image.dtype == np.uint8
    assert ib.inbetween(gray, rgba, None, 1).samples.shape[0] == 1


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bad_input_gives_readable_errors(walking, tmp_path):
    start, end = walking
    text = tmp_path / "holiday.png"
    text.write_text("not a picture at all")
    assert "holiday.png is not an image" in _error_message(ib.read_keyframe, str(text), "start")
    assert "too large" in _error_message(ib.read_keyframe, _huge_png_header(tmp_path / "huge.png"), "end")
    dot = _png(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    assert "too small (1x1 pixels)" in _error_message(ib.read_keyframe, dot, "start")
    assert "No start frame yet" in _error_message(ib.read_keyframe, None, "start")
    assert "No end frame yet" in _error_message(ib.read_keyframe, None, "end")
    assert "No such image file" in _error_message(ib.read_keyframe, str(tmp_path / "gone.png"), "start")
    assert "No end frame yet" in _error_message(_run, start, None)
    assert "No start frame yet" in _error_message(_run, None, end)
    assert "between 1 and 8" in _error_message(_run, start, end, None, 20)
    assert "Unknown model 'nonsense'" in _error_message(_run, start, end, "nonsense")
    # A rejected upload puts the keyframe in use back into its box; before any, the info line says what to do.
    assert ib.restore(start) == start.path and ib.restore(None) is None
    assert ib.show_pair(start, None, None) == (None, "Now the end frame, or pick an example.")
    assert ib.show_pair(None, None, None)[1] == "Upload the start frame and the end frame, or pick an example."


# ---------------------------------------------------------------------------------------------------------------
# Weights: none shipped, some shipped


@pytest.fixture
def shipped(weights_dir):
    """An empty weights folder in place of weights/ (tests ship tiny weights into it), and examples made afresh."""
    ib._examples.cache_clear()
    ib._example_thumbnails.cache_clear()
    yield weights_dir
    ib._examples.cache_clear()
    ib._example_thumbnails.cache_clear()


def _ship(variant: str, dataset: str, seed: int) -> None:
    cfg = dataclasses.replace(registry.get(ib.MODEL).preset("tiny")[0], dataset=dataset)
    net = registry.random_pipeline(ib.MODEL, "tiny", seed=seed).generator
    card = {"model": ib.MODEL, "variant": variant, "paper": {}, "config": dataclasses.asdict(cfg),
            "train": {"steps": 2, "date": "today"}, "metrics": {}, "license": "MIT", "limitations": ""}
    save_weights(net.state_dict(), registry.weights_path(ib.MODEL, variant), card)


def test_no_weights_shipped_says_how_to_train(shipped):
    assert ib.available_models() == []
    status = ib.weights_markdown()
    assert "Weights missing" in status and "python -m train.train inbetween --preset demo" in status
    start, end = ib.read_example(next(iter(ib.examples())))[2:]
    message = _error_message(_run, start, end, None)
    assert "No trained inbetweening model is shipped yet" in message and "VSL_RANDOM_WEIGHTS=1" in message


def test_shipped_weights_are_offered_and_examples_pick_their_model(shipped):
    _ship("bair", "bair", seed=1)
    _ship("demo", "kth", seed=2)
    assert ib.available_models() == [(ib.VARIANTS["demo"], "demo"), (ib.VARIANTS["bair"], "bair")]
    assert ib.weights_markdown().count("Weights: `") == 2
    assert ib.preferred_model("bair", "demo") == "bair" and ib.preferred_model("kth", "bair") == "demo"
    assert ib.preferred_model("digits", "bair") == "bair" and ib.preferred_model(None, None) == "demo"
    names = list(ib.examples())
    start, end = ib.read_example(next(n for n in names if n.startswith("BAIR")))[2:]
    a, b = ib.inbetween(start, end, "bair", 1, seed=3), ib.inbetween(start, end, "demo", 1, seed=3)
    assert a.model == ib.VARIANTS["bair"] and not np.array_equal(a.samples, b.samples)
    assert ib.TRUTH in a.references
    *_, readout, _ = _run(start, end, "bair", 1, 3)
    assert "BAIR-like robot arm" in readout
    assert "Unknown model 'naive'" in _error_message(_run, start, end, "naive")   # not shipped here


# ---------------------------------------------------------------------------------------------------------------
# The app


def test_app_has_the_tab():
    import app

    tabs = [block for block in app.demo.blocks.values() if isinstance(block, gr.Tab)]
    assert [tab.id for tab in tabs] == ["timelapse", "vid2vid", "munit_video", "inbetween"]
    assert "coming later" not in app.HEADER and "fourth tab" in app.HEADER
    about = ib.about_markdown()
    assert "Licence" in about and "Limitations" in about and "gated fusion" in about

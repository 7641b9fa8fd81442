"""The vid2vid tab without a browser: loading examples and uploads, painting, class replacement, styles, synthesis.

Uses the shipped weights when weights/vid2vid and weights/street_segmenter exist, else untrained tiny models
(VSL_RANDOM_WEIGHTS=1). Every bad input must end as a gr.Error with a readable message, and leave the label video
in use as it was.
"""

from __future__ import annotations

import dataclasses

import gradio as gr
import numpy as np
import pytest

from demo_lib import registry
from demo_lib.data import cityscapes as cs
from demo_lib.ui import common
from demo_lib.ui import vid2vid_tab as v2v
from demo_lib.video import read_video, write_gif, write_mp4

BUILDING, VEGETATION, CAR, SKY, ROAD, PERSON = 11, 21, 26, 23, 7, 24


@pytest.fixture
def weights(monkeypatch):
    """Shipped weights when present, else the untrained tiny models."""
    if not (registry.weights_path("vid2vid").is_file() and registry.weights_path("street_segmenter").is_file()):
        monkeypatch.setenv("VSL_RANDOM_WEIGHTS", "1")


@pytest.fixture
def street(weights):
    return v2v.read_example(v2v.example_names()[0])


def _error_message(fn, *args) -> str:
    with pytest.raises(gr.Error) as exc:
        fn(*args)
    return exc.value.message


def _layer(h: int, w: int, box: tuple[int, int, int, int], rgb) -> np.ndarray:
    """An RGBA editor layer, transparent except an opaque rectangle (y0, y1, x0, x1) of colour rgb."""
    layer = np.zeros((h, w, 4), np.uint8)
    y0, y1, x0, x1 = box
    layer[y0:y1, x0:x1] = (*rgb, 255)
    return layer


def _painting(video: v2v.StreetVideo, key: int = 0, layers=()) -> dict:
    value = v2v.editor_value(video, key)
    return {**value, "layers": list(layers)}


# ---------------------------------------------------------------------------------------------------------------
# Loading


def test_every_example_loads_and_shows(weights):
    h, w = v2v.work_size()
    names = v2v.example_names()
    assert len(names) == 3
    for name in names:
        video = v2v.read_example(name)
        assert video.name == name and video.labels.shape == (v2v.EXAMPLE_FRAMES, h, w)
        assert video.labels.dtype == np.uint8 and video.instances.shape == video.labels.shape
        assert video.instances.max() > 0            # the procedural streets come with instance maps
        editor, slider, info, labels_mp4, source = v2v.show_video(video)
        np.testing.assert_array_equal(editor["background"], cs.colorize(video.labels[0]))
        assert slider["maximum"] == v2v.EXAMPLE_FRAMES - 1 and name in info
        assert read_video(labels_mp4)[0].shape == (v2v.EXAMPLE_FRAMES, h, w, 3)
        assert {value for _, value in source["choices"]} == set(np.unique(video.labels).tolist())
    assert "Unknown example" in _error_message(v2v.read_example, "no such street")


def test_colour_label_gif_loads_exactly_after_crop_and_resize(street, tmp_path):
    """A lossless label video, 2x larger and wider than 2:1: cropped to the centre, resized nearest: exact ids."""
    t, h, w = street.labels.shape
    pad = np.full((t, h, w // 4), SKY, np.uint8)
    wide = np.concatenate([pad, street.labels[:, :, :], pad], axis=2)[:6]            # (6, h, 1.5 w)
    big = wide.repeat(2, axis=1).repeat(2, axis=2)
    path = write_gif(cs.colorize(big), tmp_path / "labels.gif", fps=8)
    video = v2v.read_label_video(str(path))
    np.testing.assert_array_equal(video.labels, street.labels[:6])
    assert video.instances.max() == 0 and video.name == "labels.gif" and video.frames == 6


def test_colour_label_mp4_absorbs_compression(street, tmp_path):
    """H.264 shifts colours and blurs them across class borders: the borders map to the nearest class."""
    path = write_mp4(cs.colorize(street.labels[:8]), tmp_path / "labels.mp4", fps=12)
    video = v2v.read_label_video(str(path))
    assert video.labels.shape == street.labels[:8].shape
    assert (video.labels == street.labels[:8]).mean() > 0.97
    stray = ~np.isin(video.labels, np.unique(street.labels[:8]))      # blends that look like another class
    assert stray.mean() < 0.002


def test_far_colour_in_a_label_video_is_refused_by_name(street, tmp_path):
    # Pure green is 160 from the nearest palette colour (vegetation). Not magenta: RGB(255, 0, 255) is only 43
    # from sidewalk (244, 35, 232), just outside the tolerance of 40, and video compression can bring it inside.
    assert np.linalg.norm(cs.PALETTE.astype(float) - (0, 255, 0), axis=1).min() > 100
    colors = cs.colorize(street.labels[:4]).copy()
    colors[:, 20:60, 40:120] = (0, 255, 0)
    message = _error_message(v2v.read_label_video, str(write_gif(colors, tmp_path / "green.gif")))
    assert "RGB(0, 255, 0)" in message and "not Cityscapes label colours" in message and "green.gif" in message
    message = _error_message(v2v.read_label_video, str(write_mp4(colors, tmp_path / "green.mp4")))
    assert "not Cityscapes label colours" in message


def test_noise_and_photos_are_not_taken_for_label_videos(tmp_path):
    # Every pixel of noise is a "class border", where compression blends are forgiven, so noise once passed as 13
    # classes (issue 28); a photo is off the palette almost everywhere too.
    noise = np.random.default_rng(0).integers(0, 256, (4, 64, 128, 3), dtype=np.uint8)
    message = _error_message(v2v.read_label_video, str(write_mp4(noise, tmp_path / "noise.mp4")))
    assert "does not look like a label video" in message and "segmenter" in message
    with pytest.raises(cs.LabelColorError, match="does not look like a label video"):
        cs.labels_from_video_colors(noise)


def test_real_video_is_labelled_by_the_segmenter(weights, tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 90, 160, 3), dtype=np.uint8)          # 16:9: cropped to 2:1
    video = v2v.read_real_video(str(write_mp4(frames, tmp_path / "drive.mp4", fps=25)))
    assert video.labels.shape == (5, *v2v.work_size()) and "segmenter" in video.name
    assert set(np.unique(video.labels)) <= set(cs.EVAL_IDS) and video.fps == 25


def test_bad_uploads_give_readable_errors(weights, tmp_path):
    text = tmp_path / "holiday.mp4"
    text.write_text("not a video at all")
    for reader in (v2v.read_label_video, v2v.read_real_video):
        assert "could not be decoded as a video" in _error_message(reader, str(text))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty.mp4 is empty" in _error_message(v2v.read_label_video, str(empty))
    assert "No label video yet" in _error_message(v2v.read_label_video, None)
    assert "No street video yet" in _error_message(v2v.read_real_video, "")
    assert "No such video file" in _error_message(v2v.read_label_video, str(tmp_path / "gone.mp4"))
    tiny = write_gif(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "tiny.gif")
    assert "too small" in _error_message(v2v.read_label_video, str(tiny))
    huge = write_mp4(np.zeros((1, 1600, 2600, 3), np.uint8), tmp_path / "huge.mp4")
    assert "2600x1600 are too large" in _error_message(v2v.read_real_video, str(huge))


def test_long_video_is_cut_and_one_frame_video_works(weights, tmp_path):
    labels = np.full((v2v.MAX_FRAMES + 5, 64, 128), ROAD, np.uint8)
    labels[:, :20] = SKY
    for i in range(len(labels)):          # a moving car: GIF writers merge identical consecutive frames
        labels[i, 30:40, i:i + 12] = CAR
    video = v2v.read_label_video(str(write_gif(cs.colorize(labels), tmp_path / "long.gif")))
    assert video.frames == v2v.MAX_FRAMES and f"first {v2v.MAX_FRAMES} frames used" in video.name
    one = v2v.read_label_video(str(write_gif(cs.colorize(labels[:1]), tmp_path / "one.gif")))
    assert one.frames == 1
    _, slider, _, _, _ = v2v.show_video(one)
    assert slider["interactive"] is False
    labels_mp4, output_mp4, mask_mp4, gallery, download, info = v2v.synthesize(one, 0)
    assert read_video(output_mp4)[0].shape[0] == 1 and "rendered 1 frame in" in info


# ---------------------------------------------------------------------------------------------------------------
# Edits


def test_painting_is_written_into_every_frame(street):
    t, h, w = street.labels.shape
    box = (10, 40, 30, 90)
    layer = _layer(h, w, box, cs.PALETTE[VEGETATION])
    edited, editor, message = v2v.apply_painting(street, _painting(street, 5, [layer]), 5)
    assert "vegetation 1800 px" in message and f"all {t} frames" in message
    inside = np.zeros((h, w), bool)
    inside[10:40, 30:90] = True
    assert (edited.labels[:, inside] == VEGETATION).all()
    np.testing.assert_array_equal(edited.labels[:, ~inside], street.labels[:, ~inside])
    assert (edited.instances[:, inside] == 0).all()                       # vegetation is stuff
    np.testing.assert_array_equal(editor["background"], cs.colorize(edited.labels[5]))
    np.testing.assert_array_equal(edited.original, street.labels)       # kept for "reset edits"
    assert (street.labels[:, inside] != VEGETATION).any()               # the given state is untouched
    assert edited.edits and "painted vegetation" in v2v.describe(edited)

    # A painted person is one new object (instance id) in every frame; composite-only values work too.
    composite = editor["background"].copy()
    composite[2:12, 120:140] = cs.PALETTE[PERSON]
    painted = (composite != editor["background"]).any(-1)
    assert painted.sum() > 100
    with_person, _, _ = v2v.apply_painting(edited, {"background": editor["background"], "layers": [],
                                                    "composite": composite}, 5)
    person_ids = np.unique(with_person.instances[:, painted])
    assert (with_person.labels[:, painted] == PERSON).all() and len(person_ids) == 1
    assert person_ids[0] > street.instances.max()

    back, editor, message = v2v.reset_edits(with_person, 3)
    np.testing.assert_array_equal(back.labels, street.labels)
    np.testing.assert_array_equal(back.instances, street.instances)
    assert back.edits == () and "undone" in message


def test_painting_without_change_or_with_bad_input(street):
    same, _, message = v2v.apply_painting(street, _painting(street), 0)
    assert same is street and "Nothing was painted" in message
    same, _, _ = v2v.apply_painting(street, _painting(street, 0, [np.zeros((*street.labels.shape[1:], 4),
                                                                           np.uint8)]), 0)
    assert same is street
    h, w = street.labels.shape[1:]
    assert "Nothing to apply" in _error_message(v2v.apply_painting, street, None, 0)
    assert "Nothing to apply" in _error_message(v2v.apply_painting, street, {"background": None, "layers": [],
                                                                             "composite": None}, 0)
    wrong = _layer(h // 2, w // 2, (0, 5, 0, 5), cs.PALETTE[ROAD])
    assert f"the key frame is {w}x{h}" in _error_message(v2v.apply_painting, street, _painting(street, 0, [wrong]), 0)
    green = _layer(h, w, (0, 5, 0, 5), (0, 255, 0))
    message = _error_message(v2v.apply_painting, street, _painting(street, 0, [green]), 0)
    assert "RGB(0, 255, 0)" in message and "not Cityscapes" in message
    assert "No label video yet" in _error_message(v2v.apply_painting, None, _painting(street), 0)


def test_class_replacement_in_all_frames(street):
    assert (street.labels == BUILDING).any()
    edited, editor, message = v2v.replace_class(street, BUILDING, "vegetation (21)", 2)
    assert not (edited.labels == BUILDING).any()
    np.testing.assert_array_equal(edited.labels == VEGETATION, (street.labels == BUILDING)
                                  | (street.labels == VEGETATION))
    assert "building -> vegetation" in message and "building -> vegetation" in v2v.describe(edited)
    np.testing.assert_array_equal(editor["background"], cs.colorize(edited.labels[2]))
    # Objects become stuff: their instance ids go.
    no_cars, _, _ = v2v.replace_class(street, "car", "road", 0)
    assert (no_cars.instances[street.labels == CAR] == 0).all()
    same, _, message = v2v.replace_class(street, "sky", "sky", 0)
    assert same is street and "same class" in message
    same, _, message = v2v.replace_class(street, "train", "bus", 0)
    assert same is street and "no train" in message
    assert "Unknown class" in _error_message(v2v.replace_class, street, "dragon", "road", 0)


# ---------------------------------------------------------------------------------------------------------------
# Styles


def test_styles_without_any(street):
    """The untrained tiny model (and any model trained without the style encoder) has no styles."""
    if common.get_model("vid2vid").style_classes():
        pytest.skip("these weights have styles")
    dropdown, new_button, all_button, text = v2v.style_controls(street)
    assert dropdown["interactive"] is False and new_button["interactive"] is False
    assert "no styles" in text
    same, text = v2v.new_class_style(street, "car")
    assert same is street and "no styles" in text
    resampled, _ = v2v.resample_styles(street, 5)
    assert resampled.style_seed == 5 and resampled.styles == ()


def test_per_class_styles(street, monkeypatch):
    pipeline = registry.random_pipeline("vid2vid", "tiny")
    pipeline.generator.style_counts[CAR] = 2
    pipeline.generator.style_counts[BUILDING] = 2
    pipeline.generator.style_centers[CAR, 1] = 1.0
    monkeypatch.setitem(common._MODELS, ("vid2vid", common.random_weights()), pipeline)
    dropdown, new_button, _, text = v2v.style_controls(street)
    assert {value for _, value in dropdown["choices"]} == {CAR, BUILDING} and new_button["interactive"]
    before = {**pipeline.sample_styles(street.style_seed)}
    changed, text = v2v.new_class_style(street, CAR)
    assert dict(changed.styles) == {CAR: (before[CAR] + 1) % 2}
    assert f"car {dict(changed.styles)[CAR] + 1}/2" in text and "building" in text
    assert "no styles for sky" in _error_message(v2v.new_class_style, street, "sky")
    assert "Pick a class" in _error_message(v2v.new_class_style, street, None)
    again, _ = v2v.resample_styles(changed)
    assert again.styles == () and 0 <= again.style_seed <= common.MAX_SEED
    # The choice reaches the generator: another car style, another picture (only where the cars are).
    a = v2v.synthesize(_first_frames(street, styles=((CAR, 0),)), 0)[1]
    b = v2v.synthesize(_first_frames(street, styles=((CAR, 1),)), 0)[1]
    assert np.abs(read_video(a)[0].astype(int) - read_video(b)[0].astype(int)).max() > 0


def _first_frames(video: v2v.StreetVideo, **changes) -> v2v.StreetVideo:
    return dataclasses.replace(video, labels=video.labels[:3], original=video.original[:3],
                               instances=video.instances[:3], original_instances=video.original_instances[:3],
                               **changes)


# ---------------------------------------------------------------------------------------------------------------
# Synthesis


def test_synthesize_gives_three_videos_a_download_and_survives_errors(street, tmp_path):
    t, h, w = street.labels.shape
    labels_mp4, output_mp4, mask_mp4, gallery, download, info = v2v.synthesize(street, 4)
    for path in (labels_mp4, output_mp4, mask_mp4):
        frames, _ = read_video(path)
        assert frames.shape == (t, h, w, 3)
    assert download == output_mp4 and download.endswith(".mp4")
    assert [caption.split(",")[0].split(":")[0] for _, caption in gallery] == [
        "labels", "output", "hallucinated h", "warped vs hallucinated", "mask m"]
    assert all(image.shape[:2] == (h, w) for image, _ in gallery)
    assert f"rendered {t} frames in" in info and f"{w}x{h}" in info
    assert "mean occlusion mask after frame 0" in info and "background" in info
    np.testing.assert_array_equal(read_video(labels_mp4)[0].shape, (t, h, w, 3))

    # A failed upload and a failed edit change nothing: the same state synthesizes again.
    labels_before = street.labels.copy()
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    _error_message(v2v.read_label_video, str(bad))
    _error_message(v2v.apply_painting, street, {"background": np.zeros((3, 3, 3), np.uint8), "layers": [],
                                                "composite": np.zeros((3, 3, 3), np.uint8)}, 0)
    np.testing.assert_array_equal(street.labels, labels_before)
    assert "rendered 3 frames" in v2v.synthesize(_first_frames(street), 0)[-1]


def test_handlers_without_a_video(weights):
    for fn, args in ((v2v.show_video, ()), (v2v.synthesize, (0,)), (v2v.replace_class, ("sky", "road", 0)),
                     (v2v.reset_edits, (0,)), (v2v.style_controls, ()), (v2v.new_class_style, ("car",)),
                     (v2v.resample_styles, ())):
        assert "No label video yet" in _error_message(fn, None, *args)
    assert v2v.show_key_frame(None, 3) is None and v2v.describe(None).startswith("Pick an example")


def test_small_helpers():
    assert v2v.class_id("building") == v2v.class_id("building (11)") == v2v.class_id(11) == BUILDING
    assert v2v.class_label(26) == "car (26)" and v2v.hex_color(ROAD) == "#804080"
    colors = v2v.brush_colors()
    assert len(colors) == len(set(colors)) == len(v2v.PAINT_IDS) and len(colors) >= 19
    legend = v2v.legend_html()
    assert all(cs.CLASS_NAMES[i] in legend for i in v2v.PAINT_IDS)
    frames = np.zeros((2, 90, 160, 3), np.uint8)
    assert v2v.center_crop(frames, 2.0).shape == (2, 80, 160, 3)
    assert v2v.center_crop(frames[:, :, :100], 2.0).shape == (2, 50, 100, 3)
    assert "Licence" in v2v.about_markdown() and "Limitations" in v2v.about_markdown()


def test_missing_weights_are_quiet_on_page_load_and_readable_on_use(street, monkeypatch, tmp_path):
    from demo_lib.weights import WeightsError

    monkeypatch.delenv("VSL_RANDOM_WEIGHTS", raising=False)
    monkeypatch.setattr(common, "_MODELS", {})
    missing = tmp_path / "weights" / "vid2vid" / "demo.safetensors"
    monkeypatch.setattr(registry, "weights_path", lambda name, variant=None: missing)
    monkeypatch.setattr(registry, "load", lambda name, variant=None, device=None:
                        registry.pipeline_from_file(name, missing))
    with pytest.raises(WeightsError):
        registry.load("vid2vid")
    dropdown, _, _, text = v2v.style_controls(street)          # on page load: no error toast
    assert dropdown["interactive"] is False and "no weights" in text
    assert "weights not found" in _error_message(v2v.synthesize, street, 0)
    assert "Weights missing" in common.weights_status("vid2vid")
    assert v2v.work_size() == (128, 256)                       # the demo preset's, without a card


def test_mask_overlay_tints_hallucinated_pixels_and_keeps_warped_ones():
    frames = np.full((2, 4, 4, 3), 100, np.uint8)
    mask = np.zeros((2, 4, 4), np.uint8)
    mask[:, :, :2] = 255
    overlay = v2v.mask_overlay(frames, mask)
    np.testing.assert_array_equal(overlay[:, :, 2:], frames[:, :, 2:])        # warped: as it is
    assert (overlay[:, :, :2, 0] > 100).all() and (overlay[:, :, :2, 1] < 100).all()   # magenta

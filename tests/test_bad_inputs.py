"""Inputs as people make them (issue 28): a generated corpus of image and video files, good, odd and broken, run
through the library readers (`read_image`, `read_video`, `as_rgb_uint8`) and through every upload handler of the
four tabs, called directly as the page would call them.

Each case ends in a correct picture or clip, or in a clear message (MediaError from the library, gr.Error from a
handler), never in another exception; and the next good upload still works. The files are tiny (tens of pixels,
a few frames) except the headers that only claim a huge size. Runs the untrained tiny models (VSL_RANDOM_WEIGHTS).
"""

from __future__ import annotations

import dataclasses
import struct
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import gradio as gr
import numpy as np
import pytest
from PIL import Image
from test_video import STORED, write_rotated_mp4

from demo_lib import video
from demo_lib.data import cityscapes as cs
from demo_lib.ui import common
from demo_lib.ui import inbetween_tab as ib
from demo_lib.ui import munit_video_tab as mv
from demo_lib.ui import timelapse_tab as tl
from demo_lib.ui import vid2vid_tab as v2v
from demo_lib.video import MediaError

H, W = 48, 64        # the good pictures' size: landscape, so a missed rotation shows in the shape


def picture(h: int = H, w: int = W) -> np.ndarray:
    """Four flat quadrants (red, green / blue, white): uint8 (h, w, 3). Flat colours survive JPEG and GIF well
    enough to compare, and no rotation or mirror of it looks like itself."""
    out = np.zeros((h, w, 3), np.uint8)
    out[: h // 2, : w // 2] = (220, 30, 30)
    out[: h // 2, w // 2:] = (30, 200, 40)
    out[h // 2:, : w // 2] = (40, 40, 210)
    out[h // 2:, w // 2:] = (245, 245, 245)
    return out


def close(a: np.ndarray, b: np.ndarray, tolerance: float = 12.0) -> bool:
    """Same shape and a mean absolute difference under `tolerance` grey levels (lossy codecs)."""
    return a.shape == b.shape and float(np.abs(a.astype(np.float64) - b).mean()) < tolerance


@dataclasses.dataclass
class Case:
    path: str
    expect: Callable[[np.ndarray], bool] | None   # a good file: what read_image / read_video must give
    error: str | None = None                      # a bad file: a phrase of the message
    handlers_error: str | None = None             # what the tabs say when the library accepts it (size rules)


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG that only claims width x height pixels (a decompression bomb's header, no pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def _with_exif_orientation(path: Path, upright: np.ndarray, orientation: int, **save) -> None:
    """Save `upright` as a camera would: pixels as the sensor saw them, plus the EXIF tag that turns them upright."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(STORED[orientation](upright))).save(path, exif=exif, **save)


def _corpus(folder: Path) -> tuple[dict[str, Case], Callable[..., Path]]:
    """An empty corpus and its `add(name, expect, error, handlers_error) -> path to write the case's file to`."""
    cases: dict[str, Case] = {}

    def add(name: str, expect=None, error=None, handlers_error=None) -> Path:
        path = folder / name
        cases[name] = Case(str(path), expect, error, handlers_error)
        return path

    return cases, add


def make_image_corpus(folder: Path) -> dict[str, Case]:
    good = picture()
    cases, add = _corpus(folder)

    Image.fromarray(good).save(add("good.png", lambda a: np.array_equal(a, good)))
    jpeg = folder / "photo.jpg"
    Image.fromarray(good).save(jpeg, quality=90)
    data = jpeg.read_bytes()
    add("truncated.jpg", error="corrupt").write_bytes(data[: len(data) // 2])
    add("corrupt.jpg", error="corrupt.jpg").write_bytes(data[:20] + bytes(range(256)) * 4)
    png = (folder / "good.png").read_bytes()
    add("truncated.png", error="corrupt").write_bytes(png[: len(png) // 2])
    add("empty.png", error="is empty (0 bytes)").write_bytes(b"")
    add("notes.png", error="is not an image").write_text("not a picture at all")
    add("clip.png", error="is not an image").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))  # an MP4 start
    Image.fromarray(good[:1, :1]).save(add("dot.png", error="too small (1x1 pixels)"))
    _png_header(add("huge.png", error="too large"), 20_000, 20_000)            # over Pillow's bomb limit
    _png_header(add("large.png", error="too large (7000x7000)"), 7_000, 7_000)  # over ours, under Pillow's
    # 16-bit greyscale (mode I;16): a ramp over the whole range must come out as a ramp, not white.
    ramp16 = np.linspace(0, 65535, H * W).round().astype(np.uint16).reshape(H, W)
    ramp8 = ((ramp16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    Image.fromarray(ramp16).save(add("gray16.png", lambda a: np.array_equal(a, np.dstack([ramp8] * 3))))
    cv2.imwrite(str(add("rgb16.png", lambda a: np.abs(a.astype(int) - good).max() <= 1)),
                (good[..., ::-1].astype(np.uint16) * 257))                   # 48-bit RGB (cv2 writes BGR)
    gray = good.mean(-1).astype(np.uint8)
    Image.fromarray(gray).save(add("gray.png", lambda a: np.array_equal(a, np.dstack([gray] * 3))))
    Image.fromarray(gray).convert("1").save(add("bilevel.png", lambda a: set(np.unique(a)) <= {0, 255}))
    Image.fromarray(good).convert("CMYK").save(add("cmyk.jpg", lambda a: close(a, good)), quality=95)
    Image.fromarray(good).convert("CMYK").save(add("cmyk.tif", lambda a: np.array_equal(a, good)))
    palette = Image.fromarray(good).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    clear = palette.getpixel((0, 0))                   # the red quadrant's index made transparent: white
    palette.save(add("palette.png", lambda a: (a[: H // 2, : W // 2] == 255).all()
                     and np.array_equal(a[H // 2:], good[H // 2:])), transparency=clear)
    rgba = np.dstack([good, np.full((H, W), 255, np.uint8)])
    rgba[:, : W // 4, 3] = 0                           # a transparent band: white
    rgba[:, W // 4: W // 2, 3] = 128                   # half: halfway to white
    half = np.round(good[:, W // 4: W // 2] / 255 * 128 + 127).astype(np.uint8)   # (rgb * a + 255 * (255 - a)) / 255
    Image.fromarray(rgba).save(add("rgba.png", lambda a: (a[:, : W // 4] == 255).all()
                                   and np.array_equal(a[:, W // 4: W // 2], half)
                                   and np.array_equal(a[:, W // 2:], good[:, W // 2:])))
    Image.fromarray(np.dstack([gray, rgba[..., 3]])).save(add("gray_alpha.png", lambda a: (a[:, : W // 4] == 255)
                                                              .all() and np.array_equal(a[:, W // 2:, 0],
                                                                                        gray[:, W // 2:])))
    second = good[::-1].copy()
    Image.fromarray(good).save(add("animated.gif", lambda a: close(a, good, 4)), save_all=True,
                               append_images=[Image.fromarray(second)], duration=100, loop=0)   # the first frame
    _with_exif_orientation(add("phone.jpg", lambda a: close(a, good)), good, 6, quality=95)
    _with_exif_orientation(add("mirrored.png", lambda a: np.array_equal(a, good)), good, 7)
    Image.fromarray(good).save(add("bad_exif.jpg", lambda a: close(a, good)), exif=b"Exif\x00\x00II*\x00garbage")
    Image.fromarray(ramp16.astype(np.float32) / 65535).save(add("float.tif", lambda a: np.abs(
        a[..., 0].astype(int) - ramp8).max() <= 1))
    Image.fromarray(ramp16.astype(np.int32) - 40_000).save(add("int32.tif", error="32-bit pixel values"))
    # Library-sized but not for the tabs: one minimum size everywhere (common.MIN_SIDE), and no squashed strips.
    Image.fromarray(picture(8, 3000)).save(add("strip8.png", lambda a: a.shape == (8, 3000, 3),
                                               handlers_error=f"at least {common.MIN_SIDE} pixels per side"))
    Image.fromarray(picture(16, 3000)).save(add("strip16.png", lambda a: a.shape == (16, 3000, 3),
                                                handlers_error="too thin"))
    Image.fromarray(picture(12, 12)).save(add("small.png", lambda a: a.shape == (12, 12, 3),
                                              handlers_error=f"at least {common.MIN_SIDE} pixels per side"))
    return cases


SKY, BUILDING, ROAD = 23, 11, 7


def _label_frames(t: int = 3, h: int = 32, w: int = 64, building: bool = True) -> np.ndarray:
    """A Cityscapes colour label video: sky over buildings over road (or sky over road), uint8 (t, h, w, 3)."""
    ids = np.full((h, w), ROAD, np.uint8)
    ids[: h // 3 if building else h // 2] = SKY
    if building:
        ids[h // 3: 2 * h // 3] = BUILDING
    return np.repeat(cs.colorize(ids)[None], t, axis=0)


def make_video_corpus(folder: Path) -> dict[str, Case]:
    good = _label_frames()
    cases, add = _corpus(folder)

    mp4 = video.write_mp4(good, add("good.mp4", lambda a: close(a, good, 4)), fps=12)
    data = mp4.read_bytes()
    # PyAV writes the index (moov) after the frames (mdat): a cut file has no index, hence no stream.
    # Depending on where the cut falls FFmpeg opens it without streams or fails to decode it: either way, said so.
    add("truncated.mp4", error="the file may be cut short or corrupt").write_bytes(data[: len(data) // 2])
    add("corrupt.mp4", error="could not be decoded").write_bytes(data[:48] + bytes(range(256)) * 4 + data[-40:])
    start = data.find(b"mdat") + 4
    middle = start + struct.unpack(">I", data[start - 8: start - 4])[0] // 2
    add("garbled_frames.mp4", lambda a: a.shape[1:] == good.shape[1:]).write_bytes(   # the decoder conceals it
        data[:middle] + bytes(range(32)) + data[middle + 32:])
    add("empty.mp4", error="is empty (0 bytes)").write_bytes(b"")
    add("notes.mp4", error="could not be decoded").write_text("not a video at all")
    # A track that never got a frame.
    container = av.open(str(add("no_frames.mp4", error="contains no video that can be read")), mode="w")
    stream = container.add_stream("libx264", rate=12)
    stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
    container.start_encoding()
    container.close()
    with wave.open(str(add("sound.wav", error="has no video stream")), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 800)
    # A phone held upright records landscape frames plus "turn 90 degrees clockwise" (FFmpeg: -90).
    upright = _label_frames(3, 64, 32, building=False)          # a portrait clip: sky over road
    stored = np.rot90(upright, 1, axes=(1, 2)).copy()           # as the sensor saw it: landscape, sky on the left
    write_rotated_mp4(add("phone.mp4", lambda a: close(a, upright, 4)), stored, -90)
    video.write_gif(good[:, :8, :8], add("tiny.gif", lambda a: a.shape[1:3] == (8, 8),
                                         handlers_error=f"at least {common.MIN_SIDE} pixels per side"))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Fixtures and how a handler is called


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Case]:
    return make_image_corpus(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Case]:
    return make_video_corpus(tmp_path_factory.mktemp("videos"))


@pytest.fixture
def tabs(random_weights):
    """The untrained tiny models (their work sizes are what the handlers resize to)."""


def _outcome(fn: Callable, *args) -> tuple[object, str | None]:
    """(fn(*args), None), or (None, the gr.Error's message); any other exception fails the test as it is."""
    try:
        return fn(*args), None
    except gr.Error as exc:
        return None, exc.message


def _judge(tab: str, name: str, case: Case, handler: Callable, good: str) -> str | None:
    """What is wrong with `handler`'s answer to the case (None if nothing), after checking that a good upload
    still works right after a refused one."""
    result, message = _outcome(handler, case.path)
    if message is not None:
        assert _outcome(handler, good)[1] is None, f"{tab}: a good upload failed after {name}"
    expected = case.error or case.handlers_error
    if message is not None:
        return None if expected is not None and expected in message else f"{tab} / {name}: {message!r:.200}"
    if expected is not None:
        return f"{tab} / {name}: accepted, expected {expected!r}"
    pictures = [getattr(result, f, None) for f in ("full", "image", "frames", "labels")]   # the state's arrays
    pictures = [p for p in pictures if isinstance(p, np.ndarray)]
    if pictures and pictures[0].dtype != np.uint8:
        return f"{tab} / {name}: the state holds {pictures[0].dtype}"
    return None


def image_handlers(good: str) -> dict[str, Callable]:
    """Tab / upload box -> its handler, called with the uploaded file's path (`good`: a picture for the handlers
    that need one already loaded)."""
    return {
        "time-lapse photo": tl.read_photo,
        "inbetween keyframe": lambda path: ib.read_keyframe(path, "start"),
        "painting image": mv.read_image_upload,
        "painting style image": lambda path: mv.run(mv.read_image_upload(good), "photo2painting", 0, path, False,
                                                    False, progress=lambda *a, **k: None),
    }


VIDEO_HANDLERS = {
    "painting video": mv.read_video_upload,
    "vid2vid label video": v2v.read_label_video,
    "vid2vid street video": lambda path: v2v.read_real_video(path, progress=lambda *a, **k: None),
}


# ---------------------------------------------------------------------------------------------------------------
# The library readers


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")   # read_image refuses it itself
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")                       # Pillow's, for bad_exif.jpg
def test_every_image_file_reads_correctly_or_says_why(images):
    wrong = []
    for name, case in images.items():
        try:
            result = video.read_image(case.path)
        except MediaError as exc:
            if case.error is None or case.error not in str(exc):
                wrong.append(f"{name}: MediaError {exc!s:.200}")
            continue
        if case.expect is None or result.dtype != np.uint8 or result.ndim != 3 or not case.expect(result):
            wrong.append(f"{name}: read as {result.dtype} {result.shape}, not as expected")
    assert not wrong, "\n".join(wrong)


def test_every_video_file_reads_correctly_or_says_why(videos):
    wrong = []
    for name, case in videos.items():
        try:
            frames, fps = video.read_video(case.path)
        except MediaError as exc:
            if case.error is None or case.error not in str(exc):
                wrong.append(f"{name}: MediaError {exc!s:.200}")
            continue
        if case.expect is None or frames.dtype != np.uint8 or not case.expect(frames) or not fps > 0:
            wrong.append(f"{name}: read as {frames.dtype} {frames.shape}, not as expected")
    assert not wrong, "\n".join(wrong)


def test_arrays_of_every_kind_are_coerced_or_refused():
    good = picture()
    sixteen = good.astype(np.uint16) * 257                         # 16-bit: the same picture, not white
    assert np.array_equal(video.as_rgb_uint8(sixteen), good)
    assert np.array_equal(video.as_rgb_uint8(sixteen[..., 0]), np.dstack([good[..., 0]] * 3))
    assert np.array_equal(video.as_rgb_uint8(good / 255.0), good)
    assert np.array_equal(video.as_rgb_uint8(Image.fromarray(good).convert("RGBA")), good)
    assert video.as_rgb_uint8(Image.fromarray(good)).flags.writeable
    for bad, reason in [(np.zeros((0, 0, 3), np.uint8), "empty"), (Image.new("RGB", (0, 0)), "empty"),
                        (np.zeros((4, 4, 3), np.uint8), "too small"), (np.zeros((9, 9, 5), np.uint8), "RGB"),
                        (np.full((9, 9), np.inf), "non-finite"), (None, "could not be read"),
                        (Image.new("RGB", (1, 1)), "too small")]:
        with pytest.raises(MediaError, match=reason):
            video.as_rgb_uint8(bad)


# ---------------------------------------------------------------------------------------------------------------
# Every upload handler of every tab


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")                       # Pillow's, for bad_exif.jpg
def test_every_image_upload_handler_gives_a_result_or_a_message(tabs, images):
    good = images["good.png"].path
    wrong = [_judge(tab, name, case, handler, good) for tab, handler in image_handlers(good).items()
             for name, case in images.items()]
    assert not any(wrong), "\n".join(filter(None, wrong))


def test_upright_pictures_reach_every_tab_upright(tabs, images):
    """A phone photo stored sideways with EXIF orientation 6 reaches every tab as every viewer shows it: the
    landscape picture it was taken as, not a portrait one."""
    phone, good = images["phone.jpg"].path, picture()
    assert close(tl.read_photo(phone).full, good)
    assert ib.read_keyframe(phone, "start").size == (W, H) and close(ib.read_keyframe(phone, "start").image, good)
    assert close(mv.read_image_upload(phone).frames[0], video.fit_within(good, mv.work_side()))


def test_every_video_upload_handler_gives_a_result_or_a_message(tabs, videos):
    good = videos["good.mp4"].path
    wrong = [_judge(tab, name, case, handler, good) for tab, handler in VIDEO_HANDLERS.items()
             for name, case in videos.items()]
    assert not any(wrong), "\n".join(filter(None, wrong))


def test_a_phone_video_is_upright_in_every_tab(tabs, videos):
    """The rotated phone clip is portrait (taller than wide) where a tab keeps the aspect, and the vid2vid tab,
    which crops a 2:1 landscape middle out of whatever comes in, reads sky over road (sideways: sky beside road)."""
    phone = videos["phone.mp4"].path
    clip = mv.read_video_upload(phone)
    assert clip.frames.shape[1] > clip.frames.shape[2]
    labels = v2v.read_label_video(phone).labels          # (T, h, w) ids
    assert labels.shape[1:] == v2v.work_size()
    assert (labels[:, 0] == SKY).all() and (labels[:, -1] == ROAD).all()


# ---------------------------------------------------------------------------------------------------------------
# Item 7: one minimum size for every tab, and the messages


def test_one_minimum_size_for_every_tab(tabs, tmp_path):
    """3000x8 was accepted by the inbetween and time-lapse tabs and refused by the painting tab; a 3000x16 strip
    was squashed to 8 pixels by the time-lapse and inbetween tabs and as a style image. Now every upload box
    refuses both, in the same words."""
    square = tmp_path / "square.png"
    Image.fromarray(picture(common.MIN_SIDE, common.MIN_SIDE)).save(square)
    handlers = image_handlers(str(square))
    for h, w, phrase in ((8, 3000, f"at least {common.MIN_SIDE} pixels per side"), (16, 3000, "too thin"),
                         (12, 12, f"at least {common.MIN_SIDE} pixels per side")):
        path = tmp_path / f"{w}x{h}.png"
        Image.fromarray(picture(h, w)).save(path)
        for tab, handler in handlers.items():
            message = _outcome(handler, str(path))[1]
            assert message is not None and phrase in message, f"{tab} / {w}x{h}: {message!r}"
    for tab, handler in handlers.items():                             # the minimum itself is fine everywhere
        assert _outcome(handler, str(square))[1] is None, tab


def test_oversized_video_message_reads_well(tabs, tmp_path):
    huge = video.write_mp4(np.zeros((1, 1600, 2600, 3), np.uint8), tmp_path / "huge.mp4")
    message = _outcome(mv.read_video_upload, str(huge))[1]
    assert "at at most" not in message and f"works at up to {mv.work_side()} pixels" in message


# ---------------------------------------------------------------------------------------------------------------
# Long, 4K and noise videos; odd keyframe pairs


def test_long_4k_and_noise_videos_and_odd_keyframe_pairs(tabs, tmp_path):
    """A video longer than any tab uses is cut, with a note; a 4K one is refused before it is decoded, naming the
    limit; random colours are no label video (they once passed as 13 classes); identical keyframes and keyframes of
    different sizes give clips, not errors."""
    long = video.write_gif(_label_frames(v2v.MAX_FRAMES + 4, 32, 64), tmp_path / "long.gif")
    for tab, handler in VIDEO_HANDLERS.items():
        result, message = _outcome(handler, str(long))
        assert message is None and len(getattr(result, "frames", None) if tab == "painting video"
                                        else result.labels) <= v2v.MAX_FRAMES, tab
    uhd = video.write_mp4(np.zeros((2, 2160, 3840, 3), np.uint8), tmp_path / "uhd.mp4")
    for tab, handler in VIDEO_HANDLERS.items():
        message = _outcome(handler, str(uhd))[1]
        assert message is not None and "megapixels" in message, f"{tab}: {message!r}"
    noise = video.write_mp4(np.random.default_rng(0).integers(0, 256, (3, 64, 128, 3), dtype=np.uint8),
                            tmp_path / "noise.mp4")
    message = _outcome(v2v.read_label_video, str(noise))[1]
    assert message is not None and "does not look like a label video" in message
    assert _outcome(mv.read_video_upload, str(noise))[1] is None          # as a video to paint, noise is fine

    square, wide = tmp_path / "square.png", tmp_path / "wide.png"
    Image.fromarray(picture(64, 64)).save(square)
    Image.fromarray(picture(48, 96)).save(wide)
    for first, second in [(square, square), (square, wide)]:
        start, end = ib.read_keyframe(str(first), "start"), ib.read_keyframe(str(second), "end")
        result, message = _outcome(lambda: ib.inbetween(start, end, None, 2, 0))
        assert message is None and result.samples[0].shape[0] == result.frames

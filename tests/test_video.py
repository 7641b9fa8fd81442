"""video.py: uint8 <-> tensor conventions, MP4/GIF round trips, and refusal of bad input with readable messages."""

import numpy as np
import pytest
import torch
from PIL import Image

from demo_lib import video
from demo_lib.video import MediaError


def test_uint8_tensor_round_trips_are_exact():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = video.image_to_tensor(image)
    assert x.shape == (1, 3, 5, 7) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(video.tensor_to_image(x), image)
    frames = rng.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)
    v = video.frames_to_tensor(frames)
    assert v.shape == (1, 3, 4, 6, 8)
    assert np.array_equal(video.tensor_to_frames(v), frames)
    assert np.array_equal(video.tensor_to_frames(torch.full((3, 1, 2, 2), 5.0)), np.full((1, 2, 2, 3), 255))


def test_to_uint8_rounds_clamps_and_writes_in_place():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 3.0]).reshape(1, 7, 1).expand(3, 7, 1).contiguous()
    expected = np.round(np.clip((x.numpy() + 1) * 127.5, 0, 255)).astype(np.uint8).transpose(1, 2, 0)
    assert np.array_equal(video.to_uint8(x, channel_dim=0), expected)
    out = np.zeros((7, 1, 3), np.uint8)
    scratch = x.clone()
    assert video.to_uint8(scratch, channel_dim=0, out=out, overwrite_input=True) is out
    assert np.array_equal(out, expected)
    assert x[0, 0, 0] == -2.0 and x[0, 6, 0] == 3.0                    # without overwrite_input, x is untouched


def test_fold_time_puts_frame_t_of_clip_b_at_b_times_t_and_unfold_inverts_it():
    B, C, T, H, W = 2, 3, 4, 5, 6
    clips = torch.randn(B, C, T, H, W, dtype=torch.float64)
    frames = video.fold_time(clips)
    assert frames.shape == (B * T, C, H, W) and frames.dtype == clips.dtype and frames.device == clips.device
    for b in range(B):
        for t in range(T):
            assert torch.equal(frames[b * T + t], clips[b, :, t])
    back = video.unfold_time(frames, B)
    assert back.shape == clips.shape and torch.equal(back, clips)
    assert torch.equal(video.fold_time(video.unfold_time(frames, B)), frames)
    assert torch.equal(video.fold_time(clips[:, :, 1:]), frames.view(B, T, C, H, W)[:, 1:].flatten(0, 1))  # views
    assert video.fold_time(torch.zeros(1, 2, 3, 4, 5, dtype=torch.uint8)).dtype == torch.uint8


def test_mp4_and_gif_round_trip(tmp_path):
    t = np.linspace(0, 1, 6)[:, None, None, None]
    frames = (np.ones((6, 33, 47, 3)) * t * 255).astype(np.uint8)   # odd sizes: padded for yuv420p
    mp4 = video.write_mp4(frames, tmp_path / "a.mp4", fps=6)
    back, fps = video.read_video(mp4)
    assert back.shape[0] == 6 and back.shape[1:3] == (34, 48) and fps == pytest.approx(6)
    assert np.abs(back[:, :33, :47].astype(int) - frames).mean() < 4       # lossy, but close
    gif = video.write_gif(frames, tmp_path / "a.gif", fps=6)
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.size == (47, 33)


def test_bad_videos_and_frames_are_refused(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"not a video at all")
    with pytest.raises(MediaError, match="could not be decoded"):
        video.read_video(tmp_path / "x.mp4")
    with pytest.raises(MediaError, match="No such video"):
        video.read_video(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="uint8 frames"):
        video.write_mp4(np.zeros((0, 8, 8, 3), np.uint8), tmp_path / "e.mp4")


def test_images_are_coerced_or_refused_with_reasons(tmp_path):
    gray = np.zeros((20, 30), np.uint8)
    assert video.as_rgb_uint8(gray).shape == (20, 30, 3)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 3] = 0
    assert (video.as_rgb_uint8(rgba) == 255).all()                 # transparent -> white
    assert video.as_rgb_uint8(np.ones((9, 9, 3), np.float32)).max() == 255
    for bad, reason in [(np.zeros((1, 1, 3), np.uint8), "too small"), (np.zeros((0, 5, 3), np.uint8), "empty"),
                        (np.zeros((9, 9, 2), np.uint8), "RGB"), (np.full((9, 9, 3), np.nan), "non-finite"),
                        ("text", "could not be read")]:
        with pytest.raises(MediaError, match=reason):
            video.as_rgb_uint8(bad)
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(MediaError, match="not an image"):
        video.read_image(tmp_path / "t.png")
    Image.new("RGB", (30, 20)).save(tmp_path / "ok.jpg")
    truncated = (tmp_path / "ok.jpg").read_bytes()[:60]
    (tmp_path / "cut.jpg").write_bytes(truncated)
    with pytest.raises(MediaError):
        video.read_image(tmp_path / "cut.jpg")


def test_huge_images_are_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(video, "MAX_IMAGE_PIXELS", 10_000)
    Image.new("RGB", (200, 100)).save(tmp_path / "big.png")
    with pytest.raises(MediaError, match="too large"):
        video.read_image(tmp_path / "big.png")


# ---------------------------------------------------------------------------------------------------------------
# Files as phones and editors make them (issue 28)


def _quadrants(h: int = 24, w: int = 40) -> np.ndarray:
    """Four flat colours, uint8 (h, w, 3): no rotation or mirror of it looks like itself."""
    out = np.zeros((h, w, 3), np.uint8)
    out[: h // 2, : w // 2], out[: h // 2, w // 2:] = (220, 30, 30), (30, 200, 40)
    out[h // 2:, : w // 2], out[h // 2:, w // 2:] = (40, 40, 210), (245, 245, 245)
    return out


# EXIF 2.3, Orientation (0x0112): how the stored pixels relate to the picture as it is meant to be seen. Stored =
# STORED[o](upright); e.g. 6: "the 0th row is the visual right-hand side, the 0th column the visual top".
STORED = {1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
          5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, 1),
          7: lambda a: np.rot90(a, 2).transpose(1, 0, 2), 8: lambda a: np.rot90(a, -1)}


def test_exif_orientation_is_applied(tmp_path):
    upright = _quadrants()
    for orientation, stored in STORED.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.png"                       # lossless, so the pixels compare exactly
        Image.fromarray(np.ascontiguousarray(stored(upright))).save(path, exif=exif)
        assert np.array_equal(video.read_image(path), upright), f"orientation {orientation}"
    jpeg = tmp_path / "phone.jpg"                                      # as a phone writes it
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(STORED[6](upright))).save(jpeg, exif=exif, quality=95)
    assert video.read_image(jpeg).shape == upright.shape


def test_unreadable_exif_keeps_the_picture_as_stored(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.fromarray(_quadrants()).save(path)

    def broken(image, in_place=False):
        raise SyntaxError("not a TIFF file")

    monkeypatch.setattr(video.ImageOps, "exif_transpose", broken)
    with pytest.warns(UserWarning, match="EXIF orientation ignored"):
        assert np.array_equal(video.read_image(path), _quadrants())


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    """Pillow's convert('RGB') clips I;16 values to 255: a 16-bit PNG came out white."""
    ramp = np.linspace(0, 65535, 24 * 40).round().astype(np.uint16).reshape(24, 40)
    expected = np.dstack([np.round(ramp / 257).astype(np.uint8)] * 3)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode == "I;16"
    assert np.array_equal(video.read_image(tmp_path / "g16.png"), expected)
    assert np.array_equal(video.as_rgb_uint8(ramp), expected)                       # the array path too
    Image.fromarray(ramp.astype(np.int32)).save(tmp_path / "i32.tif")               # mode I holding 16-bit values
    assert np.array_equal(video.read_image(tmp_path / "i32.tif"), expected)
    Image.fromarray((ramp // 257).astype(np.int32)).save(tmp_path / "i8.tif")       # mode I holding 8-bit values
    assert np.array_equal(video.read_image(tmp_path / "i8.tif"), np.dstack([(ramp // 257).astype(np.uint8)] * 3))
    Image.fromarray(ramp.astype(np.float32) / 65535).save(tmp_path / "f.tif")       # floats in [0, 1]
    assert np.abs(video.read_image(tmp_path / "f.tif").astype(int) - expected).max() <= 1


def test_alpha_is_composited_exactly_and_in_little_memory(tmp_path):
    # Every (value, alpha) pair: the integer compositing gives the float formula's result.
    value, alpha = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = np.stack([value, value, value, alpha], axis=-1).astype(np.uint8)
    expected = np.round(value * (alpha / 255) + 255 * (1 - alpha / 255)).astype(np.uint8)
    assert np.array_equal(video.as_rgb_uint8(rgba)[..., 0], expected)
    # A 2-megapixel RGBA PNG: the Python/numpy allocations while converting it stay near the result's own 3 bytes
    # a pixel (the full-size float32 blend took over 30).
    import tracemalloc

    h, w = 1024, 2048
    big = np.zeros((h, w, 4), np.uint8)
    big[..., 0] = np.arange(w) % 256
    big[..., 3] = np.arange(h)[:, None] % 256
    Image.fromarray(big).save(tmp_path / "big.png", compress_level=1)
    tracemalloc.start()
    try:
        out = video.read_image(tmp_path / "big.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (h, w, 3) and out.flags.writeable
    assert peak < 8 * h * w, f"{peak / (h * w):.1f} bytes per pixel"


def write_rotated_mp4(path, stored: np.ndarray, degrees: int, hflip: bool = False, vflip: bool = False):
    """uint8 (T, H, W, 3) frames plus a display matrix, as a phone records: FFmpeg's convention (turn `degrees`
    counter-clockwise, then mirror)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height = stored.shape[2], stored.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        stream.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        for frame in stored:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_phone_video_is_read_upright(tmp_path):
    """A phone held upright stores landscape frames and a display matrix that turns them 90 degrees clockwise
    (ffprobe: 'rotation of -90.00 degrees'); players show it portrait."""
    upright = np.stack([_quadrants(40, 24)] * 2)                        # portrait (T, 40, 24, 3)
    stored = np.rot90(upright, 1, axes=(1, 2))                          # what the sensor recorded: (T, 24, 40, 3)
    frames, _ = video.read_video(write_rotated_mp4(tmp_path / "phone.mp4", stored, -90))
    assert frames.shape == upright.shape and np.abs(frames.astype(int) - upright).mean() < 3


def test_video_orientations_match_ffmpeg(tmp_path):
    """All eight quarter-turn and mirror orientations read as FFmpeg's own command-line tool shows them (its
    autorotate), taken here as the reference; skipped without the ffmpeg binary of imageio-ffmpeg."""
    import subprocess

    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    stored = np.stack([_quadrants(16, 32)] * 2)
    for degrees in (0, 90, 180, 270):
        for hflip in (False, True):
            path = write_rotated_mp4(tmp_path / f"r{degrees}{hflip}.mp4", stored, degrees, hflip=hflip)
            frames, _ = video.read_video(path)
            raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                                  "-"], capture_output=True, check=True, timeout=60).stdout
            reference = np.frombuffer(raw, np.uint8).reshape(frames.shape)     # fails if the shape differs
            assert np.abs(frames.astype(int) - reference).max() <= 8, (degrees, hflip)
            assert frames.shape[1:3] == ((16, 32) if degrees % 180 == 0 else (32, 16))


def test_empty_and_unreadable_files_say_so(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    (tmp_path / "e.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match=r"e.png is empty \(0 bytes\)"):
        video.read_image(tmp_path / "e.png")
    with pytest.raises(MediaError, match=r"e.mp4 is empty \(0 bytes\)"):
        video.read_video(tmp_path / "e.mp4")
    data = video.write_mp4(np.zeros((2, 16, 16, 3), np.uint8), tmp_path / "a.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])                   # cut before its index
    with pytest.raises(MediaError, match="cut short"):
        video.read_video(tmp_path / "cut.mp4")

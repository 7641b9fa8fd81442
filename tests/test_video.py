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

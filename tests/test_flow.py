"""demo_lib.flow: warping conventions, synthetic flow, DIS flow, occlusion masks, visualisation."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from demo_lib.flow import (dis_flow, dis_flow_video, flow_to_rgb, flow_to_tensor, interpolate_frames,
                           occlusion_mask, random_smooth_flow, warp)
from demo_lib.video import image_to_tensor


def constant_flow(b, h, w, dx, dy):
    return torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1).expand(b, 2, h, w).contiguous()


def smooth_image(h, w, dx=0.0, dy=0.0):
    """A smooth analytic picture f(x + dx, y + dy), (1, 3, H, W), so shifts of it are known exactly."""
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64) + dy, torch.arange(w, dtype=torch.float64) + dx,
                          indexing="ij")
    chans = [torch.sin(2 * np.pi * x / 37), torch.cos(2 * np.pi * y / 29), torch.sin(2 * np.pi * (x + y) / 53)]
    return torch.stack(chans)[None].float()


@pytest.mark.parametrize("size", [(64, 64), (37, 101), (1, 5)])
@pytest.mark.parametrize("mode", ["border", "zeros"])
def test_zero_flow_warp_is_exact_identity(size, mode):
    img = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.equal(warp(img, torch.zeros(2, 2, *size), padding_mode=mode), img)


def test_integer_shift_matches_roll_in_the_interior():
    img = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(1))
    out = warp(img, constant_flow(1, 40, 50, dx=3, dy=-2))  # out[y, x] = img[y - 2, x + 3]
    rolled = torch.roll(img, shifts=(2, -3), dims=(2, 3))
    assert torch.equal(out[..., 2:, :-3], rolled[..., 2:, :-3])


def test_subpixel_translation_of_smooth_image():
    dx, dy = 0.3, -0.7
    out = warp(smooth_image(48, 64), constant_flow(1, 48, 64, dx, dy))
    target = smooth_image(48, 64, dx, dy)  # analytically shifted
    err = (out - target)[..., 2:-2, 2:-2].abs().max().item()
    assert err < 0.01  # bilinear interpolation error of a smooth picture
    assert err < 0.1 * (smooth_image(48, 64) - target)[..., 2:-2, 2:-2].abs().max().item()


def test_warp_is_differentiable_in_image_and_flow():
    img = torch.rand(1, 3, 16, 16, requires_grad=True)
    flow = (torch.rand(1, 2, 16, 16) * 2).requires_grad_()
    warp(img, flow).sum().backward()
    assert torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0
    assert torch.isfinite(flow.grad).all() and flow.grad.abs().sum() > 0


def test_random_smooth_flow_bounded_smooth_and_seeded():
    make = lambda seed: random_smooth_flow(6, 64, 80, max_shift=4.0,  # noqa: E731
                                           generator=torch.Generator().manual_seed(seed))
    flow = make(0)
    assert flow.shape == (6, 2, 64, 80)
    magnitude = flow.norm(dim=1)
    assert magnitude.max() <= 4.0 + 1e-5
    assert magnitude.mean() > 0.5  # not trivially zero
    # Smooth: neighbouring vectors nearly equal (per-pixel change ~6 % of the magnitude; white noise gives ~110 %).
    gradient = ((flow[..., 1:] - flow[..., :-1]).abs().mean() + (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean()) / 2
    assert gradient / flow.abs().mean() < 0.1
    assert torch.equal(make(0), flow)
    assert not torch.allclose(make(1), flow)


@pytest.fixture(scope="module")
def shifted_pair():
    """A 256x256 crop of skimage's astronaut and the same view moved by a known sub-pixel offset."""
    img = skimage.data.astronaut()
    tx, ty = 2.5, -1.5
    # WARP_INVERSE_MAP: dst(x, y) = src(x + tx, y + ty), i.e. b(p) = a(p + (tx, ty)): flow = (tx, ty) everywhere.
    moved = cv2.warpAffine(img, np.float32([[1, 0, tx], [0, 1, ty]]), img.shape[1::-1],
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return np.ascontiguousarray(img[100:356, 100:356]), np.ascontiguousarray(moved[100:356, 100:356]), (tx, ty)


def test_dis_flow_recovers_translation_and_reconstructs(shifted_pair):
    a, b, (tx, ty) = shifted_pair
    flow = dis_flow(a, b)
    assert flow.shape == (256, 256, 2) and flow.dtype == np.float32
    median = np.median(flow[16:-16, 16:-16].reshape(-1, 2), axis=0)
    assert abs(median[0] - tx) < 0.5 and abs(median[1] - ty) < 0.5
    ta, tb = image_to_tensor(a), image_to_tensor(b)
    warped_err = (warp(ta, flow_to_tensor(flow)) - tb)[..., 16:-16, 16:-16].abs().mean()
    plain_err = (ta - tb)[..., 16:-16, 16:-16].abs().mean()
    assert warped_err < 0.2 * plain_err


def test_dis_flow_video_and_flow_to_tensor_shapes(shifted_pair):
    a, b, _ = shifted_pair
    flows = dis_flow_video(np.stack([a, b, a]), preset="ultrafast")
    assert flows.shape == (2, 256, 256, 2)
    assert flow_to_tensor(flows).shape == (2, 2, 256, 256)
    assert flow_to_tensor(flows[0]).shape == (1, 2, 256, 256)
    assert torch.equal(flow_to_tensor(flows)[1, 0], torch.from_numpy(flows[1, ..., 0]))
    with pytest.raises(ValueError):
        dis_flow(a, b[:100])


def test_occlusion_mask_consistent_and_inconsistent_pairs():
    fw, bw = constant_flow(2, 20, 30, 3.0, -2.0), constant_flow(2, 20, 30, -3.0, 2.0)
    assert torch.equal(occlusion_mask(fw, bw, mark_outside=False), torch.ones(2, 1, 20, 30))
    mask = occlusion_mask(fw, bw)  # pixels whose source p + (3, -2) lies outside the frame are invalid
    assert mask[..., 2:, :-3].min() == 1 and mask[..., :2, :].max() == 0 and mask[..., -3:].max() == 0
    assert occlusion_mask(fw, torch.zeros_like(bw), mark_outside=False).max() == 0  # |f| = 3.6 px, no return


def test_flow_to_rgb_colours():
    flow = np.float32([[[4, 0], [-4, 0], [0, 0], [1, 0]]])
    rgb = flow_to_rgb(flow)
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 0, 0]  # right = red at full saturation
    assert rgb[0, 1].tolist() == [0, 255, 255]  # left = cyan
    assert rgb[0, 2].tolist() == [255, 255, 255]  # no motion = white
    assert rgb[0, 3, 1] > 150  # a quarter of the maximum: pale red


def test_flow_interpolation_moves_halfway_where_blending_ghosts():
    img = skimage.data.astronaut()
    shift = lambda tx: cv2.warpAffine(img, np.float32([[1, 0, tx], [0, 1, 0]]), img.shape[1::-1],  # noqa: E731
                                      flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)[100:228, 100:228]
    start, middle, end = shift(0.0), shift(4.0), shift(8.0)              # end(p) = start(p + (8, 0))
    clip = interpolate_frames(start, end, frames=5)
    assert clip.shape == (5, 128, 128, 3) and clip.dtype == np.uint8
    assert np.array_equal(clip[0], start) and np.array_equal(clip[-1], end)
    inner = (slice(16, -16), slice(16, -16))
    flow_err = np.abs(clip[2][inner].astype(float) - middle[inner]).mean()
    blend = (start.astype(float) + end) / 2
    blend_err = np.abs(blend[inner] - middle[inner]).mean()
    assert flow_err < 0.5 * blend_err, (flow_err, blend_err)
    with pytest.raises(ValueError, match="frames"):
        interpolate_frames(start, end, frames=1)

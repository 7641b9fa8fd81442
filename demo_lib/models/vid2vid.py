"""Video-to-Video Synthesis (Wang et al., NeurIPS 2018, arXiv 1808.06601): label-map video in, street video out.

Frame t is made from the label maps of frames t-L..t and the L frames it made before (L = 2, a Markov chain):

    x_t = (1 - m_t) * warp(x_{t-1}, w_t) + m_t * h_t                                           (paper, eq. 4)

w_t is a flow from frame t back into frame t-1 (pixels, `flow.warp` convention), m_t in (0, 1) an occlusion mask
and h_t a hallucinated image. Where the past frame can be moved into place, it is; only what is newly seen is
painted. Foreground classes (cars, people, ...) move in ways a flow from the labels predicts badly, so a separate
single-frame branch paints them (the foreground/background prior, eq. 5):

    x_t = k_t * f_t + (1 - k_t) * [(1 - m_t) * warp(x_{t-1}, w_t) + m_t * h_t],   k_t = foreground mask of labels

Reading guide (top to bottom):
  Vid2VidConfig               every setting, with its default
  semantic_maps               label ids -> one-hot + instance edges + style features, per frame
  Vid2VidStyleEncoder         E: real frame -> features averaged per instance (multimodal synthesis, pix2pixHD)
  Vid2VidGlobalGenerator      label and past-frame encoders summed, then an image head and a flow head
  Vid2VidLocalEnhancer        coarse-to-fine: one more scale at twice the resolution, adding the coarse features
  Vid2VidForegroundGenerator  single-frame branch for the foreground classes
  Vid2VidGenerator            G: one step, eq. 4 and 5; `unroll` runs it over a sequence
  (image and video Ds)        image D: projected.ProjectedDiscriminator (labels-conditional heads on frozen
                              EfficientNet-Lite0 features) or the paper's layers.MultiscalePatchDiscriminator
                              (labels + frame); video D: PatchGANs on 3 frames + 2 flows at several frame rates
  Vid2VidObjective            G phase, then D phase (the paper's order); LSGAN, feature matching, perceptual,
                              flow and warp losses
  style clustering            per-class K-means of E's features, stored in G, sampled at inference
  Vid2VidPipeline             `generate(labels, instances, seed)`; never builds discriminators
  street_scores, evaluate     the paper's measures on held-out video, next to the per-frame baseline
  presets, finalize, SPEC     tiny / demo / demo_per_frame / demo_patch_d / paper; style clusters stored at export

Tensors: frames (B, 3, T, H, W) in [-1, 1]; labels (B, T, H, W) long ids; flows (B, 2, T-1, H, W), where flows
[:, :, t-1] carries frame t-1 onto frame t.

Deviations from the paper and the official code, all switchable in the config:
  * First frame: the official code can use a separate image generator; here the history before the first frame is
    zeros ("no_first_img" in the official options), so one network makes every frame and the first one is pure
    hallucination (the mask learns to be 1 where there is nothing to warp). `generate(first_frame=...)` can start
    from a real frame instead.
  * The image D is a projected discriminator (Sauer et al. 2021, with DiffAugment, Zhao et al. 2020) in `demo`:
    at equal CPU time it beat the paper's PatchGAN (`d_type="patch"`, the `demo_patch_d` and `paper` presets);
    its image feature-matching term is off (augmentation draws differ between real and fake).
  * The perceptual loss uses EfficientNet-Lite0 ImageNet features instead of VGG19 (no VGG weights offline).
  * The reference flow is OpenCV DIS instead of FlowNet2 (no custom CUDA ops, nothing to download).
  * Instance norm instead of the official batch norm with batch size 1; layer widths are ours (see presets).
    Convolutions on the label maps (~40 one-hot channels per frame) have 3x3 stems instead of 7x7: on a CPU
    the 7x7 stems alone cost more than the rest of the generator.
  * The video D's frame rates are 1, `video_step_base`, ... (the paper: 1, 3, 9; `paper` preset); short CPU
    training sequences cannot hold frames 9 apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses
from ..config import TrainConfig, at_least, check_ranges, loss_weights, multiple_of, positive, smoke_test_training
from ..flow import compose_flows, warp
from ..layers import ConvBlock2d, MultiscalePatchDiscriminator, ResBlock2d, UpBlock2d, pad_to_multiple, patch_logits
from ..projected import ProjectedDiscriminator
from ..spec import ModelSpec, pipeline_loader
from ..trainer import Phase
from ..video import fold_time, tensor_to_frames, unfold_time

PRECISIONS = ("float32", "bfloat16")                     # inference arithmetic (Vid2VidPipeline.synthesize)
D_TYPES = ("patch", "projected")                          # image discriminators (Vid2VidConfig.d_type)
NUM_LABELS = 35                                            # Cityscapes ids 0..34 (data.cityscapes)
FOREGROUND_IDS = (24, 25, 26, 27, 28, 31, 32, 33)          # person, rider, car, truck, bus, train, motorcycle, bicycle


@dataclasses.dataclass(frozen=True)
class Vid2VidConfig:
    height: int = 128               # training resolution of the finest scale; the nets are fully convolutional
    width: int = 256
    frames: int = 4                 # frames per training sequence (the paper grows this during training)
    num_labels: int = NUM_LABELS
    instance_edges: bool = True     # a boundary channel from the instance map (pix2pixHD)
    past_frames: int = 2            # L; 0 with use_flow=False is the per-frame baseline (pix2pixHD frame by frame)
    use_flow: bool = True           # flow head, mask and warping (eq. 4); False: x_t = h_t
    foreground: bool = True         # separate branch for the foreground classes (eq. 5)
    g_channels: int = 24            # global generator width at its full resolution, doubled per downsampling
    g_downsamples: int = 3
    g_res_blocks: int = 6           # the label encoder gets blocks - blocks // 2, each head blocks // 2
    local_enhancers: int = 1        # coarse-to-fine: extra scales, each at twice the resolution (0: global only)
    local_res_blocks: int = 2
    fg_channels: int = 16
    flow_gain: float = 8.0          # flow head output x gain = pixels at the global generator's resolution
    style_channels: int = 3         # E's feature channels per instance (0 switches multimodal synthesis off)
    style_encoder_channels: int = 16
    style_clusters: int = 10        # K-means centres per class
    d_type: str = "patch"           # image D: "patch" (the paper's multi-scale PatchGAN) or "projected" (heads on
                                    # frozen EfficientNet-Lite0 features with DiffAugment: projected.py, ours)
    d_channels: int = 32            # patch: first layer's width; projected: the random projection's first level
    d_layers: int = 3
    d_scales: int = 2               # image D: PatchGANs at 1, 1/2, ... resolution
    video_d_scales: int = 2         # temporal scales of the video D (frame steps 1, base, base^2, ...)
    video_step_base: int = 2
    video_d_frames: int = 3         # K: frames the video D sees at once (plus K-1 flows)
    gan_loss: str = "lsgan"
    lambda_image: float = 1.0
    lambda_video: float = 1.0       # 0 switches the video D off (the per-frame baseline)
    lambda_feat: float = 10.0       # feature matching, both Ds
    lambda_perceptual: float = 10.0
    lambda_flow: float = 10.0       # |w - w_ref| where the reference flow is reliable
    lambda_warp: float = 10.0       # |warp(real_{t-1}, w) - real_t|: the flow head warps real frames right
    lambda_temporal: float = 10.0   # |x_t - warp(x_{t-1}, w_ref)|: generated frames follow the real video's flow
    lambda_mask: float = 1.0        # mean mask after the first frame: warp where warping works
    flow_confidence: float = 0.02   # w_ref is trusted where |real_t - warp(real_{t-1}, w_ref)|^2 < this (in [0, 1])

    def __post_init__(self):
        check_ranges(self, {
            "height": multiple_of(self.multiple), "width": multiple_of(self.multiple), "frames": at_least(1),
            "past_frames": at_least(0), "g_channels": at_least(1), "g_downsamples": at_least(1),
            "g_res_blocks": at_least(0), "local_enhancers": at_least(0), "local_res_blocks": at_least(0),
            "fg_channels": at_least(1), "style_channels": at_least(0), "style_encoder_channels": at_least(1),
            "style_clusters": at_least(1), "d_channels": at_least(1), "d_layers": at_least(1), "d_scales": at_least(1),
            "video_d_scales": at_least(0), "video_step_base": at_least(1), "video_d_frames": at_least(2),
            "flow_confidence": positive(), **loss_weights(self)})
        if self.d_type not in D_TYPES:
            raise ValueError(f"d_type must be one of {D_TYPES}, got {self.d_type!r}")

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** (self.g_downsamples + self.local_enhancers)

    @property
    def semantic_channels(self) -> int:
        """Channels describing one frame's labels: one-hot, instance edges, style features."""
        return self.num_labels + int(self.instance_edges) + self.style_channels

    @property
    def temporal_steps(self) -> tuple[int, ...]:
        """Frame steps of the video D's temporal scales, e.g. (1, 2) or the paper's (1, 3, 9)."""
        return tuple(self.video_step_base ** s for s in range(self.video_d_scales)) if self.lambda_video else ()


# ---------------------------------------------------------------------------------------------------------------
# Inputs: what the generator is told about each frame


def region_ids(labels: torch.Tensor, instances: torch.Tensor | None, num_labels: int) -> torch.Tensor:
    """One id per region: the class id for stuff, num_labels + instance id for objects (instances > 0)."""
    if instances is None:
        return labels
    return torch.where(instances > 0, num_labels + instances, labels)


def region_edges(regions: torch.Tensor) -> torch.Tensor:
    """(..., H, W) ids -> float (..., H, W): 1 where a 4-neighbour belongs to another region (pix2pixHD edges)."""
    edge = torch.zeros_like(regions, dtype=torch.bool)
    dx = regions[..., :, 1:] != regions[..., :, :-1]
    dy = regions[..., 1:, :] != regions[..., :-1, :]
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge.float()


def foreground_mask(labels: torch.Tensor) -> torch.Tensor:
    """(..., H, W) ids -> float (..., H, W): 1 on the foreground classes."""
    return torch.isin(labels, torch.tensor(FOREGROUND_IDS, device=labels.device)).float()


def semantic_maps(cfg: Vid2VidConfig, labels: torch.Tensor, instances: torch.Tensor | None = None,
                  style: torch.Tensor | None = None) -> torch.Tensor:
    """labels (B, T, H, W) long, instances (B, T, H, W) or None, style (B, T, F, H, W) or None
    -> (B, T, S, H, W) with S = cfg.semantic_channels: one-hot labels, instance edges, style features."""
    if int(labels.max()) >= cfg.num_labels or int(labels.min()) < 0:
        raise ValueError(f"label ids must be in [0, {cfg.num_labels - 1}], got [{int(labels.min())}, "
                         f"{int(labels.max())}]")
    parts = [F.one_hot(labels, cfg.num_labels).movedim(-1, 2).float()]
    if cfg.instance_edges:
        parts.append(region_edges(region_ids(labels, instances, cfg.num_labels)).unsqueeze(2))
    if cfg.style_channels:
        B, T, H, W = labels.shape
        parts.append(style if style is not None else labels.new_zeros((B, T, cfg.style_channels, H, W)).float())
    return torch.cat(parts, dim=2)


def region_average(features: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Average (B, F, H, W) features over each region of (B, H, W) ids, broadcast back: (B, F, H, W)."""
    B, C, H, W = features.shape
    n = int(regions.max()) + 1
    key = (regions + n * torch.arange(B, device=regions.device).view(B, 1, 1)).reshape(-1)   # unique per sample
    flat = features.permute(0, 2, 3, 1).reshape(-1, C)
    sums = flat.new_zeros(B * n, C).index_add_(0, key, flat)
    counts = torch.bincount(key, minlength=B * n).clamp_min(1).to(flat.dtype)
    return (sums / counts[:, None])[key].reshape(B, H, W, C).permute(0, 3, 1, 2)


class Vid2VidStyleEncoder(nn.Module):
    """E (pix2pixHD's feature encoder): real frame -> low-dimensional features, averaged over each instance.

    Trained with G (its features enter G's input); afterwards, per-class K-means of its features are the styles that
    inference samples from (`cluster_styles`).
    """

    def __init__(self, cfg: Vid2VidConfig, downsamples: int = 3):
        super().__init__()
        c = cfg.style_encoder_channels
        widths = [c * 2**i for i in range(downsamples + 1)]
        layers: list[nn.Module] = [ConvBlock2d(3, c, 7)]
        layers += [ConvBlock2d(widths[i], widths[i + 1], 3, 2) for i in range(downsamples)]
        layers += [UpBlock2d(widths[i + 1], widths[i]) for i in reversed(range(downsamples))]
        layers += [nn.Conv2d(c, cfg.style_channels, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """image (B, 3, H, W), regions (B, H, W) -> (B, F, H, W), constant on each region."""
        padded, (ph, pw) = pad_to_multiple(image, 8)
        feats = self.net(padded)[..., : image.shape[-2], : image.shape[-1]]
        return region_average(feats, regions)


# ---------------------------------------------------------------------------------------------------------------
# Generator


def _encoder(in_ch: int, c: int, downsamples: int, blocks: int, stem: int = 7) -> nn.Sequential:
    """A stem conv, stride-2 convs doubling the width, residual blocks: (B, in, H, W) -> (B, c*2^d, H/2^d, W/2^d)."""
    layers: list[nn.Module] = [ConvBlock2d(in_ch, c, stem)]
    layers += [ConvBlock2d(c * 2**i, c * 2 ** (i + 1), 3, 2) for i in range(downsamples)]
    layers += [ResBlock2d(c * 2**downsamples) for _ in range(blocks)]
    return nn.Sequential(*layers)


def _decoder(c: int, upsamples: int, blocks: int) -> nn.Sequential:
    """Residual blocks then upsampling halving the width: (B, c*2^u, h, w) -> (B, c, h*2^u, w*2^u)."""
    layers: list[nn.Module] = [ResBlock2d(c * 2**upsamples) for _ in range(blocks)]
    layers += [UpBlock2d(c * 2 ** (i + 1), c * 2**i) for i in reversed(range(upsamples))]
    return nn.Sequential(*layers)


class Vid2VidGlobalGenerator(nn.Module):
    """The coarsest scale: label encoder + past-frame encoder, summed; an image head and a flow head.

    Returns feature maps (image, flow) at its input resolution; the output layers sit at the finest scale.
    """

    def __init__(self, cfg: Vid2VidConfig):
        super().__init__()
        c, d, nb = cfg.g_channels, cfg.g_downsamples, cfg.g_res_blocks
        self.labels = _encoder(cfg.semantic_channels * (cfg.past_frames + 1), c, d, nb - nb // 2, stem=3)
        self.past = _encoder(3 * cfg.past_frames, c, d, 0) if cfg.past_frames else None
        self.image_head = _decoder(c, d, nb // 2)
        self.flow_head = _decoder(c, d, nb // 2) if cfg.use_flow and cfg.past_frames else None

    def forward(self, semantic: torch.Tensor, past: torch.Tensor | None):
        x = self.labels(semantic)
        if self.past is not None:
            x = x + self.past(past)
        return self.image_head(x), (self.flow_head(x) if self.flow_head is not None else None)


class Vid2VidLocalEnhancer(nn.Module):
    """One finer scale (pix2pixHD local enhancer): encode at 2x, add the coarser scale's features, decode."""

    def __init__(self, cfg: Vid2VidConfig, channels: int):
        super().__init__()
        semantic_in, past_in = cfg.semantic_channels * (cfg.past_frames + 1), 3 * cfg.past_frames
        self.labels = _encoder(semantic_in, channels, 1, 0, stem=3)
        self.past = _encoder(past_in, channels, 1, 0) if cfg.past_frames else None
        self.image_head = _decoder(channels, 1, cfg.local_res_blocks)
        self.flow_head = _decoder(channels, 1, cfg.local_res_blocks) if cfg.use_flow and cfg.past_frames else None

    def forward(self, semantic, past, coarse_image, coarse_flow):
        x = self.labels(semantic)
        if self.past is not None:
            x = x + self.past(past)
        image = self.image_head(x + coarse_image)
        return image, (self.flow_head(x + coarse_flow) if self.flow_head is not None else None)


class Vid2VidForegroundGenerator(nn.Module):
    """Single-frame branch for foreground objects: the current frame's semantic maps -> an image (B, 3, H, W)."""

    def __init__(self, cfg: Vid2VidConfig, downsamples: int = 3, blocks: int = 2):
        super().__init__()
        c = cfg.fg_channels
        self.net = nn.Sequential(_encoder(cfg.semantic_channels, c, downsamples, blocks, stem=3),
                                 _decoder(c, downsamples, 0),
                                 nn.Conv2d(c, 3, 7, padding=3, padding_mode="reflect"), nn.Tanh())

    def forward(self, semantic: torch.Tensor) -> torch.Tensor:
        return self.net(semantic)


@dataclasses.dataclass
class Vid2VidStep:
    """One generated frame and its parts, each (B, C, H, W)."""

    image: torch.Tensor                      # x_t, the output
    hallucinated: torch.Tensor               # h_t
    flow: torch.Tensor | None = None         # w_t (pixels), on frame t, pointing into frame t-1
    mask: torch.Tensor | None = None         # m_t: 1 = hallucinated, 0 = warped from the previous frame
    foreground: torch.Tensor | None = None   # f_t


class Vid2VidGenerator(nn.Module):
    """G: one step of the sequential generator (eq. 4, 5) at every scale; `unroll` below runs a whole sequence.

    Also holds the per-class style centres (buffers, filled by `cluster_styles` after training) so that the shipped
    weights file is all inference needs.
    """

    def __init__(self, cfg: Vid2VidConfig):
        super().__init__()
        self.cfg = cfg
        self.global_g = Vid2VidGlobalGenerator(cfg)
        self.enhancers = nn.ModuleList(Vid2VidLocalEnhancer(cfg, cfg.g_channels // 2**s)
                                       for s in range(1, cfg.local_enhancers + 1))
        out_ch = cfg.g_channels // 2**cfg.local_enhancers
        self.to_image = nn.Sequential(nn.Conv2d(out_ch, 3, 7, padding=3, padding_mode="reflect"), nn.Tanh())
        self.warps = cfg.use_flow and cfg.past_frames > 0
        if self.warps:
            self.to_flow = nn.Conv2d(out_ch, 2, 3, padding=1, padding_mode="reflect")
            self.to_mask = nn.Conv2d(out_ch, 1, 3, padding=1, padding_mode="reflect")
        self.foreground = Vid2VidForegroundGenerator(cfg) if cfg.foreground else None
        self.register_buffer("style_centers", torch.zeros(cfg.num_labels, cfg.style_clusters, cfg.style_channels))
        self.register_buffer("style_counts", torch.zeros(cfg.num_labels, dtype=torch.long))   # valid centres

    def forward(self, semantic: torch.Tensor, past: torch.Tensor | None, fg_mask: torch.Tensor) -> Vid2VidStep:
        """semantic (B, L+1, S, H, W) for frames t-L..t; past (B, L, 3, H, W) frames t-L..t-1 (or None when L=0);
        fg_mask (B, 1, H, W). H, W multiples of cfg.multiple."""
        cfg = self.cfg
        sem = semantic.flatten(1, 2)
        prev = past.flatten(1, 2) if past is not None else None
        n = cfg.local_enhancers

        def at_scale(x, s):  # the inputs of scale s (0 = finest) at 1/2^s resolution
            return x if x is None or s == 0 else F.avg_pool2d(x, 2**s)

        image_f, flow_f = self.global_g(at_scale(sem, n), at_scale(prev, n))
        for i, enhancer in enumerate(self.enhancers):
            s = n - 1 - i
            image_f, flow_f = enhancer(at_scale(sem, s), at_scale(prev, s), image_f, flow_f)
        hallucinated = self.to_image(image_f)
        step = Vid2VidStep(image=hallucinated, hallucinated=hallucinated)
        if self.warps:
            step.flow = self.to_flow(flow_f) * (cfg.flow_gain * 2**n)     # pixels at this (finest) resolution
            step.mask = torch.sigmoid(self.to_mask(flow_f))
            step.image = (1 - step.mask) * warp(past[:, -1], step.flow) + step.mask * hallucinated
        if self.foreground is not None:
            step.foreground = self.foreground(semantic[:, -1])
            step.image = fg_mask * step.foreground + (1 - fg_mask) * step.image
        return step


def unroll(generator: Callable[..., Vid2VidStep], past_frames: int, semantic: torch.Tensor, fg_mask: torch.Tensor,
           first: torch.Tensor | None = None,
           callback: Callable[[int, Vid2VidStep], None] | None = None) -> list[Vid2VidStep]:
    """Generate frames 0..T-1 in order with `generator` (a Vid2VidGenerator, or its DDP wrapper).

    semantic (B, T, S, H, W), fg_mask (B, T, 1, H, W). The history before frame 0 is zeros (labels and frames), or
    `first` (B, 3, H, W) as the frame before it. Past frames enter the next steps detached: gradients flow through
    one step only, as in the official code (max_frames_backpropagate = 1), so memory does not grow with T.
    """
    L = past_frames
    B, T, S, H, W = semantic.shape
    sem_history = [torch.zeros_like(semantic[:, 0])] * L
    frame_history = [semantic.new_zeros(B, 3, H, W)] * L
    if first is not None and L:
        frame_history[-1] = first
    steps = []
    for t in range(T):
        window = torch.stack(sem_history + [semantic[:, t]], dim=1)
        step = generator(window, torch.stack(frame_history, dim=1) if L else None, fg_mask[:, t])
        steps.append(step)
        if callback is not None:
            callback(t, step)
        if L:
            sem_history = sem_history[1:] + [semantic[:, t]]
            frame_history = frame_history[1:] + [step.image.detach()]
    return steps


# ---------------------------------------------------------------------------------------------------------------
# Discriminators


def build_nets(cfg: Vid2VidConfig) -> nn.ModuleDict:
    """G (with E when multimodal), the image D and one video D per temporal scale."""
    nets = nn.ModuleDict({"G": Vid2VidGenerator(cfg)})
    if cfg.style_channels:
        nets["E"] = Vid2VidStyleEncoder(cfg)
    cond = cfg.num_labels + int(cfg.instance_edges)
    if cfg.d_type == "projected":
        nets["D_image"] = ProjectedDiscriminator(cond, cfg.d_channels, head_channels=2 * cfg.d_channels)
    else:
        nets["D_image"] = MultiscalePatchDiscriminator(cond + 3, cfg.d_channels, cfg.d_layers, cfg.d_scales)
    for s, _ in enumerate(cfg.temporal_steps):
        k = cfg.video_d_frames
        nets[f"D_video{s}"] = MultiscalePatchDiscriminator(3 * k + 2 * (k - 1), cfg.d_channels, cfg.d_layers, 1)
    return nets


def video_windows(frames: torch.Tensor, flows: torch.Tensor, step: int, k: int) -> torch.Tensor:
    """The video D's inputs at one frame rate: every K frames `step` apart, with the K-1 flows between them.

    frames (B, 3, T, H, W), flows (B, 2, T-1, H, W) between consecutive frames -> (B * n, 3K + 2(K-1), H, W) for
    the n = T - (K-1)*step windows. Flows over `step` frames are chained from consecutive ones (`compose_flows`).
    """
    B, _, T, H, W = frames.shape
    starts = range(T - (k - 1) * step)
    if not starts:
        raise ValueError(f"{T} frames cannot hold {k} frames {step} apart")
    out = []
    for t0 in starts:
        idx = [t0 + j * step for j in range(k)]
        chained = []
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            f = flows[:, :, a]                     # frame a -> a+1
            for t in range(a + 1, b):
                f = compose_flows(f, flows[:, :, t])
            chained.append(f)
        out.append(torch.cat([frames[:, :, i] for i in idx] + chained, dim=1))
    return torch.cat(out, dim=0)


# ---------------------------------------------------------------------------------------------------------------
# Objective


class Vid2VidObjective:
    """vid2vid's losses as trainer phases in the official order: G (with E) on a whole sequence, then the Ds.

    A batch holds `labels` (B, T, H, W) long, `instances` (B, T, H, W) long (0 = stuff), `frames` (B, 3, T, H, W)
    real video, `flows` (B, 2, T-1, H, W) reference flows of the real video (DIS; the paper used FlowNet2).
    """

    def __init__(self, cfg: Vid2VidConfig):
        self.cfg = cfg

    def phases(self) -> list[Phase]:
        g_nets = ("G", "E") if self.cfg.style_channels else ("G",)
        d_nets = ("D_image",) + tuple(f"D_video{s}" for s in range(len(self.cfg.temporal_steps)))
        return [Phase("G", g_nets, self.generator_loss), Phase("D", d_nets, self.discriminator_loss,
                                                                 discriminator=True)]

    ema_nets = ("G",)

    def _inputs(self, nets, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Semantic maps (B, T, S, H, W) with E's styles from the real frames, fg masks, D conditions."""
        cfg, labels, instances, real = self.cfg, batch["labels"], batch.get("instances"), batch["frames"]
        style = None
        if cfg.style_channels:
            B, T = labels.shape[:2]
            regions = region_ids(labels, instances, cfg.num_labels).flatten(0, 1)
            style = nets["E"](fold_time(real), regions).unflatten(0, (B, T))
        semantic = semantic_maps(cfg, labels, instances, style)
        condition = semantic[:, :, : cfg.num_labels + int(cfg.instance_edges)]   # the Ds see labels, not styles
        return semantic, foreground_mask(labels).unsqueeze(2), condition

    def flow_confidence(self, real: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
        """(B, 1, T-1, H, W): 1 where the reference flow explains the real frame (official code's rule)."""
        prev, cur = fold_time(real[:, :, :-1]), fold_time(real[:, :, 1:])
        err = ((warp(prev, fold_time(flows)) - cur) / 2).pow(2).mean(1, keepdim=True)   # in [0, 1] units
        conf = (err < self.cfg.flow_confidence).float()
        return unfold_time(conf, real.shape[0])

    def sample(self, nets, batch) -> tuple[list, torch.Tensor, torch.Tensor]:
        """G unrolled over the clip: (its per-frame outputs, the fake video (B, 3, T, H, W), the Ds' label
        conditions (B, T, C, H, W))."""
        semantic, fg_mask, condition = self._inputs(nets, batch)
        steps = unroll(nets["G"], self.cfg.past_frames, semantic, fg_mask)
        return steps, torch.stack([s.image for s in steps], dim=2), condition

    def _fakes_for_d(self, nets, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(fake video, conditions) without gradients (when no G phase ran this step)."""
        with torch.no_grad():
            return self.sample(nets, batch)[1:]

    def generator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        real, flows = batch["frames"], batch.get("flows")
        steps, fake, condition = self.sample(nets, batch)
        state.share("fake", (fake.detach(), condition.detach()))
        cond = condition.flatten(0, 1)
        real_f, fake_f = fold_time(real), fold_time(fake)

        # Image D (conditional on labels) on every frame, with feature matching for the patch D (the projected D
        # augments real and fake with different draws, so their features are not comparable).
        d_fake = nets["D_image"](torch.cat([cond, fake_f], 1))
        adv = losses.g_loss(kind, patch_logits(d_fake))
        total, logs = cfg.lambda_image * adv, {"adv_image": adv}
        if cfg.d_type == "patch":
            with torch.no_grad():
                d_real = nets["D_image"](torch.cat([cond, real_f], 1))
            feat = torch.stack([losses.feature_matching(r, f) for r, f in zip(d_real, d_fake, strict=True)]).mean()
            total = total + cfg.lambda_image * cfg.lambda_feat * feat
            logs["feat_image"] = feat

        # Video D at each frame rate: K frames + the real video's flows between them (both real and fake).
        for s, step in enumerate(cfg.temporal_steps):
            d = nets[f"D_video{s}"]
            v_fake = d(video_windows(fake, flows, step, cfg.video_d_frames))
            with torch.no_grad():
                v_real = d(video_windows(real, flows, step, cfg.video_d_frames))
            adv_v = losses.g_loss(kind, patch_logits(v_fake))
            feat_v = torch.stack([losses.feature_matching(r, f) for r, f in zip(v_real, v_fake, strict=True)])
            feat_v = feat_v.mean()
            total = total + cfg.lambda_video * (adv_v + cfg.lambda_feat * feat_v)
            logs[f"adv_video{s}"], logs[f"feat_video{s}"] = adv_v, feat_v

        if cfg.lambda_perceptual:
            perc = losses.perceptual_loss(fake_f, real_f)
            total = total + cfg.lambda_perceptual * perc
            logs["perceptual"] = perc

        # Flow terms on frames 1..T-1 (frame 0 has nothing to warp), masked where the reference flow is reliable.
        if steps[0].flow is not None and real.shape[2] > 1:
            pred = torch.stack([s.flow for s in steps[1:]], dim=2)                   # (B, 2, T-1, H, W)
            conf = self.flow_confidence(real, flows)
            flow_l1 = ((pred - flows).abs() * conf).mean()
            prev_real, cur_real = fold_time(real[:, :, :-1]), fold_time(real[:, :, 1:])
            conf_f = fold_time(conf)
            warp_real = ((warp(prev_real, fold_time(pred)) - cur_real).abs() * conf_f).mean()
            prev_fake, cur_fake = fold_time(fake[:, :, :-1]).detach(), fold_time(fake[:, :, 1:])
            warp_fake = ((cur_fake - warp(prev_fake, fold_time(flows))).abs() * conf_f).mean()
            mask = torch.stack([s.mask for s in steps[1:]], dim=2).mean()
            total = total + cfg.lambda_flow * flow_l1 + cfg.lambda_warp * warp_real \
                + cfg.lambda_temporal * warp_fake + cfg.lambda_mask * mask
            logs.update(flow=flow_l1, warp_real=warp_real, warp_fake=warp_fake, mask=mask)
        return total, logs

    def discriminator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        real, flows = batch["frames"], batch.get("flows")
        fake, condition = state.shared("fake", lambda: self._fakes_for_d(nets, batch))
        cond = condition.flatten(0, 1)
        d = nets["D_image"]
        image = losses.d_loss(kind, patch_logits(d(torch.cat([cond, fold_time(real)], 1))),
                              patch_logits(d(torch.cat([cond, fold_time(fake)], 1))))
        total, logs = 0.5 * cfg.lambda_image * image, {"image": image}
        for s, step in enumerate(cfg.temporal_steps):
            d = nets[f"D_video{s}"]
            video = losses.d_loss(kind, patch_logits(d(video_windows(real, flows, step, cfg.video_d_frames))),
                                  patch_logits(d(video_windows(fake, flows, step, cfg.video_d_frames))))
            total = total + 0.5 * cfg.lambda_video * video
            logs[f"video{s}"] = video
        return total, logs


# ---------------------------------------------------------------------------------------------------------------
# Multimodal synthesis: per-class styles


@torch.no_grad()
def cluster_styles(generator: Vid2VidGenerator, encoder: Vid2VidStyleEncoder, sequences: Sequence[Any],
                   device: torch.device | str = "cpu", seed: int = 0) -> dict[str, Any]:
    """K-means of E's per-instance features, per class (pix2pixHD's encode_features), written into G's buffers.

    sequences: objects with uint8 `labels` (T, H, W), int `instances` (T, H, W) and uint8 `frames` (T, H, W, 3).
    Returns {"samples": features seen per class, "classes": classes with styles}.
    """
    from sklearn.cluster import KMeans  # only needed when exporting weights

    cfg = generator.cfg
    per_class: dict[int, list[np.ndarray]] = {c: [] for c in range(cfg.num_labels)}
    encoder = encoder.eval().to(device)
    for seq in sequences:
        labels = torch.as_tensor(np.array(seq.labels, np.int64), device=device)
        instances = torch.as_tensor(np.array(seq.instances, np.int64), device=device)
        frames = torch.as_tensor(np.array(seq.frames), device=device).permute(0, 3, 1, 2).float() / 127.5 - 1
        regions = region_ids(labels, instances, cfg.num_labels)
        feats = encoder(frames, regions)                                              # (T, F, H, W)
        for t in range(len(labels)):
            _, first = np.unique(regions[t].cpu().numpy(), return_index=True)          # one pixel per region
            flat_feats = feats[t].flatten(1).T.cpu().numpy()                          # (H*W, F)
            flat_labels = labels[t].flatten().cpu().numpy()
            for idx in first:
                per_class[int(flat_labels[idx])].append(flat_feats[idx])
    centers = torch.zeros_like(generator.style_centers)
    counts = torch.zeros_like(generator.style_counts)
    for c, samples in per_class.items():
        if not samples:
            continue
        x = np.stack(samples)
        k = min(cfg.style_clusters, len(np.unique(x.round(4), axis=0)))
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
        centers[c, :k] = torch.from_numpy(km.cluster_centers_.astype(np.float32))
        counts[c] = k
    generator.style_centers.copy_(centers)
    generator.style_counts.copy_(counts)
    return {"samples": {c: len(s) for c, s in per_class.items() if s}, "classes": int((counts > 0).sum())}


def style_maps(generator: Vid2VidGenerator, labels: torch.Tensor, choice: dict[int, int]) -> torch.Tensor:
    """(B, T, H, W) ids -> (B, T, F, H, W): each pixel gets its class's chosen style centre (zeros if none)."""
    cfg = generator.cfg
    table = torch.zeros(cfg.num_labels, cfg.style_channels, device=labels.device)
    for c, k in choice.items():
        n = min(int(generator.style_counts[c]), generator.style_centers.shape[1])   # centres stored for class c
        if n > 0:
            table[c] = generator.style_centers[c, int(k) % n]
    return table[labels].movedim(-1, 2)


# ---------------------------------------------------------------------------------------------------------------
# Inference


@dataclasses.dataclass
class Vid2VidResult:
    """uint8 arrays (T, H, W, ...) at the labels' resolution."""

    frames: np.ndarray                  # (T, H, W, 3) the video
    hallucinated: np.ndarray            # (T, H, W, 3) h_t
    mask: np.ndarray | None             # (T, H, W) m_t * 255: white = hallucinated, black = warped
    styles: dict[int, int]              # class id -> style cluster used


class Vid2VidPipeline:
    """`generate(labels, instances, seed)`: a label-map video of any size in, frames out. Uses G only."""

    def __init__(self, generator: Vid2VidGenerator, cfg: Vid2VidConfig, device: torch.device,
                 card: dict[str, Any] | None = None):
        self.generator, self.cfg, self.device, self.card = generator.eval().to(device), cfg, device, card or {}
        self.precision = "float32"          # the default of `synthesize(precision=...)`; see there

    def style_classes(self) -> dict[int, int]:
        """class id -> number of styles available (classes seen in training)."""
        counts = self.generator.style_counts.cpu().tolist()
        return {c: n for c, n in enumerate(counts) if n > 0}

    def sample_styles(self, seed: int) -> dict[int, int]:
        """A style cluster per class, drawn from `seed`."""
        rng = np.random.default_rng(int(seed))
        return {c: int(rng.integers(n)) for c, n in self.style_classes().items()}

    @torch.no_grad()
    def synthesize(self, labels: np.ndarray, instances: np.ndarray | None = None, seed: int = 0,
                   styles: dict[int, int] | None = None, first_frame: np.ndarray | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   precision: str | None = None) -> Vid2VidResult:
        """Frames, hallucinated images and occlusion masks for a label video.

        Args:
            labels: (T, H, W) or (H, W) integer Cityscapes ids in [0, 34]; H and W of at least 16.
            instances: same shape, instance ids (0 = stuff), or None.
            seed: picks a style per class; `styles` overrides single classes (class id -> cluster index).
            first_frame: uint8 (H, W, 3) taken as the frame before the first (else generation starts from nothing).
            progress: called with (frames done, total).
            precision: "float32" (the default, `self.precision`; what the model card measures) or "bfloat16":
                convolutions under autocast, faster on CPUs with AVX512-BF16 or AMX and on GPUs, a little less
                exact (bench/vid2vid.py measures speed and quality of both, side by side).
        The generator runs at the labels' resolution (padded to a multiple of `cfg.multiple`); flows are predicted
        in pixels of that resolution.
        """
        labels = self._check_labels(labels)
        T, H, W = labels.shape
        precision = precision or self.precision
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        lab = torch.from_numpy(labels.astype(np.int64)).to(self.device)[None]
        inst = None
        if instances is not None:
            instances = np.asarray(instances)
            if instances.shape != labels.shape:
                raise ValueError(f"instances {instances.shape} must have the labels' shape {labels.shape}")
            inst = torch.from_numpy(instances.astype(np.int64)).to(self.device)[None]
        choice = {**self.sample_styles(seed), **(styles or {})}
        style = style_maps(self.generator, lab, choice) if self.cfg.style_channels else None
        semantic = semantic_maps(self.cfg, lab, inst, style)
        fg = foreground_mask(lab).unsqueeze(2)
        # Pad (replicate) to the generator's multiple: (1, T, C, H', W').
        ph, pw = (-H) % self.cfg.multiple, (-W) % self.cfg.multiple
        if ph or pw:
            semantic = F.pad(semantic.flatten(0, 1), (0, pw, 0, ph), mode="replicate").unflatten(0, (1, T))
            fg = F.pad(fg.flatten(0, 1), (0, pw, 0, ph), mode="replicate").unflatten(0, (1, T))
        first = None
        if first_frame is not None:
            from ..video import as_rgb_uint8, image_to_tensor, resize_image

            ff = as_rgb_uint8(first_frame, what="first frame")
            first = F.pad(image_to_tensor(resize_image(ff, (H, W))).to(self.device), (0, pw, 0, ph),
                          mode="replicate")
        outs: dict[str, list[torch.Tensor]] = {"frames": [], "hallucinated": [], "mask": []}

        def collect(t: int, step: Vid2VidStep) -> None:
            outs["frames"].append(step.image[..., :H, :W])
            outs["hallucinated"].append(step.hallucinated[..., :H, :W])
            if step.mask is not None:
                outs["mask"].append(step.mask[..., :H, :W])
            if progress is not None:
                progress(t + 1, T)

        with torch.autocast(self.device.type, torch.bfloat16, enabled=precision == "bfloat16"):
            unroll(self.generator, self.cfg.past_frames, semantic, fg, first, callback=collect)
        as_frames = lambda xs: tensor_to_frames(torch.stack(xs, dim=2))               # noqa: E731
        mask = None
        if outs["mask"]:
            mask = (torch.cat(outs["mask"]).float().squeeze(1).clamp(0, 1) * 255).round().byte().cpu().numpy()
        return Vid2VidResult(frames=as_frames(outs["frames"]), hallucinated=as_frames(outs["hallucinated"]),
                             mask=mask, styles=choice)

    def generate(self, labels: np.ndarray, instances: np.ndarray | None = None, seed: int = 0, **kwargs) -> np.ndarray:
        """uint8 (T, H, W) label ids (and optional instances) -> uint8 frames (T, H, W, 3). See `synthesize`."""
        return self.synthesize(labels, instances, seed, **kwargs).frames

    def _check_labels(self, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels[None]
        if labels.ndim != 3:
            raise ValueError(f"labels must be (T, H, W) or (H, W) class ids, got shape {labels.shape}")
        if labels.shape[0] == 0:
            raise ValueError("labels hold no frames")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integer class ids, got {labels.dtype}")
        if min(labels.shape[1:]) < 16:
            raise ValueError(f"label maps must be at least 16x16 pixels, got {labels.shape[2]}x{labels.shape[1]}")
        if labels.min() < 0 or labels.max() >= self.cfg.num_labels:
            raise ValueError(f"label ids must be Cityscapes ids 0..{self.cfg.num_labels - 1}; found "
                             f"{int(labels.min())}..{int(labels.max())}")
        return labels


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: the paper's measures on held-out video, next to the per-frame baseline


def street_scores(pipeline: Vid2VidPipeline, sequences: list, segmenter: Any,
                  generated: list[np.ndarray] | None = None) -> dict[str, float]:
    """PSNR, SSIM, sharpness (the generated frames' over the real ones'), warp error (and mIoU with a segmenter) of
    one model's output (seed 0) on label sequences with frames. `generated`, if given, receives those outputs."""
    from ..data.cityscapes import TRAIN_IDS
    from ..metrics import VideoMotion, confusion_matrix, mean_iou, psnr, sharpness, ssim
    from ..video import frames_to_tensor

    sums: dict[str, list[float]] = {"psnr_db": [], "ssim": [], "sharpness_ratio": [], "warp_error": [],
                                    "warp_error_real": []}
    confusion = {"fake": 0, "real": 0}
    for seq in sequences:
        fake = pipeline.generate(seq.labels, seq.instances, seed=0)
        if generated is not None:
            generated.append(fake)
        real_t, fake_t = frames_to_tensor(seq.frames), frames_to_tensor(fake)
        motion = VideoMotion.of(seq.frames)
        sums["psnr_db"].append(float(psnr(fake_t, real_t)))
        sums["ssim"].append(float(ssim(fake_t, real_t)))
        sums["sharpness_ratio"].append(sharpness(fake) / sharpness(seq.frames))
        sums["warp_error"].append(motion.warp_error(fake))
        sums["warp_error_real"].append(motion.warp_error(seq.frames))
        if segmenter is not None:
            for key, frames in (("fake", fake), ("real", seq.frames)):
                confusion[key] = confusion[key] + confusion_matrix(TRAIN_IDS[segmenter.segment(frames)],
                                                                   TRAIN_IDS[seq.labels], 19)
    out = {k: round(float(np.mean(v)), 4) for k, v in sums.items()}
    if segmenter is not None:
        out["miou"], out["miou_real_frames"] = (round(mean_iou(confusion[k])[0], 4) for k in ("fake", "real"))
    return out


def mask_by_region(mask: np.ndarray, labels: np.ndarray, newly_visible: np.ndarray | None = None) -> dict[str, float]:
    """The mean occlusion mask m_t over frames 1..T-1 (frame 0 has nothing to warp) by region: "background" (static
    classes), "foreground" (FOREGROUND_IDS) and, given the real video's disocclusions, "newly_visible" (then taken
    out of the background). mask: uint8 (T, H, W) m * 255 as `synthesize` returns it; labels (T, H, W) class ids;
    newly_visible bool (T-1, H, W) for frames 1..T-1. A region with no pixels reads NaN."""
    m = mask[1:].astype(np.float64) / 255
    foreground = np.isin(labels[1:], FOREGROUND_IDS)
    regions = {"background": ~foreground, "foreground": foreground}
    if newly_visible is not None:
        regions = {"background": ~foreground & ~newly_visible, "foreground": foreground,
                   "newly_visible": newly_visible}
    return {k: float(m[where].mean()) if where.any() else float("nan") for k, where in regions.items()}


def mechanism_scores(pipeline: Vid2VidPipeline, sequence: Any, motion: Any, seeds: int = 4) -> dict[str, float]:
    """What the paper's mechanisms do on one labelled real sequence (issue 24's "make the flow branch visible"):
      mask_background / _foreground / _newly_visible: the mean occlusion mask m_t (0 = warp the previous frame,
        1 = hallucinate) over frames 1..T-1 on static background classes, on the foreground classes, and where the
        real video's forward-backward check finds pixels not visible in the previous frame (`metrics.VideoMotion`).
        The paper's idea: low on the background, high where something new appears.
      style_difference_<class>: mean |frame(seed i) - frame(seed j)| in grey levels (of 255) over that class's
        pixels, averaged over the pairs of `seeds` style seeds: do the styles visibly change cars, buildings?
    """
    result = pipeline.synthesize(sequence.labels, sequence.instances, seed=0)
    out: dict[str, float] = {}
    if result.mask is not None:
        new = ~motion.visible[:, 0].numpy().astype(bool)                                   # (T-1, H, W)
        out.update({f"mask_{k}": round(v, 4) for k, v in mask_by_region(result.mask, sequence.labels, new).items()})
    frames = [result.frames.astype(np.float64)] + [
        pipeline.generate(sequence.labels, sequence.instances, seed=k).astype(np.float64) for k in range(1, seeds)]
    for name, class_id in (("car", 26), ("building", 11)):
        where = sequence.labels == class_id
        if where.any():
            pairs = [np.abs(frames[i] - frames[j])[where].mean() for i in range(seeds) for j in range(i + 1, seeds)]
            out[f"style_difference_{name}"] = round(float(np.mean(pairs)), 2)
    return out


def evaluate(pipeline: Vid2VidPipeline, num_items: int) -> dict[str, Any]:
    """The paper's measures on held-out video: PSNR/SSIM to the real frames, flicker, segmentation mIoU, next to
    the per-frame baseline (the shipped `demo_per_frame` weights) measured in the same run.

    Flicker is the warp error of the generated frames under the *real* video's DIS flows, over pixels that flow
    does not occlude; the real video's own warp error is the floor. mIoU: the shipped street segmenter's labels of
    the generated frames against the input labels (19 Cityscapes classes), next to its score on the real frames.
    """
    from .. import registry
    from ..data.street import street_root, street_sequences

    size = (pipeline.cfg.height, pipeline.cfg.width)
    sequences, where = street_sequences(size, street_root(), held_out=True, count=num_items)
    segmenter = (registry.load("street_segmenter", device="cpu") if registry.weights_path("street_segmenter").is_file()
                 else None)
    out: dict[str, Any] = street_scores(pipeline, sequences, segmenter)
    baseline_path = registry.weights_path("vid2vid", "demo_per_frame")
    if pipeline.cfg.use_flow and baseline_path.is_file():
        baseline = registry.pipeline_from_file("vid2vid", baseline_path, "cpu")
        out["per_frame_baseline"] = {"steps": baseline.card["train"]["steps"],
                                     **street_scores(baseline, sequences, segmenter)}
        out["warp_error_ratio_to_baseline"] = round(out["warp_error"] / out["per_frame_baseline"]["warp_error"], 4)
    out["protocol"] = (
        f"{where} at {pipeline.cfg.height}x{pipeline.cfg.width}, generated from labels and instances with seed 0. "
        f"psnr_db/ssim against the real frames; sharpness_ratio: mean Sobel gradient magnitude of the generated "
        f"frames over the real frames'; warp_error: mean |warp(x_(t-1), f_t) - x_t| (in [-1, 1] units) "
        f"with the real video's DIS flows f_t over non-occluded pixels, warp_error_real the same for the real "
        f"video; miou: the street segmenter on generated frames vs the input labels (19 classes), miou_real_frames "
        f"on the real frames" + ("" if segmenter is not None else " (no segmenter weights: not measured)") +
        ("; per_frame_baseline: the shipped demo_per_frame weights (no flow, no past frames, no video D) on the "
         "same frames" if "per_frame_baseline" in out else "") + ".")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Presets and the registry entry


def tiny() -> tuple[Vid2VidConfig, TrainConfig]:
    return (Vid2VidConfig(height=32, width=64, frames=5, g_channels=8, g_downsamples=2, g_res_blocks=2,
                          local_res_blocks=1, fg_channels=4, style_encoder_channels=4, style_clusters=2,
                          d_channels=8, d_layers=2, d_scales=1, lambda_perceptual=0.0),
            smoke_test_training(batch_size=1))


def demo() -> tuple[Vid2VidConfig, TrainConfig]:
    # 5 frames: the video D at frame steps 1 and 2 sees 3 windows and 1 window of 3 frames. The image D is the
    # projected one (projected.py: heads on frozen EfficientNet-Lite0 features, DiffAugment), which beat the paper's
    # PatchGAN at equal CPU time (`demo_patch_d`; weights/vid2vid/README.md). ~6 s/step on one thread beside other
    # work. The shipped weights are this run at 1437 steps (8700 s), then resumed at 256x512 with lambda_temporal=50
    # (`height=256 width=512 lambda_temporal=50`, ~23 s/step) for 225 steps (5700 s): the flicker at 256x512 went
    # from 1.97x to 1.36x the real video's (weights/vid2vid/README.md).
    return (Vid2VidConfig(frames=5, d_type="projected"),
            TrainConfig(steps=1500, batch_size=1, log_every=10, ckpt_every=100))


def demo_per_frame() -> tuple[Vid2VidConfig, TrainConfig]:
    # The paper's central comparison: the same generator frame by frame (pix2pixHD), no flow, no video D.
    cfg, train = demo()
    return dataclasses.replace(cfg, past_frames=0, use_flow=False, lambda_video=0.0), train


def demo_patch_d() -> tuple[Vid2VidConfig, TrainConfig]:
    # The ablation: `demo` with the paper's multi-scale PatchGAN as the image D (and its feature matching), the
    # shipped recipe until issue 24 (then for 500 steps: steps=500; the old per-frame baseline adds past_frames=0
    # use_flow=false lambda_video=0). At equal CPU time it lost on every measure but sharpness, and its sky went dark
    # after 3600 s (weights/vid2vid/README.md).
    cfg, train = demo()
    return dataclasses.replace(cfg, d_type="patch"), train


def paper() -> tuple[Vid2VidConfig, TrainConfig]:
    # Official street setting at 512x1024 (two spatial scales), video D at frame steps 1 and 3.
    return (Vid2VidConfig(height=512, width=1024, frames=8, g_channels=128, g_res_blocks=9,
                          local_res_blocks=3, fg_channels=64, style_encoder_channels=16, d_channels=64,
                          video_step_base=3),
            TrainConfig(steps=200_000, batch_size=1, lr_g=2e-4, lr_d=2e-4, log_every=100, ckpt_every=2000))


def build_dataset(cfg: Vid2VidConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    """Real Cityscapes sequences (held-out ones excluded) when present, else procedural streets."""
    from ..data.street import build_street_clips  # data code is not needed for inference

    return build_street_clips("vid2vid", (cfg.height, cfg.width), cfg.frames, train.seed, train.data_root)


def finalize(cfg: Vid2VidConfig, nets: nn.ModuleDict, train: TrainConfig) -> dict[str, Any]:
    """Per-class K-means of the style encoder's features over the training sequences, stored in G."""
    if not cfg.style_channels:
        return {}
    from ..data.street import street_root, street_sequences

    sequences, where = street_sequences((cfg.height, cfg.width), street_root(train.data_root), held_out=False)
    return {"style_clusters": {**cluster_styles(nets["G"], nets["E"], sequences, seed=train.seed),
                               "data": where}}


SPEC = ModelSpec(
    name="vid2vid", config_cls=Vid2VidConfig, title="vid2vid: label maps to street video",
    paper="Wang et al., Video-to-Video Synthesis, NeurIPS 2018", paper_url="https://arxiv.org/abs/1808.06601",
    presets={"tiny": tiny, "demo": demo, "demo_per_frame": demo_per_frame, "demo_patch_d": demo_patch_d,
             "paper": paper},
    build_nets=build_nets, objective=Vid2VidObjective, build_dataset=build_dataset, evaluate=evaluate,
    finalize=finalize,
    inference_net="G", build_pipeline=pipeline_loader(Vid2VidPipeline, Vid2VidGenerator),
)

"""Video inbetweening with direct 3D convolutions (Li, Roblek & Tagliasacchi, "From Here to There: Video
Inbetweening Using Direct 3D Convolutions", arXiv 1905.10240, 2019): a start frame x_s and an end frame x_e in,
a stochastic clip of T frames between them out, from one noise vector u ~ N(0, I_D).

No recurrence: the whole clip is made at once. A 2D encoder E maps each keyframe to a small latent map; a latent
representation generator turns the two maps and u into a latent video z (T, h, w, C), doubling its time resolution
twice (T/4 -> T/2 -> T, 8 blocks per stage, L = 24); a 3D-convolutional decoder turns z into frames. In block l:

    u_l   = A_l u + b_l                                       (T_l, C), a linear map of the noise        (eq. 2)
    g_s   = sigmoid(conv1d_s(u_l)),  g_e = sigmoid(conv1d_e(u_l))   gates in (0, 1), tiled over h x w    (eq. 3)
    z_in  = g_s * E(x_s) + g_e * E(x_e) + max(0, 1 - g_s - g_e) * z_{l-1} + n(u_l)                     (eq. 4)
    z_l   = lrelu(z_{l-1} + conv3d(lrelu(conv3d(z_in))))      a 3D residual unit                         (eq. 5)

The gates decide, per time step and channel, how much of each keyframe re-enters the representation; what they
leave (1 - g_s - g_e, if positive) is kept from the block before, and n(u_l) = conv1d_n(u_l) adds noise. With
z_s = z_e = z_{l-1} = z and no noise, eq. 4 returns z whenever g_s + g_e <= 1 (the weights then sum to 1).

The paper trains adversarially only (non-saturating loss, no reconstruction term): a 3D-convolutional video D
judges the whole clip, and a 2D image D judges each in-between frame (our CPU presets add an L1 term, see below).
The clip shown to D, and returned by the pipeline, has the true keyframes at both ends and the generator's T - 2
frames between them.

Reading guide (top to bottom):
  InbetweenConfig              every setting, with its default (the paper's sizes; presets at the end)
  InbetweenEncoder             E: 2D convs, frame (3, 64, 64) -> (C, 8, 8)
  gated_fusion                 eq. 4
  InbetweenNoiseProjection     eqs. 2-3: the noise u -> u_l -> the gates and noise of one block
  InbetweenLatentBlock         eqs. 2-5: one block of the latent representation generator
  InbetweenLatentGenerator     z_0 = the two codes at the ends of the time axis; 3 stages, time doubling between
  InbetweenDecoder             3D (transposed) convs, (C, T, 8, 8) -> (3, T, 64, 64)
  InbetweenGenerator           E, latent generator, decoder (+ keyframe head); `with_keyframes` puts the true
                               keyframes at the ends
  InbetweenVideoDiscriminator  3D convs (k = 4, stride (1, 2, 2), no time padding), layer norm, a linear logit
  InbetweenImageDiscriminator  a ResNet of strided 2D convs on single in-between frames
  InbetweenObjective           G phase, then D phase; non-saturating GAN losses of both Ds
  linear_blend                 the baseline: a cross-dissolve from x_s to x_e
  InbetweenPipeline            `generate(start, end, num_samples, seed)`; never builds discriminators
  inbetween_ssim, evaluate     the paper's SSIM of the in-between frames, best of N samples, next to two baselines
  presets, SPEC                tiny / demo / the two ablations / paper, and the registry entry

Ablations of the paper (config `variant`):
  "full"            the model above.
  "without_fusion"  no gates: z_in = z_{l-1} + n(u_l); the keyframes enter only through z_0 (our reading of the
                    paper's "without fusion").
  "naive"           no latent representation generator: z = z_0 stretched to T frames (nearest) + n(u), decoded
                    directly (our reading of the paper's naive model, which decodes the encoded keyframes).

Tensors: frames (B, 3, H, W) and videos (B, 3, T, H, W) in [-1, 1]; latents (B, C, T_l, h, w); gates (B, C, T_l).

Deviations and choices the paper leaves open, all ours:
  * D = 120 (noise size), gate/noise 1D convs of kernel 3 over time, batch norm in E and the decoder, no norm in
    the residual units; E's last conv has no norm or activation (the latent code may take any sign).
  * z_0 stacks E(x_s) and E(x_e) as two time steps and is stretched to T/4 by nearest-neighbour repetition; time
    doubles between stages the same way.
  * "Layer norm" in both Ds normalises over every channel and position of a sample (GroupNorm with one group).
  * Each step updates G, then both Ds on G's (detached) clips (the trainer's phase order, as for vid2vid here).
  * `output = "blend_residual"` ("direct" in the paper and the `paper` preset): the decoder's frames are a
    correction added to the cross-dissolve of the two keyframes, a pixel-space path around the 8x8 latent. The
    demo presets use it: through the 8x8 latent alone, a few thousand CPU steps redraw the keyframes' background as
    a blurred grey with a colour grid (SSIM 0.34 against 0.71 for blending at step 250), which no motion can make
    up for. The model still has to move what moves: blending alone ghosts.
  * `output = "learned_blend"` (the demo presets since 2026-12-07): the decoder also shifts the cross-dissolve's
    weight, per pixel and frame, in logit space: frame t = (1 - w) x_s + w x_e + tanh(r), w = sigmoid(a +
    logit(t / (T - 1))), so (a, r) = 0 is the linear blend. A small full-resolution head (two 3x3x3 convs, the
    `keyframe_head`) makes (r, a) from the decoder's 4 channels beside the two keyframes. Why: where a figure has
    moved, each keyframe shows the background the other hides, so removing a ghost is choosing, pixel by pixel,
    the keyframe that shows background there; that choice needs pixel-sharp edges, which the 8x8 latent gave only
    after far more steps than a CPU run has. Under the L1 term alone (no Ds, 2026-12-07), blend_residual and
    learned_blend without the head stayed at the blend for 3000-4000 steps (SSIM 0.62-0.65 on held-out
    large-motion KTH-like clips, blending 0.649); with the head, 0.807 at step 1500. The head sees each frame's
    pixels and its 3x3x3 neighbourhood only: where the figure is at time t still has to come through the latent.
  * `lambda_reconstruction` (0 in the paper and the `paper` preset) adds an L1 term between the generated and
    the true in-between frames to G's loss. The demo presets use it: trained adversarially only for the few
    thousand steps a 2-core CPU allows, G drew colour checkerboards and never recovered the keyframes' background
    (weights/inbetween/README.md). With it the noise u matters less, so samples vary less than in the paper.
    `reconstruction_samples = K > 1` draws K clips per keyframe pair and applies the L1 term to the closest one
    only (`best_of_k_l1`), so the other draws are free to differ: in a 300-step fine-tune of the shipped model at
    lambda_reconstruction = 100, K = 3 doubled the spread between samples against K = 1 (no preset uses it yet).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses
from ..config import TrainConfig, at_least, check_ranges, loss_weights, smoke_test_training
from ..data.inbetween_data import KINDS as PROCEDURAL_DATASETS
from ..flow import interpolate_frames
from ..layers import ConvBlock2d, ConvBlock3d, activation, norm_layer
from ..spec import ModelSpec, pipeline_loader
from ..trainer import Phase
from ..video import CropBox, as_rgb_uint8, center_square, image_to_tensor, tensor_to_frames

VARIANTS = ("full", "without_fusion", "naive")
OUTPUTS = ("direct", "blend_residual", "learned_blend")   # what the decoder makes: the clip (the paper) or corrections
TEMPORAL_STAGES = 3            # T/4 -> T/2 -> T


@dataclasses.dataclass(frozen=True)
class InbetweenConfig:
    image_size: int = 64                                    # frames are square, image_size x image_size
    frames: int = 16                                        # T, keyframes included; a multiple of 4
    dataset: str = "kth"                                    # procedural training set without data_root: kth|bair|digits
    variant: str = "full"                                   # full | without_fusion | naive (the paper's ablations)
    noise_dim: int = 120                                    # D: u ~ N(0, I_D), the only source of randomness
    encoder_channels: tuple[int, ...] = (64, 128, 256)      # E: one stride-2 stage per entry (64 -> 8 px)
    latent_channels: int = 64                               # C of the latent video
    blocks_per_stage: int = 8                               # L = 3 x 8 = 24 blocks at T/4, T/2, T
    gate_kernel: int = 3                                    # the 1D convs over time making gates and noise
    decoder_channels: tuple[int, ...] = (256, 128, 64)      # one 2x spatial upsampling per entry
    norm: str = "batch"                                     # E and decoder
    output: str = "direct"                                  # direct (the paper) | blend_residual | learned_blend
    keyframe_head_channels: int = 16                        # learned_blend: width of its full-resolution head
    d_video_channels: int = 64                              # video D widths: c, 2c, 4c, 8c
    d_video_layers: int = 4                                 # each shortens time by 3 (T = 16 -> 4)
    d_image_channels: int = 64                              # image D widths: c, 2c, 4c, 8c
    d_image_stages: int = 4                                 # each halves the frame (64 -> 4 px)
    d_image_frames: int = 0                                 # in-between frames per clip the image D sees; 0 = all
    gan_loss: str = "non_saturating"
    lambda_video: float = 1.0
    lambda_image: float = 1.0
    lambda_reconstruction: float = 0.0                      # L1 of the in-between frames to the truth; the paper: 0
    reconstruction_samples: int = 1                         # K draws of u per pair; the L1 term takes the best one

    def __post_init__(self):
        down = len(self.encoder_channels)
        problems = []
        if self.variant not in VARIANTS:
            problems.append(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.output not in OUTPUTS:
            problems.append(f"output must be one of {OUTPUTS}, got {self.output!r}")
        if self.dataset not in PROCEDURAL_DATASETS:
            problems.append(f"dataset must be one of {PROCEDURAL_DATASETS}, got {self.dataset!r}")
        if self.frames < 4 or self.frames % 4:
            problems.append(f"frames must be a multiple of 4 (time stages T/4, T/2, T), got {self.frames}")
        if len(self.decoder_channels) != down:
            problems.append(f"decoder_channels {self.decoder_channels} must have one entry per encoder stage "
                            f"{self.encoder_channels}")
        if self.image_size % 2**down or self.image_size % 2**self.d_image_stages:
            problems.append(f"image_size {self.image_size} must be divisible by 2^{max(down, self.d_image_stages)}")
        if self.frames - 3 * self.d_video_layers < 1:
            problems.append(f"{self.d_video_layers} video D layers shorten time by {3 * self.d_video_layers}: "
                            f"more than frames = {self.frames} allows")
        if self.reconstruction_samples < 1:
            problems.append(f"reconstruction_samples must be at least 1, got {self.reconstruction_samples}")
        if problems:
            raise ValueError("; ".join(problems))
        check_ranges(self, {
            "image_size": at_least(1), "noise_dim": at_least(1), "latent_channels": at_least(1),
            "blocks_per_stage": at_least(1), "gate_kernel": ((lambda v: v >= 1 and v % 2 == 1), "odd and >= 1"),
            "keyframe_head_channels": at_least(1), "d_video_channels": at_least(1), "d_image_channels": at_least(1),
            "d_image_frames": at_least(0), **loss_weights(self)})

    @property
    def latent_size(self) -> int:
        """h = w of the latent maps."""
        return self.image_size // 2 ** len(self.encoder_channels)

    @property
    def stage_frames(self) -> tuple[int, ...]:
        """T_l of the temporal stages: (T/4, T/2, T)."""
        return tuple(self.frames // 2 ** (TEMPORAL_STAGES - 1 - s) for s in range(TEMPORAL_STAGES))


# ---------------------------------------------------------------------------------------------------------------
# Generator


class InbetweenEncoder(nn.Module):
    """E: per stage a 4x4 stride-2 conv and a 3x3 conv (norm, LeakyReLU), then a 3x3 conv to C channels.

    (B, 3, S, S) -> (B, C, S / 2^stages, S / 2^stages); the paper's 7 layers for 64 -> 8 px with widths 64, 128,
    256 and C = 64 (1.58 M parameters).
    """

    def __init__(self, cfg: InbetweenConfig):
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for w in cfg.encoder_channels:
            layers += [ConvBlock2d(width, w, 4, 2, cfg.norm, "lrelu", pad_mode="zeros"),
                       ConvBlock2d(w, w, 3, 1, cfg.norm, "lrelu", pad_mode="zeros")]
            width = w
        layers.append(nn.Conv2d(width, cfg.latent_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.net(frame)


def gated_fusion(z_start: torch.Tensor, z_end: torch.Tensor, z_prev: torch.Tensor, g_start: torch.Tensor,
                 g_end: torch.Tensor, noise: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Eq. 4: z_in = g_s * z_s + g_e * z_e + max(0, 1 - g_s - g_e) * z_prev + n. Every argument broadcasts against
    the latent video (B, C, T, h, w): keyframe codes as (B, C, 1, h, w), gates and noise as (B, C, T, 1, 1)."""
    return g_start * z_start + g_end * z_end + F.relu(1 - g_start - g_end) * z_prev + noise


class InbetweenNoiseProjection(nn.Module):
    """Eqs. 2-3 for one block at T_l time steps: u (B, D) -> u_l = A_l u + b_l (B, C, T_l) -> the gates
    g_s = sigmoid(conv1d_s(u_l)), g_e = sigmoid(conv1d_e(u_l)) and the noise n(u_l) = conv1d_n(u_l), each
    (B, C, T_l). With gates=False only the noise is made (the gates come back as None)."""

    def __init__(self, cfg: InbetweenConfig, time_steps: int, gates: bool = True):
        super().__init__()
        c, k = cfg.latent_channels, cfg.gate_kernel
        self.time_steps, self.channels = time_steps, c
        self.project = nn.Linear(cfg.noise_dim, c * time_steps)
        self.gate_start = nn.Conv1d(c, c, k, padding=k // 2) if gates else None
        self.gate_end = nn.Conv1d(c, c, k, padding=k // 2) if gates else None
        self.noise = nn.Conv1d(c, c, k, padding=k // 2)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        u_l = self.project(u).view(-1, self.channels, self.time_steps)
        if self.gate_start is None:
            return None, None, self.noise(u_l)
        return torch.sigmoid(self.gate_start(u_l)), torch.sigmoid(self.gate_end(u_l)), self.noise(u_l)


class InbetweenLatentBlock(nn.Module):
    """One block l of the latent representation generator at T_l time steps: eqs. 2-5.

    With fusion=False (the "without fusion" ablation) there are no gates and z_in = z_prev + n(u_l).
    """

    def __init__(self, cfg: InbetweenConfig, time_steps: int, fusion: bool = True):
        super().__init__()
        c = cfg.latent_channels
        self.inputs = InbetweenNoiseProjection(cfg, time_steps, gates=fusion)          # eqs. 2-3
        self.conv1 = ConvBlock3d(c, c, 3, norm="none", act="lrelu")                   # eq. 5
        self.conv2 = nn.Conv3d(c, c, 3, padding=1)
        self.act = activation("lrelu")

    def fuse(self, z_prev: torch.Tensor, z_start: torch.Tensor, z_end: torch.Tensor,
             u: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """z_in of eq. 4 (B, C, T_l, h, w) and the gates (g_s, g_e), each (B, C, T_l), or None without fusion."""
        g_s, g_e, noise = self.inputs(u)
        tile = lambda x: x[..., None, None]                             # noqa: E731  (B, C, T_l, 1, 1): over h x w
        if g_s is None:
            return z_prev + tile(noise), None
        z_in = gated_fusion(z_start[:, :, None], z_end[:, :, None], z_prev, tile(g_s), tile(g_e), tile(noise))
        return z_in, (g_s, g_e)

    def forward(self, z_prev: torch.Tensor, z_start: torch.Tensor, z_end: torch.Tensor,
                u: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        z_in, gates = self.fuse(z_prev, z_start, z_end, u)
        return self.act(z_prev + self.conv2(self.conv1(z_in))), gates             # eq. 5


class InbetweenLatentGenerator(nn.Module):
    """(E(x_s), E(x_e), u) -> latent video z (B, C, T, h, w) and every block's gates.

    z_0 puts the two codes at the two ends of a 2-step time axis; before each stage, time is stretched (nearest)
    to T_l = T/4, T/2, T; each stage runs `blocks_per_stage` blocks. The naive variant has no blocks: z_0 stretched
    to T plus one noise map n(u).
    """

    def __init__(self, cfg: InbetweenConfig):
        super().__init__()
        self.cfg = cfg
        fusion = cfg.variant == "full"
        if cfg.variant == "naive":
            self.stages = nn.ModuleList()
            self.naive_noise = InbetweenNoiseProjection(cfg, cfg.frames, gates=False)
        else:
            self.stages = nn.ModuleList(
                nn.ModuleList(InbetweenLatentBlock(cfg, t, fusion) for _ in range(cfg.blocks_per_stage))
                for t in cfg.stage_frames)

    def forward(self, z_start: torch.Tensor, z_end: torch.Tensor,
                u: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        h, w = z_start.shape[-2:]
        z = torch.stack([z_start, z_end], dim=2)                             # (B, C, 2, h, w)
        gates: list[tuple[torch.Tensor, torch.Tensor]] = []
        if not self.stages:                                                  # naive
            z = F.interpolate(z, size=(self.cfg.frames, h, w), mode="nearest")
            return z + self.naive_noise(u)[2][..., None, None], gates
        for stage, t in zip(self.stages, self.cfg.stage_frames, strict=True):
            z = F.interpolate(z, size=(t, h, w), mode="nearest")             # (B, C, T_l, h, w)
            for block in stage:
                z, g = block(z, z_start, z_end, u)
                if g is not None:
                    gates.append(g)
        return z, gates


class InbetweenDecoder(nn.Module):
    """3D convs at the latent resolution, then per stage a (3, 4, 4) transposed conv with stride (1, 2, 2) and a
    3x3x3 conv; the last transposed conv makes RGB (and, for learned_blend, a blend-weight logit); the generator
    applies tanh. (B, C, T, h, w) -> (B, 3 or 4, T, 8h, 8w) for 3 stages; the paper's 7 layers with widths 256,
    128, 64 (4.74 M parameters)."""

    def __init__(self, cfg: InbetweenConfig):
        super().__init__()
        w = cfg.decoder_channels

        def up(a: int, b: int) -> list[nn.Module]:
            return [nn.ConvTranspose3d(a, b, (3, 4, 4), (1, 2, 2), (1, 1, 1), bias=cfg.norm == "none"),
                    norm_layer(cfg.norm, b, dims=3), activation("lrelu")]

        layers: list[nn.Module] = [ConvBlock3d(cfg.latent_channels, w[0], 3, norm=cfg.norm),
                                   ConvBlock3d(w[0], w[0], 3, norm=cfg.norm)]
        for a, b in zip(w, w[1:]):
            layers += [*up(a, b), ConvBlock3d(b, b, 3, norm=cfg.norm)]
        out_channels = 4 if cfg.output == "learned_blend" else 3            # RGB, and a blend-weight logit
        layers.append(nn.ConvTranspose3d(w[-1], out_channels, (3, 4, 4), (1, 2, 2), (1, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, T, h, w) -> (B, 3 or 4, T, 8h, 8w), before any squashing (the generator applies it)."""
        return self.net(z)


class InbetweenGenerator(nn.Module):
    """G: (x_s, x_e, u) -> (video (B, 3, T, S, S), gates). All T frames are decoded; the keyframe positions are
    replaced by the true keyframes wherever a clip is shown (`with_keyframes`). With output = "blend_residual" the
    decoded frames are added to the cross-dissolve of the keyframes (`linear_blend`) and clipped to [-1, 1]; with
    "learned_blend" the keyframe head also moves the cross-dissolve's weight per pixel (module docstring)."""

    def __init__(self, cfg: InbetweenConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = InbetweenEncoder(cfg)
        self.latent = InbetweenLatentGenerator(cfg)
        self.decoder = InbetweenDecoder(cfg)
        if cfg.output == "learned_blend":
            # sees the decoded corrections beside the two keyframes at full resolution, frame by frame: which
            # keyframe shows the background at a pixel is a local question the 8x8 latent answers only coarsely
            c = cfg.keyframe_head_channels
            self.keyframe_head = nn.Sequential(ConvBlock3d(4 + 6, c, 3, norm="none"), nn.Conv3d(c, 4, 3, padding=1))

    def forward(self, start: torch.Tensor, end: torch.Tensor,
                u: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        video, _, gates = self.frames_and_blend_weight(start, end, u)
        return video, gates

    def frames_and_blend_weight(self, start: torch.Tensor, end: torch.Tensor, u: torch.Tensor) -> tuple[
            torch.Tensor, torch.Tensor | None, list[tuple[torch.Tensor, torch.Tensor]]]:
        """`forward`, plus the cross-dissolve's weight w (B, 1, T, S, S) that learned_blend used (None otherwise):
        0 shows the start frame's pixel, 1 the end frame's."""
        z_start, z_end = self.encoder(torch.cat([start, end])).chunk(2)     # one pass for both keyframes
        z, gates = self.latent(z_start, z_end, u)
        decoded = self.decoder(z)
        if self.cfg.output == "direct":
            return torch.tanh(decoded), None, gates
        if self.cfg.output == "blend_residual":
            return (linear_blend(start, end, self.cfg.frames) + torch.tanh(decoded)).clamp(-1, 1), None, gates
        # learned_blend: per pixel and frame, the head shifts the cross-dissolve's weight in logit space
        keyframes = torch.cat([start, end], 1)[:, :, None].expand(-1, -1, self.cfg.frames, -1, -1)
        residual, shift = self.keyframe_head(torch.cat([decoded, keyframes], 1)).split([3, 1], 1)   # r, a
        weight = torch.sigmoid(shift + blend_weight_logits(self.cfg.frames, shift))          # (B, 1, T, S, S)
        video = (linear_blend(start, end, self.cfg.frames, weight) + torch.tanh(residual)).clamp(-1, 1)
        return video, weight, gates


def with_keyframes(video: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) with frame 0 replaced by start (B, 3, H, W) and frame T-1 by end."""
    return torch.cat([start[:, :, None], video[:, :, 1:-1], end[:, :, None]], dim=2)


# ---------------------------------------------------------------------------------------------------------------
# Discriminators


class InbetweenVideoDiscriminator(nn.Module):
    """Video D (after MoCoGAN): `d_video_layers` x [3D conv, kernel 4, stride (1, 2, 2), padding (0, 1, 1) (time
    shrinks by 3, space halves), layer norm, LeakyReLU] with widths c, 2c, 4c, 8c; a linear layer to one logit.
    (B, 3, T, S, S) -> (B, 1); 11.06 M parameters at the paper's size."""

    def __init__(self, cfg: InbetweenConfig):
        super().__init__()
        layers, width, t, s = [], 3, cfg.frames, cfg.image_size
        for i in range(cfg.d_video_layers):
            w = cfg.d_video_channels * 2**i
            layers.append(ConvBlock3d(width, w, 4, (1, 2, 2), norm="layer", act="lrelu", padding=(0, 1, 1)))
            width, t, s = w, t - 3, s // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * t * s * s, 1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(video).flatten(1))


class InbetweenImageResBlock(nn.Module):
    """x -> lrelu(norm(conv3(lrelu(norm(conv4/2(x))))) + conv1x1(avgpool2(x))): halves the frame."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.body = nn.Sequential(ConvBlock2d(in_ch, out_ch, 4, 2, "layer", "lrelu", pad_mode="zeros"),
                                  ConvBlock2d(out_ch, out_ch, 3, 1, "layer", "none", pad_mode="zeros"))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_ch, out_ch, 1))
        self.act = activation("lrelu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class InbetweenImageDiscriminator(nn.Module):
    """Image D on single frames: a 3x3 stem, `d_image_stages` residual stages (widths c, 2c, 4c, 8c), a linear
    logit. (N, 3, S, S) -> (N, 1); 6.14 M parameters at the paper's size."""

    def __init__(self, cfg: InbetweenConfig):
        super().__init__()
        c = cfg.d_image_channels
        widths = [c] + [c * 2**i for i in range(cfg.d_image_stages)]
        self.stem = ConvBlock2d(3, c, 3, 1, "none", "lrelu", pad_mode="zeros")
        self.stages = nn.Sequential(*(InbetweenImageResBlock(a, b) for a, b in zip(widths, widths[1:])))
        s = cfg.image_size // 2**cfg.d_image_stages
        self.head = nn.Linear(widths[-1] * s * s, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(frames)).flatten(1))


def build_nets(cfg: InbetweenConfig) -> nn.ModuleDict:
    """G (encoder, latent generator, decoder: the inference weights), the video D and the image D."""
    return nn.ModuleDict({"G": InbetweenGenerator(cfg), "D_video": InbetweenVideoDiscriminator(cfg),
                          "D_image": InbetweenImageDiscriminator(cfg)})


# ---------------------------------------------------------------------------------------------------------------
# Objective


def inbetween_frames(video: torch.Tensor, per_clip: int = 0) -> torch.Tensor:
    """(B, 3, T, H, W) -> (B * (T - 2), 3, H, W): the frames between the keyframes, as a batch of images. With
    per_clip = k > 0, only k of them per clip, drawn at random (global RNG) without replacement: (B * k, 3, H, W)."""
    frames = video[:, :, 1:-1].transpose(1, 2)                               # (B, T - 2, 3, H, W)
    if 0 < per_clip < frames.shape[1]:                   # pick before folding: only the k frames are copied
        pick = torch.rand(frames.shape[:2], device=video.device).argsort(dim=1)[:, :per_clip]   # (B, k)
        frames = frames[torch.arange(frames.shape[0], device=video.device)[:, None], pick]
    return frames.flatten(0, 1)


class InbetweenObjective:
    """The paper's adversarial objective as trainer phases: G, then the video D and the image D together.

    A batch holds "video" (B, 3, T, H, W): real clips, whose first and last frames are the keyframes. G's loss is
    the non-saturating loss of the video D on the whole clip plus that of the image D on each in-between frame
    (plus, if lambda_reconstruction > 0, our L1 term to the true in-between frames). With d_image_frames = k > 0
    the image D sees k random in-between frames per clip instead of all T - 2 (a cost cut for CPU runs).
    """

    ema_nets = ("G",)

    def __init__(self, cfg: InbetweenConfig):
        self.cfg = cfg

    def phases(self) -> list[Phase]:
        return [Phase("G", ("G",), self.generator_loss),
                Phase("D", ("D_video", "D_image"), self.discriminator_loss, discriminator=True)]

    def sample(self, nets, batch, draws: int) -> torch.Tensor:
        """`draws` clips per true clip between its keyframes, with fresh noise u: (draws B, 3, T, H, W), draw j of
        clip i at j B + i."""
        real = batch["video"]
        start, end = real[:, :, 0].repeat(draws, 1, 1, 1), real[:, :, -1].repeat(draws, 1, 1, 1)  # (K B, 3, H, W)
        u = torch.randn(draws * real.shape[0], self.cfg.noise_dim, device=real.device)   # global RNG: exact resume
        generated, _ = nets["G"](start, end, u)
        return with_keyframes(generated, start, end)

    def _fakes_for_d(self, nets, batch) -> torch.Tensor:
        """One draw per clip without gradients (when no G phase ran this step)."""
        with torch.no_grad():
            return self.sample(nets, batch, draws=1)

    def generator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        real = batch["video"]
        fake = self.sample(nets, batch, cfg.reconstruction_samples)                      # (K B, 3, T, H, W)
        state.share("fake", fake[:real.shape[0]].detach())                      # the Ds see one draw per clip
        logs = {"adv_video": losses.g_loss(kind, nets["D_video"](fake)),
                "adv_image": losses.g_loss(kind, nets["D_image"](inbetween_frames(fake, cfg.d_image_frames)))}
        total = cfg.lambda_video * logs["adv_video"] + cfg.lambda_image * logs["adv_image"]
        if cfg.lambda_reconstruction:                # our addition for short CPU runs (module docstring)
            logs["reconstruction"] = best_of_k_l1(fake[:, :, 1:-1], real[:, :, 1:-1])
            total = total + cfg.lambda_reconstruction * logs["reconstruction"]
        return total, logs

    def discriminator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        real, fake = batch["video"], state.shared("fake", lambda: self._fakes_for_d(nets, batch))
        logs = {"video": losses.d_loss(kind, nets["D_video"](real), nets["D_video"](fake)),
                "image": losses.d_loss(kind, nets["D_image"](inbetween_frames(real, cfg.d_image_frames)),
                                       nets["D_image"](inbetween_frames(fake, cfg.d_image_frames)))}
        return cfg.lambda_video * logs["video"] + cfg.lambda_image * logs["image"], logs


def best_of_k_l1(fakes: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over clips of the L1 distance of the closest of K draws to the truth: fakes (K B, ...) with draw j of
    clip i at j B + i, real (B, ...). K = 1 is the plain L1. Only the best draw is pulled towards the truth, so
    the others stay free to differ (the "best of many samples" objective, Bhattacharyya et al., CVPR 2018)."""
    b = real.shape[0]
    per_draw = (fakes - real.repeat(fakes.shape[0] // b, *[1] * (real.dim() - 1))).abs()
    per_draw = per_draw.flatten(1).mean(1).view(-1, b)                             # (K, B)
    return per_draw.min(0).values.mean()


# ---------------------------------------------------------------------------------------------------------------
# Inference


def linear_blend(start: torch.Tensor, end: torch.Tensor, frames: int,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """The cross-dissolve baseline: frame t = (1 - w_t) x_s + w_t x_e with w_t = t / (T - 1). (B, 3, H, W) x 2 ->
    (B, 3, T, H, W); it fades, it does not move. `weight` (B, 1, T, H, W), if given, replaces w_t per pixel."""
    if weight is None:
        weight = torch.linspace(0, 1, frames, device=start.device, dtype=start.dtype).view(1, 1, frames, 1, 1)
    return (1 - weight) * start[:, :, None] + weight * end[:, :, None]


def blend_weight_logits(frames: int, like: torch.Tensor) -> torch.Tensor:
    """logit(t / (T - 1)) as (1, 1, T, 1, 1), so that a zero correction gives the linear blend; the two ends, which
    the keyframes replace, are clamped to half a step inside (0, 1) to stay finite."""
    w = torch.linspace(0, 1, frames, device=like.device, dtype=like.dtype).clamp(0.5 / (frames - 1),
                                                                                1 - 0.5 / (frames - 1))
    return torch.logit(w).view(1, 1, frames, 1, 1)


@dataclasses.dataclass
class InbetweenResult:
    """Generated clips and what the model saw."""

    frames: np.ndarray                  # uint8 (N, T, S, S, 3); frames[:, 0] and [:, -1] are the keyframes
    start: np.ndarray                   # uint8 (S, S, 3): the start keyframe as the model saw it
    end: np.ndarray                     # uint8 (S, S, 3)
    start_crop: CropBox                 # the centred square of each input that was resized to S x S
    end_crop: CropBox
    gates: list[np.ndarray]             # per block, (N, 2, T_l): g_s and g_e averaged over channels ([] if none)
    blend_weight: np.ndarray | None = None   # learned_blend: float32 (N, T, S, S), 0 = start's pixel, 1 = end's


class InbetweenPipeline:
    """`generate(start, end, num_samples, seed)`: two keyframes of any size in, N stochastic clips out. Holds G
    only (encoder, latent generator, decoder)."""

    def __init__(self, generator: InbetweenGenerator, cfg: InbetweenConfig, device: torch.device,
                 card: dict[str, Any] | None = None):
        self.generator, self.cfg, self.device, self.card = generator.eval().to(device), cfg, device, card or {}

    def prepare(self, image: np.ndarray, what: str = "keyframe") -> tuple[np.ndarray, CropBox]:
        """A user image (any size, RGB or grey) -> uint8 (S, S, 3) as the model sees it, and its crop box."""
        return center_square(as_rgb_uint8(image, min_side=8, what=what), self.cfg.image_size)

    def noise(self, num_samples: int, seed: int) -> torch.Tensor:
        """u (N, D): sample k is drawn from seed + k, so sample k of seed s is sample 0 of seed s + k."""
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        return torch.stack([torch.randn(self.cfg.noise_dim, generator=torch.Generator().manual_seed(int(seed) + k))
                            for k in range(num_samples)]).to(self.device)

    @torch.no_grad()
    def synthesize(self, start: np.ndarray, end: np.ndarray, num_samples: int = 1, seed: int = 0) -> InbetweenResult:
        """Clips from `start` to `end` with their crops and gates. See `generate`."""
        start_img, start_box = self.prepare(start, "start frame")
        end_img, end_box = self.prepare(end, "end frame")
        u = self.noise(num_samples, seed)
        x_s = image_to_tensor(start_img).to(self.device).expand(num_samples, -1, -1, -1)
        x_e = image_to_tensor(end_img).to(self.device).expand(num_samples, -1, -1, -1)
        video, weight, gates = self.generator.frames_and_blend_weight(x_s, x_e, u)
        clips = np.stack([tensor_to_frames(v) for v in with_keyframes(video, x_s, x_e)])
        clips[:, 0], clips[:, -1] = start_img, end_img                      # exactly the inputs, no float round trip
        curves = [torch.stack([g_s.mean(1), g_e.mean(1)], 1).cpu().numpy() for g_s, g_e in gates]
        return InbetweenResult(clips, start_img, end_img, start_box, end_box, curves,
                               None if weight is None else weight[:, 0].float().cpu().numpy())

    def generate(self, start: np.ndarray, end: np.ndarray, num_samples: int = 1, seed: int = 0) -> np.ndarray:
        """Two uint8 RGB keyframes of any size -> uint8 clips (N, T, S, S, 3), S = cfg.image_size.

        Each keyframe is centre-cropped to a square and resized to S x S (`synthesize` reports the crops); the
        first and last frame of every clip are those keyframes, the T - 2 frames between them are generated.
        Sample k uses the noise of seed + k.
        """
        return self.synthesize(start, end, num_samples, seed).frames

    def blend(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """The linear-blending baseline for the same keyframes: uint8 (T, S, S, 3)."""
        x_s, x_e = (image_to_tensor(self.prepare(im)[0]) for im in (start, end))
        return tensor_to_frames(linear_blend(x_s, x_e, self.cfg.frames))

    def flow_interpolation(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """The classical-flow baseline (`flow.interpolate_frames`, DIS flow) for the same keyframes: uint8
        (T, S, S, 3)."""
        return interpolate_frames(self.prepare(start)[0], self.prepare(end, "end frame")[0], self.cfg.frames)


def parameter_counts(nets: nn.ModuleDict) -> dict[str, int]:
    """Parameters per network, and per part of G (encoder, latent generator, decoder)."""
    count = lambda m: sum(p.numel() for p in m.parameters())                   # noqa: E731
    out = {name: count(net) for name, net in nets.items()}
    if "G" in nets:
        out.update({f"G.{part}": count(getattr(nets["G"], part)) for part in ("encoder", "latent", "decoder")})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: the paper's SSIM of the in-between frames to the true ones, next to two baselines


def inbetween_ssim(truth: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """The paper's similarity to the truth: SSIM (Gaussian 11x11, sigma 1.5) of the T - 2 in-between frames of
    each clip to the true ones, averaged over those frames. truth uint8 (T, S, S, 3); clips uint8 (N, T, S, S, 3)
    or one clip (T, S, S, 3). Returns (N,) float64 (or (1,))."""
    from ..metrics import ssim
    from ..video import frames_to_tensor

    clips = clips[None] if clips.ndim == 4 else clips
    fakes = torch.cat([frames_to_tensor(c)[:, :, 1:-1] for c in clips])                 # (N, 3, T-2, S, S)
    real = frames_to_tensor(truth)[:, :, 1:-1]
    return ssim(fakes, real.expand_as(fakes), reduction="none").double().numpy()


def inbetween_sample_ssim(pipeline: InbetweenPipeline, clips: list[np.ndarray], samples: int,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """Per true clip (uint8 (T, S, S, 3), keyframes = its first and last frame), `samples` stochastic clips from
    `pipeline` (seeds seed + i * samples, ...): {"mean": mean SSIM over the samples, "best": the best sample's
    SSIM (the paper's best-of-N)}, each (len(clips),)."""
    mean, best = [], []
    for i, truth in enumerate(clips):
        per_sample = inbetween_ssim(truth, pipeline.generate(truth[0], truth[-1], samples, seed=seed + i * samples))
        mean.append(per_sample.mean())
        best.append(per_sample.max())
    return {"mean": np.array(mean), "best": np.array(best)}


def inbetween_baseline_ssim(pipeline: InbetweenPipeline, clips: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per true clip, SSIM of the two deterministic baselines the pipeline offers (the same for any pipeline of
    that size and length): {"linear_blend": cross-dissolve, "flow_interpolation": classical DIS-flow
    interpolation}, each (len(clips),)."""
    out: dict[str, list[float]] = {"linear_blend": [], "flow_interpolation": []}
    for truth in clips:
        out["linear_blend"].append(inbetween_ssim(truth, pipeline.blend(truth[0], truth[-1]))[0])
        out["flow_interpolation"].append(inbetween_ssim(truth, pipeline.flow_interpolation(truth[0], truth[-1]))[0])
    return {k: np.array(v) for k, v in out.items()}


def evaluate(pipeline: InbetweenPipeline, num_items: int, samples: int = 10) -> dict[str, Any]:
    """The paper's SSIM protocol on held-out procedural clips: SSIM of the in-between frames to the true ones, the
    mean over `samples` stochastic samples and the best of them, next to the linear-blending and classical-flow
    baselines."""
    from ..data.inbetween_data import heldout_clips

    cfg = pipeline.cfg
    clips = [c.frames for c in heldout_clips(cfg.dataset, num_items, cfg.image_size, cfg.frames)]
    model, baselines = inbetween_sample_ssim(pipeline, clips, samples), inbetween_baseline_ssim(pipeline, clips)
    scores = {"ssim_mean": model["mean"], f"ssim_best_of_{samples}": model["best"],
              "ssim_linear_blend": baselines["linear_blend"],
              "ssim_flow_interpolation": baselines["flow_interpolation"]}
    protocol = (
        f"{num_items} held-out procedural {cfg.dataset} clips (seeds from inbetween_data.HELDOUT_SEED) of "
        f"{cfg.frames} frames at {cfg.image_size}x{cfg.image_size}; keyframes = the first and last true frame. "
        f"SSIM (Gaussian 11x11, sigma 1.5) of the {cfg.frames - 2} in-between frames to the true ones, averaged "
        f"over frames and clips: ssim_mean over {samples} samples per clip (seeds i*{samples}...), "
        f"ssim_best_of_{samples} the best sample per clip (the paper's protocol, which uses more samples), "
        f"ssim_linear_blend the cross-dissolve baseline, ssim_flow_interpolation the classical DIS-flow "
        f"interpolation baseline (flow.interpolate_frames).")
    return {**{k: round(float(np.mean(v)), 4) for k, v in scores.items()}, "protocol": protocol}


# ---------------------------------------------------------------------------------------------------------------
# Presets and the registry entry


def tiny() -> tuple[InbetweenConfig, TrainConfig]:
    return (InbetweenConfig(image_size=32, frames=8, noise_dim=8, encoder_channels=(4, 8, 8),
                            latent_channels=4, blocks_per_stage=1, decoder_channels=(8, 8, 4),
                            d_video_channels=4, d_video_layers=2, d_image_channels=4, d_image_stages=2),
            smoke_test_training())


def demo() -> tuple[InbetweenConfig, TrainConfig]:
    # The paper's structure at 64x64, T = 16 (3 encoder stages to an 8x8 latent, T/4 -> T/2 -> T, transposed-conv
    # decoder, both Ds), cut to what a 2-core CPU trains in under an hour: 2 of the 8 blocks per stage (L = 6),
    # about a quarter of the paper's G and D widths, the image D on 4 random in-between frames per clip, and two
    # additions of ours (module docstring): the decoder corrects the cross-dissolve, its frames and its weight per
    # pixel (output="learned_blend", with a full-resolution head beside the keyframes), and an L1 term to the true
    # frames (lambda_reconstruction). Why: adversarial-only training of the wider preset (L = 12, ~5 s a step on one
    # thread) drew colour checkerboards without the background at step 500 (SSIM 0.27 against 0.79 for blending),
    # with the L1 term but direct output this preset was at 0.34 against 0.71 at step 250, and with a correction
    # of the frames only (output="blend_residual", the recipe until 2026-12-07) it stayed below blending
    # (weights/inbetween/README.md).
    return (InbetweenConfig(encoder_channels=(32, 64, 128), latent_channels=32, blocks_per_stage=2,
                            decoder_channels=(48, 24, 12), d_video_channels=16, d_image_channels=16,
                            d_image_frames=4, output="learned_blend", lambda_reconstruction=20.0),
            TrainConfig(steps=2000, batch_size=4, lr_g=2e-4, lr_d=2e-4, ema_decay=0.995, log_every=10,
                        ckpt_every=250))


def demo_without_fusion() -> tuple[InbetweenConfig, TrainConfig]:
    # The paper's first ablation: no gates, the keyframes enter the latent video only at its start (z_0).
    cfg, train = demo()
    return dataclasses.replace(cfg, variant="without_fusion"), train


def demo_naive() -> tuple[InbetweenConfig, TrainConfig]:
    # The paper's second ablation: no latent representation generator, the keyframe codes decoded directly.
    cfg, train = demo()
    return dataclasses.replace(cfg, variant="naive"), train


def paper() -> tuple[InbetweenConfig, TrainConfig]:
    # The paper's sizes (the config defaults: L = 24, C = 64, E 1.58 M and decoder 4.74 M parameters, video D
    # 11.06 M, image D 6.14 M), batch 32, Adam 5e-5 (0.5, 0.999) for G and both Ds. Steps: our choice.
    return (InbetweenConfig(),
            TrainConfig(steps=500_000, batch_size=32, lr_g=5e-5, lr_d=5e-5, log_every=100, ckpt_every=5000))


def build_dataset(cfg: InbetweenConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    """Real clips exported as frames (data_root/<clip>/*.png|jpg) when given, else the procedural `cfg.dataset`."""
    from ..data.inbetween_data import build_training_data  # data code is not needed for inference

    return build_training_data(cfg.dataset, cfg.image_size, cfg.frames, train.seed, train.data_root)


SPEC = ModelSpec(
    name="inbetween", title="Video inbetweening: the frames between two keyframes (direct 3D convolutions)",
    paper="Li, Roblek & Tagliasacchi, From Here to There: Video Inbetweening Using Direct 3D Convolutions, 2019",
    paper_url="https://arxiv.org/abs/1905.10240", config_cls=InbetweenConfig,
    presets={"tiny": tiny, "demo": demo, "demo_without_fusion": demo_without_fusion, "demo_naive": demo_naive,
             "paper": paper},
    build_nets=build_nets, objective=InbetweenObjective, build_dataset=build_dataset, evaluate=evaluate,
    inference_net="G", build_pipeline=pipeline_loader(InbetweenPipeline, InbetweenGenerator),
)

"""Single-frame unsupervised video-to-video translation: MUNIT (Huang, Liu, Belongie & Kautz, ECCV 2018, arXiv
1804.04732) trained on still images with a temporal loss on synthetic motion (Wang & Feng, after ReReVST, Wang
et al., IEEE TIP 2020), and instance-norm statistics shared by the frames of a clip at inference.

MUNIT splits an image of domain i into a content code c = E_i^c(x) (a spatial map, domain-invariant) and a style
code s = E_i^s(x) (8 numbers, domain-specific); G_j(c, s) decodes with AdaIN whose parameters an MLP makes from s.
Translation A -> B is x_ab = G_b(E_a^c(x_a), s_b) with s_b ~ N(0, I) or the style code of a reference painting.
Losses (MUNIT Sec. 3.2, eqs. 1-5, plus the explicit cycle term of its released configs; weights as published):
    image reconstruction   |G_i(E_i^c(x_i), E_i^s(x_i)) - x_i|_1                           lambda_image   10
    content reconstruction |E_j^c(x_ij) - E_i^c(x_i)|_1                                      lambda_content  1
    style reconstruction   |E_j^s(x_ij) - s_j|_1, s_j ~ N(0, I)                              lambda_style    1
    cycle reconstruction   |G_i(E_j^c(x_ij), E_i^s(x_i)) - x_i|_1 (recon_x_cyc_w)           lambda_cycle   10
    GAN (LSGAN)            D_j on x_ij, multi-scale PatchGAN per domain                      lambda_gan      1
The temporal loss needs no video. A second frame is synthesised from each training image with a random smooth flow
O (flow.random_smooth_flow: a coarse Gaussian grid upsampled, a global shift, blurred) and a little noise,
    X^n = Warp(X^{n-1}, O) + N(0, sigma^2),
and every map G the paper regularises must commute with that motion (lambda_temporal 10):
    L_t = |G(X^n) - Warp(G(X^{n-1}), O)|_1
for G = the within-domain reconstruction, the cycle reconstruction, and the cross-domain translation with one
FIXED style code for both frames. At inference the normalisation statistics (mean/std of every instance norm,
AdaIN and layer norm of G) are computed once over frames sampled from the clip, with the std floored and the
normalised activations clamped to the range seen there, and reused for every frame (`shared_statistics`).

Reading guide (top to bottom):
  MunitVideoConfig             every setting, with its default
  SequenceNorm2d               instance / layer norm with per-frame, recording or shared statistics
  shared_statistics            the context that records statistics over sampled frames, then shares them
  MunitContentEncoder          E^c: 2 stride-2 downsamplings, 4 residual blocks, instance norm
  MunitStyleEncoder            E^s: 4 stride-2 convs, global average pooling, 1x1 conv to 8 numbers
  MunitDecoder                 G: AdaIN residual blocks (MLP of s), upsampling + layer norm, tanh
  MunitAutoEncoder             one domain's E^c, E^s and G
  MunitVideoGenerator          both domains; forward = MUNIT's whole training pass (one call, DDP-safe)
  (D per domain)               LSGAN PatchGANs at 1, 1/2, 1/4 resolution (layers.MultiscalePatchDiscriminator)
  MunitVideoObjective          G phase (MUNIT + temporal losses), then D phase
  MunitVideoPipeline           `generate(frames, direction, seed, style_image, shared_norm)`; no discriminators
  video_scores, evaluate       flicker under the input video's motion; Frechet distance to held-out paintings
  tiny / demo / paper, SPEC    the presets and the registry entry

Tensors: images (B, 3, H, W) in [-1, 1]; content (B, 4C, H/4, W/4); style (B, 8). Domain "a" = photos, "b" =
paintings.

Deviations from the papers, all switchable in the config or documented here:
  * AdaIN scales are 1 + gamma (gamma from the MLP), so an untrained decoder starts as plain instance norm; MUNIT
    uses gamma directly. Same expressiveness.
  * Layer norm uses the biased variance inside the square root (MUNIT: unbiased std plus eps); affine weights
    start at 1 (MUNIT: uniform random).
  * Each step updates G, then D on G's (detached) translations (the trainer's phase order, as vid2vid here); MUNIT
    alternates dis_update/gen_update with fresh samples. The synthetic second frame also enters the MUNIT losses
    (it is a valid training image), so the temporal version sees each image twice per step.
  * The temporal term on the fixed-style translation is ours (`temporal_translation`, on by default); the authors'
    code regularises the reconstructions and cycles only. Shared statistics cover every normalisation of G (also
    the decoder's layer norms), not only instance norm and AdaIN.
  * Discriminator scales end in a 3x3 conv (layers.PatchDiscriminator2d) where MUNIT's end in a 1x1 conv.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses
from ..config import TrainConfig, at_least, check_ranges, loss_weights, multiple_of, smoke_test_training
from ..flow import random_smooth_flow, warp
from ..layers import ConvBlock2d, MultiscalePatchDiscriminator, ResBlock2d, pad_to_multiple, patch_logits
from ..spec import ModelSpec, pipeline_loader
from ..trainer import Phase
from ..video import as_rgb_uint8, image_to_tensor, resize_image, tensor_to_image

DIRECTIONS = {"photo2painting": ("a", "b"), "painting2photo": ("b", "a")}   # (source domain, target domain)


@dataclasses.dataclass(frozen=True)
class MunitVideoConfig:
    image_size: int = 128            # training crops (square); the networks are fully convolutional
    inference_size: int = 256        # the pipeline works at this longest side (never upscaling the input)
    channels: int = 64               # width after the 7x7 stem; doubled per downsampling (MUNIT gen dim 64)
    style_dim: int = 8
    content_downsamples: int = 2
    content_res_blocks: int = 4      # also the decoder's AdaIN residual blocks
    style_downsamples: int = 4       # the first two double the width, the rest keep it
    mlp_dim: int = 256
    mlp_layers: int = 3
    d_channels: int = 64
    d_layers: int = 4
    d_scales: int = 3
    gan_loss: str = "lsgan"
    lambda_gan: float = 1.0
    lambda_image: float = 10.0
    lambda_content: float = 1.0
    lambda_style: float = 1.0
    lambda_cycle: float = 10.0       # MUNIT's explicit cycle reconstruction (recon_x_cyc_w)
    lambda_temporal: float = 10.0    # 0: plain MUNIT (no second frame is synthesised)
    temporal_translation: bool = True    # also regularise x_ab / x_ba with a fixed style (ours, see docstring)
    flow_max_shift: float = 6.0      # largest synthetic displacement, pixels at image_size (authors: ~10 at 256)
    flow_grid: tuple[int, int] = (2, 4)  # the coarse flow grid is g x g, g drawn in this range
    temporal_noise_std: float = 0.002    # noise on the synthetic frame, [-1, 1] units (authors: 0.001-0.002)
    shared_sample_frames: int = 8    # frames sampled evenly over a clip for the shared statistics
    shared_min_std: float = 0.01     # floor of the shared std (near-constant channels must not blow up)
    shared_clamp: bool = True        # clamp normalised activations to the range seen on the sampled frames

    def __post_init__(self):
        check_ranges(self, {
            "image_size": multiple_of(2 ** max(self.content_downsamples, self.style_downsamples)),
            "inference_size": multiple_of(self.multiple), "channels": at_least(1), "style_dim": at_least(1),
            "content_downsamples": at_least(0), "content_res_blocks": at_least(0), "style_downsamples": at_least(0),
            "mlp_dim": at_least(1), "mlp_layers": at_least(1), "d_channels": at_least(1), "d_layers": at_least(1),
            "d_scales": at_least(1), "flow_max_shift": at_least(0),
            "flow_grid": ((lambda g: len(g) == 2 and 1 <= g[0] <= g[1]), "two sizes 1 <= a <= b"),
            "temporal_noise_std": at_least(0), "shared_sample_frames": at_least(1),
            "shared_min_std": at_least(0), **loss_weights(self)})

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (the pipeline pads)."""
        return 2**self.content_downsamples


# ---------------------------------------------------------------------------------------------------------------
# Normalisation with shareable statistics


class SequenceNorm2d(nn.Module):
    """Instance norm (statistics per channel over H, W) or MUNIT's layer norm (over C, H, W), whose statistics are
    each frame's own or shared by the frames of a clip. `mode`:
      "frame"  (training, default) every sample is normalised with its own statistics;
      "record" the batch holds frames sampled from one clip: statistics pooled over all of them are used and kept,
               with the std floored at `min_std` and the per-channel range the normalised values took;
      "shared" every frame is normalised with the kept statistics, clamped to the kept range if `clamp`.
    Recording pools over the whole batch at every layer in one pass, so each layer's statistics are those of the
    activations the shared earlier layers produce. affine=False gives AdaIN's normalisation.
    """

    def __init__(self, channels: int, across_channels: bool = False, affine: bool = True, eps: float = 1e-5):
        super().__init__()
        self.dims = (1, 2, 3) if across_channels else (2, 3)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None
        self.mode, self.min_std, self.clamp = "frame", 0.0, False
        self.stats: tuple[torch.Tensor, ...] | None = None   # mean, std, low, high; not saved with the weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "frame" and len(self.dims) == 2:   # plain instance norm: torch's fused kernel is faster
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        if self.mode == "frame":                            # layer norm over (C, H, W), per-channel affine below
            y = F.layer_norm(x, x.shape[1:], eps=self.eps)
        elif self.mode == "shared":
            if self.stats is None:
                raise RuntimeError("shared statistics were not recorded: run the sampled frames first")
            mean, std, low, high = self.stats
            y = (x - mean) / std
            if self.clamp:
                y = torch.maximum(torch.minimum(y, high), low)
        else:                                               # "record": pool over the frames (batch) too
            dims = (0, *self.dims)
            mean = x.mean(dims, keepdim=True)
            std = (x.var(dims, keepdim=True, unbiased=False) + self.eps).sqrt().clamp_min(self.min_std)
            y = (x - mean) / std
            self.stats = (mean, std, y.amin((0, 2, 3), keepdim=True), y.amax((0, 2, 3), keepdim=True))
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


def _with_sequence_norms(module: nn.Module) -> nn.Module:
    """Replace every nn.InstanceNorm2d inside `module` (layers' blocks build them) by a SequenceNorm2d."""
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, SequenceNorm2d(child.num_features, affine=child.affine, eps=child.eps))
        else:
            _with_sequence_norms(child)
    return module


@contextlib.contextmanager
def shared_statistics(module: nn.Module, min_std: float = 0.01, clamp: bool = True) -> Iterator[Callable[[], None]]:
    """Share normalisation statistics across the frames of a clip inside the block (Wang & Feng; ReReVST's
    sequence-level feature sharing). The next forward pass records (its batch: frames sampled from the clip); call
    the yielded `freeze()` after it; every later pass reuses the statistics. Per-frame statistics on exit.

        with shared_statistics(generator) as freeze:
            translate(sampled_frames)
            freeze()
            outputs = [translate(chunk) for chunk in all_frames]
    """
    norms = [m for m in module.modules() if isinstance(m, SequenceNorm2d)]
    for norm in norms:
        norm.mode, norm.min_std, norm.clamp, norm.stats = "record", min_std, clamp, None

    def freeze() -> None:
        for norm in norms:
            norm.mode = "shared"

    try:
        yield freeze
    finally:
        for norm in norms:
            norm.mode, norm.stats = "frame", None


# ---------------------------------------------------------------------------------------------------------------
# Generator: encoders and decoder of one domain, both domains together


class MunitContentEncoder(nn.Module):
    """E^c: 7x7 stem, stride-2 4x4 convs doubling the width, residual blocks; instance norm throughout.
    (B, 3, H, W) -> (B, C * 2^d, H / 2^d, W / 2^d)."""

    def __init__(self, cfg: MunitVideoConfig):
        super().__init__()
        c, d = cfg.channels, cfg.content_downsamples
        layers: list[nn.Module] = [ConvBlock2d(3, c, 7)]
        layers += [ConvBlock2d(c * 2**i, c * 2 ** (i + 1), 4, 2) for i in range(d)]
        layers += [ResBlock2d(c * 2**d) for _ in range(cfg.content_res_blocks)]
        self.net = _with_sequence_norms(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MunitStyleEncoder(nn.Module):
    """E^s: no normalisation (it would remove the style), stride-2 convs, global average pooling, 1x1 conv.
    (B, 3, H, W) -> (B, style_dim)."""

    def __init__(self, cfg: MunitVideoConfig):
        super().__init__()
        c = width = cfg.channels
        layers: list[nn.Module] = [ConvBlock2d(3, c, 7, norm="none")]
        for _ in range(cfg.style_downsamples):
            layers.append(ConvBlock2d(width, min(2 * width, 4 * c), 4, 2, norm="none"))
            width = min(2 * width, 4 * c)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(width, cfg.style_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class MunitAdaINResBlock(nn.Module):
    """x + AdaIN(conv(relu(AdaIN(conv(x))))): instance norm whose scale and shift come from the style code."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1, padding_mode="reflect", bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, padding_mode="reflect", bias=False)
        self.norm1 = SequenceNorm2d(channels, affine=False)
        self.norm2 = SequenceNorm2d(channels, affine=False)

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """x (B, C, h, w); params (B, 4C) = gamma_1, beta_1, gamma_2, beta_2 from the style MLP."""
        g1, b1, g2, b2 = params[:, :, None, None].chunk(4, dim=1)
        h = F.relu(self.norm1(self.conv1(x)) * (1 + g1) + b1)
        return x + self.norm2(self.conv2(h)) * (1 + g2) + b2


class MunitDecoder(nn.Module):
    """G: AdaIN residual blocks driven by an MLP of the style code, then 2x nearest upsampling + 5x5 conv + layer
    norm + ReLU per level, then a 7x7 conv and tanh. (content, style) -> (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: MunitVideoConfig):
        super().__init__()
        c, d = cfg.channels, cfg.content_downsamples
        width = c * 2**d
        self.blocks = nn.ModuleList(MunitAdaINResBlock(width) for _ in range(cfg.content_res_blocks))
        mlp: list[nn.Module] = []
        dims = [cfg.style_dim] + [cfg.mlp_dim] * (cfg.mlp_layers - 1)
        for a, b in itertools.pairwise(dims):
            mlp += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*mlp, nn.Linear(dims[-1], 4 * width * cfg.content_res_blocks))
        up: list[nn.Module] = []
        for i in reversed(range(d)):
            up += [nn.Upsample(scale_factor=2, mode="nearest"),
                   nn.Conv2d(c * 2 ** (i + 1), c * 2**i, 5, 1, 2, padding_mode="reflect"),
                   SequenceNorm2d(c * 2**i, across_channels=True), nn.ReLU()]
        self.up = nn.Sequential(*up, nn.Conv2d(c, 3, 7, 1, 3, padding_mode="reflect"), nn.Tanh())

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style).chunk(len(self.blocks), dim=1)               # (B, 4 * width) per block
        h = content
        for block, p in zip(self.blocks, params, strict=True):
            h = block(h, p)
        return self.up(h)


class MunitAutoEncoder(nn.Module):
    """One domain: content encoder, style encoder and decoder (MUNIT's AdaINGen)."""

    def __init__(self, cfg: MunitVideoConfig):
        super().__init__()
        self.content_encoder = MunitContentEncoder(cfg)
        self.style_encoder = MunitStyleEncoder(cfg)
        self.decoder = MunitDecoder(cfg)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.content_encoder(x), self.style_encoder(x)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.decoder(content, style)


class MunitVideoGenerator(nn.Module):
    """Both domains' auto-encoders ("a" = photos, "b" = paintings): the network weights/ ships.

    forward() is MUNIT's whole training pass, so that a DDP wrapper sees one call per step; inference uses the
    domains' encode/decode directly.
    """

    def __init__(self, cfg: MunitVideoConfig):
        super().__init__()
        self.cfg = cfg
        self.domains = nn.ModuleDict({"a": MunitAutoEncoder(cfg), "b": MunitAutoEncoder(cfg)})

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor, style_a: torch.Tensor, style_b: torch.Tensor,
                cycle: bool = True) -> dict[str, torch.Tensor]:
        """x_a, x_b (B, 3, H, W); style_a, style_b (B, style_dim) random codes. Returns every tensor the losses need:
        codes c_a, s_a (own style), reconstructions x_aa, translations x_ab, re-encoded c_ab (should equal c_a) and
        s_ab (should equal style_b), cycles x_aba; and the same with a and b swapped."""
        A, B = self.domains["a"], self.domains["b"]
        c_a, s_a = A.encode(x_a)
        c_b, s_b = B.encode(x_b)
        out = {"c_a": c_a, "s_a": s_a, "c_b": c_b, "s_b": s_b,
               "x_aa": A.decode(c_a, s_a), "x_bb": B.decode(c_b, s_b),
               "x_ab": B.decode(c_a, style_b), "x_ba": A.decode(c_b, style_a)}
        out["c_ab"], out["s_ab"] = B.encode(out["x_ab"])
        out["c_ba"], out["s_ba"] = A.encode(out["x_ba"])
        if cycle:
            out["x_aba"] = A.decode(out["c_ab"], s_a)
            out["x_bab"] = B.decode(out["c_ba"], s_b)
        return out


def build_nets(cfg: MunitVideoConfig) -> nn.ModuleDict:
    """G (both domains' encoders and decoders, one weights file) and one multi-scale D per domain."""
    return nn.ModuleDict({"G": MunitVideoGenerator(cfg),   # MsImageDis: unnormalised PatchGANs, 3 channels in
                          **{name: MultiscalePatchDiscriminator(3, cfg.d_channels, cfg.d_layers, cfg.d_scales, "none")
                             for name in ("D_a", "D_b")}})


# ---------------------------------------------------------------------------------------------------------------
# Objective


def synthetic_next_frame(x: torch.Tensor, max_shift: float, grid: tuple[int, int],
                         noise_std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """X^n = Warp(X^{n-1}, O) + N(0, noise_std^2) with a random smooth flow O (B, 2, H, W) in pixels.

    Random numbers come from the global torch generator (on the CPU for the flow), so the trainer's saved RNG
    state makes resumed runs exact. Returns (X^n, O).
    """
    B, _, H, W = x.shape
    flow = random_smooth_flow(B, H, W, max_shift, grid).to(x)
    return warp(x, flow) + noise_std * torch.randn_like(x), flow


def temporal_loss(first: torch.Tensor, second: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """L_t = mean |G(X^n) - Warp(G(X^{n-1}), O)|: first = G(X^{n-1}), second = G(X^n), both (B, C, H, W)."""
    return (second - warp(first, flow)).abs().mean()


class MunitVideoObjective:
    """MUNIT's losses plus the temporal loss, as trainer phases: G (both domains' encoders and decoders), then D.

    A batch holds "a" (B, 3, H, W) photos and "b" (B, 3, H, W) paintings, unpaired.
    """

    def __init__(self, cfg: MunitVideoConfig):
        self.cfg = cfg

    def phases(self) -> list[Phase]:
        return [Phase("G", ("G",), self.generator_loss), Phase("D", ("D_a", "D_b"), self.discriminator_loss,
                                                               discriminator=True)]

    ema_nets = ("G",)

    def sample(self, nets, batch) -> dict[str, torch.Tensor]:
        """This step's random styles, synthetic next frames and G's outputs (`MunitVideoGenerator.forward`), plus
        the inputs they came from: x_a, x_b (N or 2N, 3, H, W), style_a, style_b, and flow_a, flow_b with the
        temporal loss."""
        cfg, x_a, x_b = self.cfg, batch["a"], batch["b"]
        n = x_a.shape[0]
        style_a = torch.randn(n, cfg.style_dim, device=x_a.device)
        style_b = torch.randn(n, cfg.style_dim, device=x_a.device)
        temporal, flows = cfg.lambda_temporal > 0, {}
        if temporal:  # frame pairs in one batch: [X^{n-1}; X^n], the same random style for both frames
            x_a2, flows["flow_a"] = synthetic_next_frame(x_a, cfg.flow_max_shift, cfg.flow_grid,
                                                         cfg.temporal_noise_std)
            x_b2, flows["flow_b"] = synthetic_next_frame(x_b, cfg.flow_max_shift, cfg.flow_grid,
                                                         cfg.temporal_noise_std)
            x_a, x_b = torch.cat([x_a, x_a2]), torch.cat([x_b, x_b2])
            style_a, style_b = style_a.repeat(2, 1), style_b.repeat(2, 1)
        out = nets["G"](x_a, x_b, style_a, style_b, cycle=cfg.lambda_cycle > 0 or temporal)
        return {**out, **flows, "x_a": x_a, "x_b": x_b, "style_a": style_a, "style_b": style_b}

    def _translations(self, nets, batch) -> dict[str, torch.Tensor]:
        """The Ds' fakes, made without gradients (when no G phase ran this step)."""
        with torch.no_grad():
            out = self.sample(nets, batch)
        return {"x_ab": out["x_ab"], "x_ba": out["x_ba"]}

    def generator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        n = batch["a"].shape[0]
        out = self.sample(nets, batch)
        x_a, x_b, style_a, style_b = out["x_a"], out["x_b"], out["style_a"], out["style_b"]
        state.share("translations", {"x_ab": out["x_ab"].detach(), "x_ba": out["x_ba"].detach()})

        l1 = F.l1_loss
        logs = {
            "adv_a": losses.g_loss(kind, patch_logits(nets["D_a"](out["x_ba"]))),
            "adv_b": losses.g_loss(kind, patch_logits(nets["D_b"](out["x_ab"]))),
            "image": l1(out["x_aa"], x_a) + l1(out["x_bb"], x_b),
            "content": l1(out["c_ab"], out["c_a"]) + l1(out["c_ba"], out["c_b"]),
            "style": l1(out["s_ab"], style_b) + l1(out["s_ba"], style_a),
        }
        total = (cfg.lambda_gan * (logs["adv_a"] + logs["adv_b"]) + cfg.lambda_image * logs["image"]
                 + cfg.lambda_content * logs["content"] + cfg.lambda_style * logs["style"])
        if "x_aba" in out:
            logs["cycle"] = l1(out["x_aba"], x_a) + l1(out["x_bab"], x_b)
            total = total + cfg.lambda_cycle * logs["cycle"]
        if cfg.lambda_temporal > 0:
            flow_a, flow_b = out["flow_a"], out["flow_b"]
            pairs = {"temporal_recon": (("x_aa", flow_a), ("x_bb", flow_b)),
                     "temporal_cycle": (("x_aba", flow_a), ("x_bab", flow_b))}
            if cfg.temporal_translation:
                pairs["temporal_translation"] = (("x_ab", flow_a), ("x_ba", flow_b))
            for name, terms in pairs.items():
                logs[name] = sum(temporal_loss(out[k][:n], out[k][n:], flow) for k, flow in terms)
            logs["temporal"] = sum(logs[name] for name in pairs)
            total = total + cfg.lambda_temporal * logs["temporal"]
        return total, logs

    def discriminator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        kind = self.cfg.gan_loss
        fakes = state.shared("translations", lambda: self._translations(nets, batch))
        d_a, d_b = nets["D_a"], nets["D_b"]
        loss_a = losses.d_loss(kind, patch_logits(d_a(batch["a"])), patch_logits(d_a(fakes["x_ba"])))
        loss_b = losses.d_loss(kind, patch_logits(d_b(batch["b"])), patch_logits(d_b(fakes["x_ab"])))
        return self.cfg.lambda_gan * (loss_a + loss_b), {"a": loss_a, "b": loss_b}


# ---------------------------------------------------------------------------------------------------------------
# Inference


class MunitVideoPipeline:
    """`generate(frames, direction, seed, style_image, shared_norm)`: a video (or one image) translated frame by
    frame, with shared normalisation statistics by default. Holds only G (encoders and decoders). The shared
    statistics live in G's norm layers while a clip is translated, so calls are serialised by a lock (the app may
    call one pipeline from several threads)."""

    def __init__(self, generator: MunitVideoGenerator, cfg: MunitVideoConfig, device: torch.device,
                 card: dict[str, Any] | None = None):
        self.generator, self.cfg, self.device, self.card = generator.eval().to(device), cfg, device, card or {}
        self._lock = threading.Lock()

    def style_code(self, direction: str, seed: int = 0, style_image: np.ndarray | None = None) -> torch.Tensor:
        """(1, style_dim): from N(0, I) drawn with `seed`, or the target domain's style encoding of style_image."""
        _, target = self._direction(direction)
        if style_image is None:
            gen = torch.Generator().manual_seed(int(seed))
            return torch.randn(1, self.cfg.style_dim, generator=gen).to(self.device)
        image = as_rgb_uint8(style_image, min_side=16, what="style image")
        image = resize_image(image, self._work_size(*image.shape[:2]))
        x, _ = pad_to_multiple(image_to_tensor(image).to(self.device), self.cfg.multiple)
        with torch.no_grad():
            return self.generator.domains[target].style_encoder(x)

    @torch.no_grad()
    def generate(self, frames: np.ndarray, direction: str = "photo2painting", seed: int = 0,
                 style_image: np.ndarray | None = None, shared_norm: bool = True, chunk: int = 8,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Translate uint8 frames (T, H, W, 3) (T = 1 for an image) -> uint8 (T, H, W, 3).

        Args:
            direction: "photo2painting" (domain a -> b) or "painting2photo".
            seed: draws the style code (one for every frame) when no style_image is given.
            style_image: uint8 RGB reference of the target domain; its encoded style is used for every frame.
            shared_norm: normalisation statistics computed once over `cfg.shared_sample_frames` frames sampled
                evenly from the clip and shared by all frames (the paper's inference); False: per frame (MUNIT).
            chunk: frames translated at once (memory); results do not depend on it (beyond float rounding).
            progress: called with (frames done, total).
        Frames are resized so that the longest side is at most cfg.inference_size, padded to a multiple of
        cfg.multiple, translated, and resized back to (H, W): the output has the model's resolution, not the
        input's detail.
        """
        frames = self._check_frames(frames)
        source, target = self._direction(direction)
        T, H, W = frames.shape[:3]
        style = self.style_code(direction, seed, style_image)
        size = self._work_size(H, W)
        encode, decode = self.generator.domains[source].content_encoder, self.generator.domains[target].decoder

        def translate(indices) -> torch.Tensor:
            """Frames `indices` -> (n, 3, h, w) translated at the working size (frames are converted per chunk,
            so a long video never sits in memory as float tensors)."""
            x = torch.cat([image_to_tensor(resize_image(frames[i], size)) for i in indices]).to(self.device)
            x, (ph, pw) = pad_to_multiple(x, self.cfg.multiple)
            y = decode(encode(x), style.expand(len(x), -1))
            return y[..., : y.shape[-2] - ph, : y.shape[-1] - pw]

        out = np.empty_like(frames)
        todo = list(range(T))

        def keep(indices, images: torch.Tensor) -> None:
            for i, image in zip(indices, images, strict=True):
                out[i] = resize_image(tensor_to_image(image), (H, W))
            if progress is not None:
                progress(T - len(todo), T)

        with self._lock, contextlib.ExitStack() as stack:
            if shared_norm:
                freeze = stack.enter_context(shared_statistics(self.generator, self.cfg.shared_min_std,
                                                               self.cfg.shared_clamp))
                sampled = np.unique(np.linspace(0, T - 1, min(T, self.cfg.shared_sample_frames)).round().astype(int))
                recorded = translate(sampled)
                freeze()                                                     # the clip's statistics are recorded
                # The recording pass already gave the sampled frames their shared-statistics output (the same
                # statistics, and their values lie inside the clamp range by construction): keep it.
                todo = [i for i in todo if i not in set(sampled.tolist())]
                keep(sampled, recorded)
            remaining = todo
            for start in range(0, len(remaining), chunk):
                indices = remaining[start:start + chunk]
                todo = remaining[start + chunk:]
                keep(indices, translate(indices))
        return out

    def _work_size(self, h: int, w: int) -> tuple[int, int]:
        scale = min(1.0, self.cfg.inference_size / max(h, w))
        return max(8, round(h * scale)), max(8, round(w * scale))

    @staticmethod
    def _direction(direction: str) -> tuple[str, str]:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(map(repr, DIRECTIONS))}; got {direction!r}")
        return DIRECTIONS[direction]

    @staticmethod
    def _check_frames(frames: np.ndarray) -> np.ndarray:
        if not isinstance(frames, np.ndarray):
            raise ValueError(f"frames must be a numpy array (T, H, W, 3), got {type(frames).__name__}")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be RGB video frames (T, H, W, 3) (one image: image[None]); got shape "
                             f"{frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (0..255), got {frames.dtype}")
        if frames.shape[0] == 0:
            raise ValueError("frames hold no frames (T = 0)")
        if min(frames.shape[1:3]) < 16:
            raise ValueError(f"frames must be at least 16x16 pixels, got {frames.shape[2]}x{frames.shape[1]}")
        return np.ascontiguousarray(frames)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: flicker under the input video's motion, and a Frechet distance to held-out paintings


def video_scores(pipelines: dict[str, MunitVideoPipeline], videos: list[tuple[str, np.ndarray]],
                       seed: int = 0) -> dict[str, dict[str, float]]:
    """The paper's two measures for each of `pipelines` on the same clips `videos` ((source, uint8 (T, S, S, 3))):
      warp_error_shared_norm / _per_frame_norm: the temporal loss as a metric, mean |warp(y_(t-1), f_t) - y_t| of
        the translation y under the INPUT video's DIS flows f_t over the pixels the forward-backward check finds
        visible (`metrics.VideoMotion`), with normalisation statistics shared by the clip or per frame;
      frechet_efficientnet_lite0: Frechet distance between all translated frames (shared statistics) and as many
        held-out paintings, on pooled ImageNet EfficientNet-Lite0 features (a stand-in for FID, not comparable).
    Plus "input": the input video's own warp error (the reference) and its frames' Frechet distance to the paintings.
    Clip i is translated photo2painting with style seed `seed + i` by every pipeline."""
    from ..data import paintings
    from ..metrics import VideoMotion, efficientnet_frechet

    errors: dict[str, dict[str, list[float]]] = {name: {"warp_error_shared_norm": [], "warp_error_per_frame_norm": []}
                                                 for name in pipelines}
    translated: dict[str, list[np.ndarray]] = {name: [] for name in pipelines}
    input_errors = []
    for i, (_, clip) in enumerate(videos):
        motion = VideoMotion.of(clip)                                     # the flows once, for every pipeline
        input_errors.append(motion.warp_error(clip))
        for name, pipeline in pipelines.items():
            for key, shared in (("warp_error_shared_norm", True), ("warp_error_per_frame_norm", False)):
                out = pipeline.generate(clip, "photo2painting", seed=seed + i, shared_norm=shared)
                errors[name][key].append(motion.warp_error(out))
                if shared:
                    translated[name].append(out)
    inputs = np.concatenate([clip for _, clip in videos])                                    # (N * T, S, S, 3)
    references = paintings.heldout_paintings(len(inputs), inputs.shape[1])
    scores = {name: {k: round(float(np.mean(v)), 4) for k, v in errors[name].items()} for name in pipelines}
    for name in pipelines:
        scores[name]["frechet_efficientnet_lite0"] = round(
            efficientnet_frechet(np.concatenate(translated[name]), references), 3)
    scores["input"] = {"warp_error": round(float(np.mean(input_errors)), 4),
                       "frechet_efficientnet_lite0": round(efficientnet_frechet(inputs, references), 3)}
    return scores


def evaluate(pipeline: MunitVideoPipeline, num_items: int) -> dict[str, Any]:
    """`video_scores` of the model on `num_items` held-out clips (real videos when present, camera pans over a
    held-out photo), for the card."""
    from ..data import paintings

    size, frames = 128, 8
    videos = paintings.heldout_videos(num_items, size, frames)
    scores = video_scores({"model": pipeline}, videos)
    out: dict[str, Any] = {**scores["model"], "warp_error_input": scores["input"]["warp_error"],
                           "frechet_efficientnet_lite0_input_photos": scores["input"]["frechet_efficientnet_lite0"]}
    where = ", ".join(sorted({name for name, _ in videos}))
    out["protocol"] = (
        f"{num_items} held-out clips of {frames} frames at {size}x{size} ({where}; no training source), "
        f"translated photo2painting with style seed = clip index. warp_error: mean "
        f"|warp(y_(t-1), f_t) - y_t| (in [-1, 1] units) of the output y under the INPUT video's DIS flows f_t, "
        f"over pixels the forward-backward check finds visible (the paper's temporal loss as a metric), with "
        f"normalisation statistics shared over {pipeline.cfg.shared_sample_frames} sampled frames (the paper's "
        f"inference) or per frame (plain MUNIT); warp_error_input: the same for the input video (a reference, "
        f"not a floor: smoothing lowers it). "
        f"frechet_efficientnet_lite0: Frechet distance between all translated frames and as many held-out "
        f"paintings (this project's renderer, unseen seeds, held-out photos) on pooled ImageNet EfficientNet-Lite0 "
        f"features: a stand-in for FID, NOT comparable to published FID; _input_photos: the untranslated frames "
        f"against the same paintings.")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Presets and the registry entry


def tiny() -> tuple[MunitVideoConfig, TrainConfig]:
    return (MunitVideoConfig(image_size=32, inference_size=64, channels=4, content_res_blocks=1,
                             style_downsamples=2, mlp_dim=16, mlp_layers=2, d_channels=4, d_layers=2,
                             d_scales=2, flow_max_shift=2.0, shared_sample_frames=3),
            smoke_test_training())


def demo() -> tuple[MunitVideoConfig, TrainConfig]:
    # MUNIT's structure (2 downsamplings, 4 residual blocks, 8-d style, 3 D scales) at a quarter of its generator
    # widths (D at half), 128 px, batch 1. Measured on one thread: ~1.0 s/step without the temporal loss, ~1.65 s
    # with it (the second frame doubles the batch); ~0.65 s/step without it on two free threads.
    # The shipped weights (weights/munit_video/README.md): plain MUNIT (lambda_temporal=0) for 3000 steps, then
    # each lambda_t variant fine-tuned 500 more steps from that checkpoint (ema_decay=0.99, so that the exported
    # average reflects the fine-tuning). A first trial that trained lambda_t = 10 from scratch for 1500 steps with
    # D at a quarter width gave a blurry tinted copy that ignored the style code, and was not shipped.
    return (MunitVideoConfig(channels=16, mlp_dim=64, d_channels=32),
            TrainConfig(steps=1500, batch_size=1, lr_g=2e-4, lr_d=2e-4, log_every=10, ckpt_every=250))


def paper() -> tuple[MunitVideoConfig, TrainConfig]:
    # MUNIT's published setting (gen dim 64, mlp 256, D 64 x 4 layers x 3 scales, LSGAN, weights 1/10/1/1/10) at
    # 256 px, batch 1, Adam 1e-4 (0.5, 0.999); the temporal loss 10 with ~10 px synthetic motion at 256 px. MUNIT
    # also uses weight decay 1e-4 and halves the rate every 100k steps; the shared trainer has neither.
    return (MunitVideoConfig(image_size=256, inference_size=512, flow_max_shift=10.0),
            TrainConfig(steps=1_000_000, batch_size=1, lr_g=1e-4, lr_d=1e-4, log_every=100, ckpt_every=5000))


def build_dataset(cfg: MunitVideoConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    """data_root/trainA (photos) + data_root/trainB (paintings) when given, else photos from installed packages
    (and shared/data videos when present) against painterly renders of a disjoint set of them."""
    from ..data.paintings import build_training_data  # data code is not needed for inference

    return build_training_data(cfg.image_size, train.seed, train.data_root)


SPEC = ModelSpec(
    name="munit_video", config_cls=MunitVideoConfig,
    title="Photo to painting without flicker (MUNIT + temporal loss)",
    paper=("Wang & Feng, Single-Frame Unsupervised Video-to-Video Translation: MUNIT (Huang et al., ECCV 2018) "
           "with a temporal loss on synthetic flow and instance-norm statistics shared across a clip (after "
           "ReReVST, Wang et al., IEEE TIP 2020)"),
    paper_url="https://arxiv.org/abs/1804.04732",
    presets={"tiny": tiny, "demo": demo, "paper": paper},
    build_nets=build_nets, objective=MunitVideoObjective, build_dataset=build_dataset, evaluate=evaluate,
    inference_net="G", build_pipeline=pipeline_loader(MunitVideoPipeline, MunitVideoGenerator),
)

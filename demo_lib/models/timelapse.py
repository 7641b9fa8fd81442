"""End-to-End Time-Lapse Video Synthesis from a Single Outdoor Image (Nam et al., CVPR 2019, arXiv 1904.00680).

One outdoor photo I, N requested hours t_1..t_N and one latent z in, N frames of the same place at those hours out.
z is shared by all N frames: it stands for what a day has in common (weather, colour mood) and ties them together.

Reading guide (top to bottom):
  TimelapseConfig              every setting, with its default
  time_features                the hour as (cos 2pi t/24, sin 2pi t/24): 23:59 is next to 00:00
  TimelapseGenerator           G_B: encoder E(I) once, residual blocks on [E(I), t_n, z] tiled, decoder, per frame
  TimelapseDomainMapper        G_A: maps G_B's clean time-lapse frames into the webcam domain A
  TimelapseSetDiscriminator    conditional D on an unordered set of (frame, hour): shared CNN, max over frames
  (unconditional per-frame D)  layers.PatchDiscriminator2d
  TimelapseObjective           the two-domain losses and the paper's update order: D_A and D_B, then G_A, then G_B
  apply_affine                 out = A x + b per pixel: the "affine" output mode, and guided upsampling's last step
  apply_gain                   out = g x + c per channel, g > 0: the "gain" output mode (cannot invert or flatten)
  GuidedUpsampler              the colour change predicted at low resolution, moved onto the full-resolution photo
  TimelapsePipeline            inference: `generate(image, times, seed)`; never builds discriminators
  HourEstimator, timestamp_error   evaluation: each frame dated against ground-truth renders of its scene
  evaluate                     the weights card's timestamp error, with the estimator's floor and time-blind baselines
  tiny / demo / demo_affine / demo_gain / paper, SPEC    the presets and the registry entry

Tensors: images (B, 3, H, W), frame sets (B, 3, N, H, W), values in [-1, 1]; hours are floats in [0, 24).

Deviations from the paper, all switchable in the config:
  * `lambda_anchor` (ours; 0 in the `paper` preset): an L1 between G_B's frames and the same camera's webcam frames
    at the requested hours, after 8x average pooling so only the colour layout is matched and detail and weather
    stay with the GAN terms and z. A static webcam archive (AMOS) has these pairs; the paper does not use them.
    It makes short CPU training converge; without it the method is purely adversarial as published.
  * `lambda_div` (ours; 0 in `paper`): a mode-seeking term (MSGAN) so that z is not ignored in short training runs;
    where it draws a second z, the anchor above takes the better of the two samples ("best of many"), so z can
    pick the weather instead of every sample being pulled to the average one.
  * `coords` (ours; on by default, off in `paper`): x and y maps in [-1, 1] join [t_n, z] in G_B's residual blocks and
    the hour in the set D. Convolutions with reflect padding are blind to position: without the maps, G_B cannot put
    the sun's glow on the left in the morning and on the right in the evening (the procedural sun rises on the left;
    real cameras face any way, so the side would be learned per dataset), and the set D, mean-pooled over space,
    cannot ask for it. With them the sun moves across generated skies; on their own they did not lower the timestamp
    error (2.01 h at 4141 steps against 1.91 h at 5000 without them), but with the learning rates then decaying to 0
    the 8400-step `demo` run reaches 1.70 h (weights/timelapse/README.md).
  * `mismatch_mirror` (ours; 0 by default): a share of the set D's mismatched stamps are the real ones mirrored
    about noon (8:00 <-> 16:00, sunrise <-> sunset) instead of shifted at random. A trained set D scores such sets
    as real (its mismatch loss went from 0.002 to 0.24 when they appeared), so it had not been asking G for the
    difference; in a paired 800-step trial it lowered the timestamp error by about 0.1 h. The shipped weights are the
    8400-step run fine-tuned 7500 steps with it at 0.5 (the last 2500 after the renderer's night-sky fix): 1.33 h
    on the benchmark's scenes (weights/timelapse/README.md).
  * `output="affine"` (ours; "pixels", the paper's, by default): instead of drawing each frame, which guided
    upsampling then carries to the photo's resolution, G_B predicts per pixel an affine colour transform
    out = A x + b of the photo (3x3 A and b; `apply_affine`), starting as the identity. The transform is smooth at
    the working resolution and applied to the full-resolution photo, so the frame keeps the photo's detail where a
    drawn frame (hazy at 64 px) loses it: the guided filter's fit A = cov(photo, frame) / var(photo) shrinks with
    every disagreement (issue 25 measured 0.26-0.40 of the photo's detail kept). As in bilateral-grid methods
    (Gharbi et al. 2017, HDRNet), at the price of soft transitions where the colour change jumps (a bright sky over a
    dark street).
  * `output="gain"` (ours): the transform constrained to a positive gain and an offset per colour channel, in
    [0, 1] units (`apply_gain`): light times reflectance plus haze or glow. The frame's detail is the photo's times
    the gain, its edges never invert (the unconstrained affine head learned inversions and flat haze in a short
    trial), and with `transform_level` the transform lives on a coarse grid (16x16 at 64 px for level 2), so G_B can
    relight the photo but not repaint it.
  * `lambda_identity` (ours; 0 by default): an L1 between G_B's frame at the photo's own hour and the photo. The
    photo is a frame of its own day, so at its hour nothing should change; with the "gain" output this asks for
    gain 1 and offset 0 there and, through the smooth dependence on the hour, keeps a daytime photo's daytime frames
    close to it. Without it a 3149-step "gain" probe put a whitish veil (gain below 1 plus an offset) over the day.
  * Layer sizes are ours (the paper's are not public); the frames are generated jointly (one E(I), one z) and judged
    jointly by the set discriminator, as in the paper.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses
from ..config import TrainConfig, at_least, check_ranges, loss_weights, multiple_of, positive, smoke_test_training
from ..layers import (
    ConvBlock2d,
    PatchDiscriminator2d,
    ResBlock2d,
    UpBlock2d,
    box_filter,
    pad_to_multiple,
    with_coordinates,
)
from ..spec import ModelSpec, pipeline_loader
from ..trainer import Phase
from ..video import as_rgb_uint8, fit_within, fold_time, image_to_tensor, resize_image, to_uint8, unfold_time


@dataclasses.dataclass(frozen=True)
class TimelapseConfig:
    image_size: int = 64            # training resolution (square); the nets are fully convolutional
    frames: int = 4                 # N: frames generated jointly and judged as one set
    z_dim: int = 16                 # the latent shared by the N frames
    g_channels: int = 16            # G_B width at full resolution, doubled per downsampling (16, 32, 64, 128)
    g_downsamples: int = 3          # G_B works at 1/2^3 resolution in its residual blocks
    g_res_blocks: int = 4
    coords: bool = True             # (x, y) maps beside [t_n, z] in G_B's res blocks and in the set D (see below)
    mapper_channels: int = 16       # G_A width
    mapper_blocks: int = 2
    d_channels: int = 32            # both discriminators
    d_layers: int = 3
    gan_loss: str = "lsgan"         # lsgan | hinge | non_saturating
    lambda_adv_b: float = 1.0       # D_B unconditional, real time-lapse clips vs G_B
    lambda_adv_a: float = 1.0       # D_A unconditional, real webcam frames vs G_A(G_B)
    lambda_cond: float = 1.0        # D_A conditional set: real+stamps vs generated vs mismatched stamps
    lambda_rec: float = 10.0        # |G_A(G_B) - G_B|: the domain mapping must not change the hour's look
    lambda_anchor: float = 10.0     # ours: pooled L1 to same-camera frames at the requested hours (see docstring)
    anchor_pool: int = 8
    lambda_div: float = 1.0         # ours: mode seeking on z (see docstring)
    lambda_identity: float = 0.0    # ours: |G_B(I, h_I, z) - I|: at the photo's own hour the photo comes back (below)
    mismatch_min_hours: float = 4.0  # mismatched stamps are moved by at least this many hours
    mismatch_mirror: float = 0.0    # ours: share of mismatched sets stamped t -> 24 - t (8:00 <-> 16:00) instead
    output: str = "pixels"          # "pixels": G_B draws each frame and guided upsampling carries it to the photo's
                                    #   resolution (the paper); "affine" / "gain": G_B predicts a colour transform
                                    #   of the photo per pixel, applied to the full-resolution photo (ours, below)
    transform_level: int = 0        # "affine" / "gain": the transform is predicted at 1/2^level of the working
                                    #   resolution (a coarser grid cannot repaint detail; decoding stops there)
    guided_radius: int = 2          # guided upsampling window radius, in low-resolution pixels ("pixels" only)
    guided_eps: float = 1e-3        # guided filter regulariser (images in [0, 1])

    def __post_init__(self):
        check_ranges(self, {
            "image_size": multiple_of(2 ** self.g_downsamples), "frames": at_least(1), "z_dim": at_least(1),
            "g_channels": at_least(1), "g_downsamples": at_least(0), "g_res_blocks": at_least(0),
            "mapper_channels": at_least(1), "mapper_blocks": at_least(0), "d_channels": at_least(1),
            "d_layers": at_least(1), "anchor_pool": at_least(1), "mismatch_min_hours": ((lambda v: 0 <= v <= 12),
                                                                                          "in [0, 12] hours"),
            "mismatch_mirror": ((lambda v: 0 <= v <= 1), "in [0, 1]"), "guided_radius": at_least(1),
            "guided_eps": positive(), **loss_weights(self)})
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if not 0 <= self.transform_level <= self.g_downsamples or (self.transform_level and self.output == "pixels"):
            raise ValueError(f"transform_level must be in [0, g_downsamples] and needs output 'affine' or 'gain', "
                             f"got {self.transform_level} with output={self.output!r}")


OUTPUTS = ("pixels", "affine", "gain")
TRANSFORM_CHANNELS = {"affine": 12, "gain": 6}      # numbers per pixel of each transform (apply_transform)


def time_features(hours: torch.Tensor) -> torch.Tensor:
    """(...) hours -> (..., 2) = (cos 2pi t/24, sin 2pi t/24)."""
    angle = hours * (2 * math.pi / 24.0)
    return torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)


# ---------------------------------------------------------------------------------------------------------------
# Generators


class TimelapseGenerator(nn.Module):
    """G_B: (I, t_1..t_N, z) -> N frames.

    The encoder runs once per photo. Instance norm in the encoder makes E(I) blind to the photo's own brightness
    and tint (its hour is unknown); the residual blocks and decoder have no normalisation, because per-frame
    normalisation would erase exactly the global brightness and colour that the hour must set. Skip connections
    from the encoder carry the photo's structure to the output.
    """

    def __init__(self, cfg: TimelapseConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.g_channels
        # Narrow where the maps are large, wide where they are small: the cost per level stays about the same.
        widths = [c * 2**i for i in range(cfg.g_downsamples + 1)]                  # e.g. 16, 32, 64, 128
        self.stem = ConvBlock2d(3, widths[0], 5, 1, norm="instance", act="relu")
        self.down = nn.ModuleList(ConvBlock2d(widths[i], widths[i + 1], 4, 2, norm="instance", act="relu")
                                  for i in range(cfg.g_downsamples))
        cond = 2 + cfg.z_dim + (2 if cfg.coords else 0)
        self.blocks = nn.ModuleList(ResBlock2d(widths[-1], cond, norm="none", act="lrelu")
                                    for _ in range(cfg.g_res_blocks))
        # Decoder level i: upsample from widths[i+1], concatenate the encoder skip of width widths[i]; down to the
        # output's level (0, the working resolution, unless a transform is predicted on a coarser grid).
        levels = list(reversed(range(cfg.transform_level, cfg.g_downsamples)))
        self.up = nn.ModuleList(UpBlock2d(widths[i + 1], widths[i], norm="none", act="lrelu") for i in levels)
        self.fuse = nn.ModuleList(ConvBlock2d(2 * widths[i], widths[i], 3, 1, norm="none", act="lrelu")
                                  for i in levels)
        if cfg.output != "pixels":
            # The transform's numbers per pixel, from zero weights and a bias that makes it the identity, so the
            # untrained head returns the photo itself. "affine": A (3x3, row-major) and b of out = A x + b;
            # "gain": log-gains and offsets per channel (apply_transform).
            width = widths[cfg.transform_level]
            self.to_affine = nn.Conv2d(width, TRANSFORM_CHANNELS[cfg.output], 3, 1, 1, padding_mode="reflect")
            nn.init.zeros_(self.to_affine.weight)
            with torch.no_grad():
                self.to_affine.bias.copy_(torch.cat([torch.eye(3).flatten(), torch.zeros(3)])
                                          if cfg.output == "affine" else torch.zeros(6))
        else:
            self.to_rgb = nn.Conv2d(widths[0], 3, 3, 1, 1, padding_mode="reflect")

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (pad with layers.pad_to_multiple)."""
        return 2**self.cfg.g_downsamples

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> the encoder's feature maps, full resolution first, bottleneck last."""
        feats = [self.stem(image)]
        for down in self.down:
            feats.append(down(feats[-1]))
        return feats

    def decode(self, feats: list[torch.Tensor], times: torch.Tensor, z: torch.Tensor,
               image: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder features of B photos, hours (B, N), z (B, z_dim) -> frames (B, 3, N, H, W).

        With `output="affine"` or "gain" the frames are `apply_transform(self.head(...), image)`: `image`
        (B, 3, H, W) is the photo the features were encoded from."""
        head = self.head(feats, times, z)                                           # (B*N, C, H', W')
        if self.cfg.output != "pixels":
            if image is None:
                raise ValueError(f"output={self.cfg.output!r} transforms the photo: decode needs the image")
            out = apply_transform(self.cfg.output, head, image.repeat_interleave(times.shape[1], dim=0))
        else:
            out = head
        return unfold_time(out, times.shape[0])

    def head(self, feats: list[torch.Tensor], times: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The per-frame output, (B*N, C, H', W'): the frame in [-1, 1] at the working resolution (C = 3, "pixels"),
        or the colour transform of the photo at 1/2^transform_level of it (C = TRANSFORM_CHANNELS[output])."""
        B, N = times.shape
        cond = torch.cat([time_features(times).reshape(B * N, 2), z.repeat_interleave(N, dim=0)], dim=1)
        h = feats[-1].repeat_interleave(N, dim=0)                                   # (B*N, C, h, w)
        cond_map = cond[:, :, None, None].expand(-1, -1, *h.shape[-2:])            # [t_n, z] tiled over space
        if self.cfg.coords:
            cond_map = with_coordinates(cond_map)                                   # [t_n, z, x, y]
        for block in self.blocks:
            h = block(h, cond_map)
        for up, fuse, skip in zip(self.up, self.fuse, reversed(feats[:-1])):     # stops at the output's level
            h = fuse.forward_concat(up(h), skip, N)    # fuse(cat[up(h), skip]); the skip's half of it once per photo
        return self.to_affine(h) if self.cfg.output != "pixels" else torch.tanh(self.to_rgb(h))

    def forward(self, image: torch.Tensor, times: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(image), times, z, image)


class TimelapseDomainMapper(nn.Module):
    """G_A: a frame in domain B (clean time-lapse) -> the same frame as a domain-A webcam would show it.

    A residual in logit space, atanh(x) + r, so the output stays in (-1, 1) without clamping away gradients.
    """

    def __init__(self, cfg: TimelapseConfig):
        super().__init__()
        c = cfg.mapper_channels
        self.net = nn.Sequential(
            ConvBlock2d(3, c, 3, 1, norm="none", act="lrelu"),
            *[ConvBlock2d(c, c, 3, 1, norm="none", act="lrelu") for _ in range(cfg.mapper_blocks)],
            nn.Conv2d(c, 3, 3, 1, 1),
        )
        nn.init.zeros_(self.net[-1].weight)  # start as the identity map
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, N, H, W) -> (B, 3, N, H, W)."""
        x = fold_time(frames)
        out = torch.tanh(torch.atanh(x.clamp(-0.999, 0.999)) + self.net(x))
        return unfold_time(out, frames.shape[0])


# ---------------------------------------------------------------------------------------------------------------
# Discriminators (the per-frame ones see a set as a batch of images: video.fold_time)


class TimelapseSetDiscriminator(nn.Module):
    """Conditional D on a set {(frame_n, t_n)}: does every frame look like its stamped hour?

    Each pair is encoded by the same CNN (frame features, then the hour tiled and mixed in by a conv), pooled over
    space to a vector, and the vectors are max-pooled over the N frames, so the score cannot depend on their
    order (a set, not a sequence) and one frame at the wrong hour is enough to flag the set. An MLP head scores it.
    """

    def __init__(self, cfg: TimelapseConfig):
        super().__init__()
        c = cfg.d_channels
        layers: list[nn.Module] = []
        ch_in = 3
        for i in range(cfg.d_layers):
            ch = c * 2**i
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch_in = ch
        self.frame_encoder = nn.Sequential(*layers)
        self.cfg = cfg
        extra = 2 + (2 if cfg.coords else 0)                                        # the hour, and x, y
        self.pair_encoder = nn.Sequential(nn.Conv2d(ch_in + extra, ch_in, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                          nn.Conv2d(ch_in, ch_in, 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Sequential(nn.Linear(ch_in, ch_in), nn.LeakyReLU(0.2, True), nn.Linear(ch_in, 1))

    def forward(self, frames: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """frames (B, 3, N, H, W), hours (B, N) -> set logits (B, 1)."""
        B, _, N = frames.shape[:3]
        h = self.frame_encoder(fold_time(frames))                                   # (B*N, C, h, w)
        t = time_features(times).reshape(B * N, 2)[:, :, None, None].expand(-1, -1, *h.shape[-2:])
        if self.cfg.coords:
            t = with_coordinates(t)                                                 # where, as well as when
        pair = self.pair_encoder(torch.cat([h, t], dim=1)).mean(dim=(2, 3))          # (B*N, C)
        pooled = pair.reshape(B, N, -1).amax(dim=1)                                  # permutation-invariant
        return self.head(pooled)


def build_nets(cfg: TimelapseConfig) -> nn.ModuleDict:
    """Every network trained by the two-domain scheme."""
    return nn.ModuleDict({
        "G_B": TimelapseGenerator(cfg),
        "G_A": TimelapseDomainMapper(cfg),
        "D_B": PatchDiscriminator2d(3, cfg.d_channels, cfg.d_layers),
        "D_A": PatchDiscriminator2d(3, cfg.d_channels, cfg.d_layers),
        "D_A_set": TimelapseSetDiscriminator(cfg),
    })


# ---------------------------------------------------------------------------------------------------------------
# Objective: the multi-domain semi-supervised scheme


def mismatched_times(times: torch.Tensor, min_shift: float, mirror_fraction: float = 0.0) -> torch.Tensor:
    """Wrong stamps for the sets (B, N) of `times`: every stamp moved by a random amount in [min_shift,
    24 - min_shift] hours (mod 24).

    Ours: a `mirror_fraction` of the sets instead get their stamps mirrored about noon (t -> 24 - t: 8:00 <-> 16:00,
    sunrise <-> sunset), the hard negatives for telling morning from afternoon, whose light differs mostly in the
    sun's side. A set that mirroring moves by less than min_shift on every frame (all near noon or midnight) keeps
    the random shift.
    """
    shifted = (times + min_shift + torch.rand_like(times) * (24.0 - 2 * min_shift)) % 24.0
    if mirror_fraction <= 0:
        return shifted
    mirrored = (24.0 - times) % 24.0
    moved_enough = circular_hours(mirrored, times).amax(dim=-1) >= min_shift                       # (B,)
    chosen = torch.rand(times.shape[:-1], device=times.device) < mirror_fraction
    return torch.where((chosen & moved_enough).unsqueeze(-1), mirrored, shifted)


class TimelapseObjective:
    """Losses of the two-domain scheme, as trainer phases in the paper's order: D_A and D_B, then G_A, then G_B.

    A batch holds: `source` (B, 3, H, W) the input photo and `source_hour` (B,) its hour; `times` (B, N) requested
    hours; `target` (B, 3, N, H, W) domain-A webcam frames of the same camera at those hours (real sets with true
    stamps); `clip` (B, 3, N, H, W) domain-B time-lapse frames without stamps.
    """

    def __init__(self, cfg: TimelapseConfig):
        self.cfg = cfg

    def phases(self) -> list[Phase]:
        return [Phase("D", ("D_A", "D_B", "D_A_set"), self.discriminator_loss, discriminator=True),
                Phase("G_A", ("G_A",), self.mapper_loss),
                Phase("G_B", ("G_B",), self.generator_loss)]

    ema_nets = ("G_B", "G_A")

    @torch.no_grad()
    def sample(self, nets, batch) -> dict[str, torch.Tensor]:
        """This step's z and fakes without gradients: the Ds' fakes, G_A's input, and the z G_B trains on."""
        source, times = batch["source"], batch["times"]
        z = torch.randn(source.shape[0], self.cfg.z_dim, device=source.device)
        fake_b = nets["G_B"](source, times, z)
        return {"z": z, "fake_b": fake_b, "fake_a": nets["G_A"](fake_b)}

    def discriminator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        times, target, clip = batch["times"], batch["target"], batch["clip"]
        sample = state.shared("sample", lambda: self.sample(nets, batch))
        fake_b, fake_a = sample["fake_b"], sample["fake_a"]
        loss_b = losses.d_loss(kind, nets["D_B"](fold_time(clip))[-1],
                               nets["D_B"](fold_time(fake_b))[-1])
        loss_a = losses.d_loss(kind, nets["D_A"](fold_time(target))[-1],
                               nets["D_A"](fold_time(fake_a))[-1])
        set_d = nets["D_A_set"]
        real = losses.d_loss_real(kind, set_d(target, times))
        generated = losses.d_loss_fake(kind, set_d(fake_a, times))
        wrong_times = mismatched_times(times, cfg.mismatch_min_hours, cfg.mismatch_mirror)
        mismatched = losses.d_loss_fake(kind, set_d(target, wrong_times))
        loss_cond = real + 0.5 * (generated + mismatched)
        total = cfg.lambda_adv_b * loss_b + cfg.lambda_adv_a * loss_a + cfg.lambda_cond * loss_cond
        return total, {"adv_b": loss_b, "adv_a": loss_a, "set_real": real, "set_fake": generated,
                       "set_mismatch": mismatched}

    def _adversarial_a(self, nets, fake_a, times) -> tuple[torch.Tensor, torch.Tensor]:
        kind = self.cfg.gan_loss
        return (losses.g_loss(kind, nets["D_A"](fold_time(fake_a))[-1]),
                losses.g_loss(kind, nets["D_A_set"](fake_a, times)))

    def mapper_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        fake_b = state.shared("sample", lambda: self.sample(nets, batch))["fake_b"]
        fake_a = nets["G_A"](fake_b)
        adv, cond = self._adversarial_a(nets, fake_a, batch["times"])
        rec = F.l1_loss(fake_a, fake_b)
        total = cfg.lambda_adv_a * adv + cfg.lambda_cond * cond + cfg.lambda_rec * rec
        return total, {"adv_a": adv, "cond": cond, "rec": rec}

    def generator_loss(self, nets, batch, state) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, kind = self.cfg, self.cfg.gan_loss
        source, times = batch["source"], batch["times"]
        z = state.shared("sample", lambda: self.sample(nets, batch))["z"]
        if cfg.lambda_identity > 0:  # one more frame, at the photo's own hour; frames are decoded independently
            frames = nets["G_B"](source, torch.cat([times, batch["source_hour"][:, None]], 1), z)
            fake_b, own_hour = frames[:, :, :-1], frames[:, :, -1]
        else:
            fake_b = nets["G_B"](source, times, z)
        fake_a = nets["G_A"](fake_b)
        adv_b = losses.g_loss(kind, nets["D_B"](fold_time(fake_b))[-1])
        adv_a, cond = self._adversarial_a(nets, fake_a, times)
        rec = F.l1_loss(fake_a, fake_b)
        total = cfg.lambda_adv_b * adv_b + cfg.lambda_adv_a * adv_a + cfg.lambda_cond * cond + cfg.lambda_rec * rec
        logs = {"adv_b": adv_b, "adv_a": adv_a, "cond": cond, "rec": rec}
        second = None
        if cfg.lambda_div > 0:
            k = max(1, source.shape[0] // 2)  # a second z for half the batch is enough to measure diversity
            z2 = torch.randn_like(z[:k])
            second = nets["G_B"](source[:k], times[:k], z2)
            div = losses.diversity_loss(fake_b[:k], second, z[:k], z2)
            total = total + cfg.lambda_div * div
            logs["div"] = div
        if cfg.lambda_anchor > 0:
            anchor = self.anchor_loss(fake_b, second, batch["target"])
            total = total + cfg.lambda_anchor * anchor
            logs["anchor"] = anchor
        if cfg.lambda_identity > 0:
            identity = F.l1_loss(own_hour, source)
            total = total + cfg.lambda_identity * identity
            logs["identity"] = identity
        return total, logs

    def anchor_loss(self, fake_b: torch.Tensor, second: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        """Pooled L1 to the same camera's frames at the requested hours, best of the two z samples where there
        are two ("best of many", Bhattacharyya et al. 2018): the set's weather is not in the photo, so penalising
        every sample would pull all z to the average weather; penalising the closer one lets z choose a weather.
        """
        pool = self.cfg.anchor_pool

        def per_sample(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            B = x.shape[0]
            diff = F.avg_pool2d(fold_time(x), pool) - F.avg_pool2d(fold_time(y), pool)
            return diff.abs().reshape(B, -1).mean(dim=1)                            # (B,)

        dist = per_sample(fake_b, target)
        if second is not None:
            k = second.shape[0]
            dist = torch.cat([torch.minimum(dist[:k], per_sample(second, target[:k])), dist[k:]])
        return dist.mean()


# ---------------------------------------------------------------------------------------------------------------
# Guided upsampling (post-process)


def inverse_3x3(m: torch.Tensor) -> torch.Tensor:
    """Inverse of a field of 3x3 matrices (3, 3, ...) by cofactors: elementwise, far cheaper than a batched solve
    for the (h*w) small systems of the guided filter. m must be invertible (cov + eps I is)."""
    cof = torch.stack([torch.stack([m[(r + 1) % 3, (c + 1) % 3] * m[(r + 2) % 3, (c + 2) % 3]
                                    - m[(r + 1) % 3, (c + 2) % 3] * m[(r + 2) % 3, (c + 1) % 3]
                                    for c in range(3)]) for r in range(3)])        # cof[r, c], same shape as m
    det = (m[0] * cof[0]).sum(0)                                                   # expansion along row 0
    return cof.transpose(0, 1) / det                                               # adjugate / determinant


def apply_affine(coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """out_k = sum_i A[k, i] image_i + b_k per pixel: coeffs (T, 12, h, w) hold A row-major (channel 3k + i), then b;
    image (T or 1, 3, H, W). Coefficients at a lower resolution than the image are upsampled bilinearly first (they
    are smooth; the image keeps its detail). Returns (T, 3, H, W)."""
    if coeffs.shape[-2:] != image.shape[-2:]:
        coeffs = F.interpolate(coeffs, size=image.shape[-2:], mode="bilinear", align_corners=False)
    out = torch.addcmul(coeffs[:, 9:], coeffs[:, 0:9:3], image[:, 0:1])            # b + A[k, 0] image_0, k = 0..2
    for i in (1, 2):
        out.addcmul_(coeffs[:, i:9:3], image[:, i:i + 1])                           # + A[k, i] image_i
    return out


def apply_gain(coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """out = g * photo + c per pixel and channel in [0, 1] units (a light's colour times the scene's reflectance,
    plus haze or glow), g = exp(log-gain): a positive gain can dim, tint or brighten but never invert or flatten the
    photo's edges, so the frame keeps g times the photo's detail. coeffs (T, 6, h, w): log g for R, G, B, then c;
    image (T or 1, 3, H, W) in [-1, 1]; coefficients are upsampled bilinearly to the image. Returns (T, 3, H, W)."""
    if coeffs.shape[-2:] != image.shape[-2:]:
        coeffs = F.interpolate(coeffs, size=image.shape[-2:], mode="bilinear", align_corners=False)
    # In [-1, 1]: 2 (g (x + 1) / 2 + c) - 1 = g (x + 1) + 2c - 1; zeros give the photo back.
    return torch.addcmul(2 * coeffs[:, 3:] - 1, coeffs[:, :3].exp(), image + 1)


def apply_transform(output: str, coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """G_B's transform of kind `output` ("affine" or "gain") applied to the photo, clamped to [-1, 1]."""
    return (apply_affine if output == "affine" else apply_gain)(coeffs, image).clamp(-1, 1)


class GuidedUpsampler:
    """Transfer the generator's colour change from low resolution onto the full-resolution photo.

    At low resolution, fit in every (2r+1)^2 window a local affine colour model out = A in + b (A 3x3, b 3) with
    the colour guided filter of He et al. (2010): A = (cov(in) + eps I)^-1 cov(in, out). Average A and b over the
    windows, upsample them bilinearly (they are smooth), and apply them to the full-resolution photo. The output
    has the photo's detail and the generated colours.

    The photo's own statistics (window means, inverse covariances) are computed once here and serve every frame.

    Args:
        low_in: (1, 3, h, w) the photo at the generator's resolution, in [-1, 1].
        full_in: (1, 3, H, W) the photo at full resolution, in [-1, 1].
    """

    def __init__(self, low_in: torch.Tensor, full_in: torch.Tensor, radius: int = 2, eps: float = 1e-3):
        self.radius = radius
        guide = (low_in + 1) / 2                                                    # [0, 1]
        h, w = guide.shape[-2:]
        self.mean_i = box_filter(guide, radius)                                     # (1, 3, h, w)
        ii = (guide[:, :, None] * guide[:, None]).reshape(1, 9, h, w)
        cov_ii = box_filter(ii, radius).reshape(3, 3, h, w) - self.mean_i[0, :, None] * self.mean_i[0, None]
        self.inv_cov_ii = inverse_3x3(cov_ii + eps * torch.eye(3, device=guide.device)[:, :, None, None])
        self.guide, self.full = guide, (full_in[0] + 1) / 2                         # (1, 3, h, w), (3, H, W)

    def __call__(self, low_out: torch.Tensor) -> torch.Tensor:
        """(T, 3, h, w) generated frames in [-1, 1] -> (T, 3, H, W) in [-1, 1]."""
        r, guide, mean_i = self.radius, self.guide, self.mean_i
        target = ((low_out + 1) / 2).contiguous()      # the generator's output may be channels_last: not here
        T, _, h, w = target.shape
        mean_p = box_filter(target, r)                                              # (T, 3, h, w)
        ip = (guide[:, :, None] * target[:, None]).reshape(T, 9, h, w)              # [i, k] = guide_i * target_k
        cov_ip = box_filter(ip, r).reshape(T, 3, 3, h, w) - mean_i[:, :, None] * mean_p[:, None]
        a = torch.einsum("ijhw,tjkhw->tkihw", self.inv_cov_ii, cov_ip)              # A^T = cov_ii^-1 cov_ip
        b = mean_p - torch.einsum("tkihw,ihw->tkhw", a, mean_i[0])                   # (T, 3, h, w)
        # Out in [-1, 1] is 2 (A in + b) - 1: scale the coefficients here, at low resolution, not the output.
        coeffs = box_filter(torch.cat([2 * a.reshape(T, 9, h, w), 2 * b - 1], dim=1), r)   # smooth, then upsample
        return apply_affine(coeffs, self.full[None]).clamp_(-1, 1)


def guided_upsample(low_in: torch.Tensor, low_out: torch.Tensor, full_in: torch.Tensor, radius: int = 2,
                    eps: float = 1e-3) -> torch.Tensor:
    """`GuidedUpsampler(low_in, full_in, radius, eps)(low_out)`, for one batch of frames."""
    return GuidedUpsampler(low_in, full_in, radius, eps)(low_out)


# ---------------------------------------------------------------------------------------------------------------
# Inference


class TimelapsePipeline:
    """`generate(image, times, seed)`: one photo of any size in, frames at its resolution out. Uses G_B only."""

    def __init__(self, generator: TimelapseGenerator, cfg: TimelapseConfig, device: torch.device,
                 card: dict[str, Any] | None = None):
        # channels_last: oneDNN's convolutions are ~1.6x faster in that layout on CPU (and tensor cores want it).
        self.generator = generator.eval().to(device, memory_format=torch.channels_last)
        self.cfg, self.device, self.card = cfg, device, card or {}

    def sample_z(self, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        return torch.randn(1, self.cfg.z_dim, generator=gen).to(self.device)

    @torch.no_grad()
    def generate(self, image: np.ndarray, times: Sequence[float], seed: int = 0, guided: bool = True,
                 work_size: int | None = None, chunk: int = 8, progress: Callable[[int, int], None] | None = None,
                 z: Sequence[float] | np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        """Frames of the photo's place at the given hours.

        Args:
            image: uint8 RGB (H, W, 3), any size (grayscale and alpha are converted).
            times: hours in [0, 24), one per output frame.
            seed: picks z, shared by all frames (same seed, same weather).
            guided: transfer the low-resolution result onto the full-resolution photo (else bilinear upsampling):
                with `output="pixels"` by guided upsampling, with "affine" or "gain" by applying the predicted
                transform to it.
            work_size: the generator's resolution (longest side; the photo is never upscaled for it). Default: the
                resolution it was trained at (`cfg.image_size`). Run larger, a generator trained small draws the hour
                less faithfully and with more artefacts (demo weights, 64 px: see the card's benchmark).
            chunk: frames decoded at once (memory).
            progress: called with (frames done, total).
            z: use this latent (z_dim numbers) instead of drawing one from `seed`; zeros give the mean weather.
        Returns:
            uint8 (T, H, W, 3) at the input's resolution.
        """
        image = as_rgb_uint8(image)
        hours = [float(t) for t in times]
        if not hours:
            raise ValueError("times must hold at least one hour")
        if any(not (0.0 <= t < 24.0) or math.isnan(t) for t in hours):
            raise ValueError(f"hours must be in [0, 24); got {hours}")
        H, W = image.shape[:2]
        small = fit_within(image, work_size or self.cfg.image_size)
        low = image_to_tensor(small).to(self.device)
        low_padded, (ph, pw) = pad_to_multiple(low, self.generator.multiple)
        feats = self.generator.encode(low_padded.contiguous(memory_format=torch.channels_last))
        if z is None:
            z = self.sample_z(seed)
        else:
            z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, self.cfg.z_dim).to(self.device)
        transform = self.cfg.output != "pixels"       # "affine" / "gain": applied to the photo itself
        full = image_to_tensor(image).to(self.device) if guided and small.shape != image.shape else None
        upsampler = (GuidedUpsampler(low, full, self.cfg.guided_radius, self.cfg.guided_eps)
                     if full is not None and not transform else None)
        frames = np.empty((len(hours), H, W, 3), dtype=np.uint8)
        for start in range(0, len(hours), chunk):
            t = torch.tensor([hours[start:start + chunk]], device=self.device)
            out = self.generator.head(feats, t, z)                                  # (n, C, h', w')
            if out.shape[-2:] != low_padded.shape[-2:]:   # a coarser transform: to the padded grid, then crop
                out = F.interpolate(out, size=low_padded.shape[-2:], mode="bilinear", align_corners=False)
            out = out[..., : out.shape[-2] - ph, : out.shape[-1] - pw].contiguous()
            if transform:   # applied to the full-resolution photo (or, unguided, to the small one)
                out = apply_transform(self.cfg.output, out, full if full is not None else low)
            if upsampler is not None:
                out = upsampler(out)
            elif out.shape[-2:] != (H, W):
                out = F.interpolate(out, size=(H, W), mode="bilinear", align_corners=False)
            to_uint8(out, channel_dim=1, out=frames[start:start + len(out)], overwrite_input=True)
            if progress is not None:
                progress(min(start + chunk, len(hours)), len(hours))
        return frames


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: how well do the frames show the hours asked for?


def circular_hours(a, b):
    """Distance between hours on the 24 h circle, in [0, 12]; numpy arrays or torch tensors."""
    return 12.0 - abs(abs(a - b) % 24.0 - 12.0)     # min(d, 24 - d) for d in [0, 24)


class HourEstimator:
    """Dates a picture of one place independently of any model: the hour of its nearest ground-truth render.

    References are renders of the place at many hours and in several weathers, so that weather is matched too and
    does not pass for a different hour. Pictures are compared as 8x8 thumbnails of log intensity: global colour,
    the sky's glow and the side the light comes from, not detail; the log evens out bright days and dark nights.

    Some hours cannot be told apart even in the ground truth: a place without lit windows looks the same all night.
    References whose uint8 thumbnails agree to within `same_levels` grey levels everywhere are the same picture, and
    `errors` counts a frame as right when the hour asked for is among the hours its nearest reference looks like.
    """

    def __init__(self, references: np.ndarray, reference_hours: np.ndarray, thumb: int = 8, same_levels: int = 1):
        self.thumb, self.hours = thumb, np.asarray(reference_hours, dtype=np.float64)
        thumbs = self._thumbnails(references)                                      # (K, thumb, thumb, 3) uint8
        self.features = self._features(thumbs)                                     # (K, thumb*thumb*3)
        flat = thumbs.reshape(len(thumbs), -1).astype(np.int16)
        self.look_alike = np.concatenate([                                         # (K, K) bool, in row chunks
            np.abs(flat[i:i + 64, None] - flat[None]).max(-1) <= same_levels for i in range(0, len(flat), 64)])

    def _thumbnails(self, images: np.ndarray) -> np.ndarray:
        return np.stack([resize_image(im, (self.thumb, self.thumb)) for im in images])

    @staticmethod
    def _features(thumbs: np.ndarray) -> np.ndarray:
        return np.log(thumbs.astype(np.float32) / 255.0 + 0.02).reshape(len(thumbs), -1)

    def nearest(self, frames: np.ndarray) -> np.ndarray:
        """uint8 (T, H, W, 3) -> index of each frame's nearest reference (T,)."""
        f = self._features(self._thumbnails(frames))
        return ((f[:, None, :] - self.features[None]) ** 2).mean(-1).argmin(axis=1)   # (T, K) -> (T,)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """uint8 (T, H, W, 3) -> estimated hours (T,)."""
        return self.hours[self.nearest(frames)]

    def errors(self, frames: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Circular error (T,) in hours between the requested `hours` and the closest hour that each frame's nearest
        reference looks the same as (itself included)."""
        hours = np.asarray(hours, dtype=np.float64)
        out = np.empty(len(hours))
        for i, k in enumerate(self.nearest(frames)):
            out[i] = circular_hours(self.hours[self.look_alike[k]], hours[i]).min()
        return out


Generate = Callable[[np.ndarray, list[float], int], np.ndarray]


def timestamp_error(generators: dict[str, Generate], scenes: Sequence[Any],
                    hours: Sequence[float] = tuple(range(0, 24, 2)), weathers: Sequence[Any] = (None,),
                    reference_step: float = 0.25, seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean circular error (hours) between requested hours and the hours `HourEstimator` reads off the frames
    (`HourEstimator.errors`: hours whose ground truth looks the same are not told apart).

    Each held-out scene (an object with `render(hour, weather) -> uint8`) is photographed at a random hour and
    shown to every `generate(photo, hours, scene_index)` in `generators`; the frames each returns are dated
    against the scene's renders at every `reference_step` hours in each of `weathers` (rendered once per scene).
    Returns {name: {"mean_hours", "median_hours", "standard_error_hours", "by_hour", "per_scene", "frames",
    "scenes"}}: standard_error_hours is that of the mean over scenes (std of the per-scene means / sqrt(scenes);
    None for one scene), by_hour the mean error of each requested hour, per_scene each scene's mean error (for
    paired comparisons of models on the same scenes).
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(0.0, 24.0, reference_step)
    errors: dict[str, list[np.ndarray]] = {name: [] for name in generators}
    for index, scene in enumerate(scenes):
        refs = np.stack([scene.render(h, w) for w in weathers for h in grid])
        estimator = HourEstimator(refs, np.tile(grid, len(weathers)))
        photo = scene.render(float(rng.uniform(0, 24)), None)
        for name, generate in generators.items():
            frames = generate(photo, list(hours), index)
            errors[name].append(estimator.errors(frames, np.asarray(hours)))
    out = {}
    for name, errs in errors.items():
        e = np.stack(errs)                                          # (scenes, hours)
        per_scene = e.mean(axis=1)
        standard_error = float(per_scene.std(ddof=1) / np.sqrt(len(per_scene))) if len(per_scene) > 1 else None
        out[name] = {"mean_hours": float(e.mean()), "median_hours": float(np.median(e)),
                     "standard_error_hours": standard_error,
                     "by_hour": {f"{h:g}": float(v) for h, v in zip(hours, e.mean(axis=0))},
                     "per_scene": [float(v) for v in per_scene], "frames": int(e.size), "scenes": len(scenes)}
    return out


DAY_48 = tuple(i / 2 for i in range(48))       # a day in half hours: 0:00, 0:30, ..., 23:30
DAYTIME = (7.0, 17.0)                           # the hours whose frames should keep the photo's detail


def photo_day_scores(pipeline: TimelapsePipeline, photo: np.ndarray, seed: int = 0,
                     width: int = 512) -> dict[str, float]:
    """What a user sees on a real photo (issue 25), from a 48-frame day (`DAY_48`) made at `width` pixels on the
    photo's longest side:

      daytime_sharpness: mean Sobel gradient magnitude of the frames from 7:00 to 17:00 over the photo's
        (`metrics.sharpness`; 1 = as much detail as the photo; it scales with contrast, so a frame that is rightly
        dimmer than the photo, early or late in the day, scores a little lower).
      daytime_structure_ssim: SSIM of frame and photo luma after matching the frame's global mean and contrast to the
        photo's (the hour may change brightness and contrast; the picture's structure should stay), same frames.
      noon_over_midnight: mean luma at 12:00 over that at 0:00.
      largest_change_over_median: the largest mean |frame_(t+1) - frame_t| (grey levels) of the 47 steps within the
        day (23:30 -> 0:00 is not one of them) over their
        median, with the step it happens at (largest_change_at_hours, the earlier frame's hour): does dawn jump?
    """
    from ..metrics import luma, sharpness, ssim

    photo = fit_within(as_rgb_uint8(photo), width)
    frames = pipeline.generate(photo, DAY_48, seed=seed)                           # (48, H, W, 3) uint8
    hours = np.asarray(DAY_48)
    day = (hours >= DAYTIME[0]) & (hours <= DAYTIME[1])

    photo_y, frames_y = luma(photo[None]), luma(frames[day])                         # (N, 1, H, W), grey levels
    mean, std = frames_y.mean(dim=(1, 2, 3), keepdim=True), frames_y.std(dim=(1, 2, 3), keepdim=True)
    matched = (frames_y - mean) / std.clamp_min(1e-3) * photo_y.std() + photo_y.mean()
    structure = ssim(matched, photo_y.expand_as(matched), data_range=255.0)
    brightness = luma(frames).mean(dim=(1, 2, 3))
    change = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))    # (47,)
    return {"daytime_sharpness": round(sharpness(frames[day]) / sharpness(photo[None]), 4),
            "daytime_structure_ssim": round(float(structure), 4),
            "noon_over_midnight": round(float(brightness[DAY_48.index(12.0)] / brightness[0].clamp_min(1e-3)), 3),
            "largest_change_over_median": round(float(change.max() / max(np.median(change), 1e-3)), 2),
            "largest_change_at_hours": float(hours[int(change.argmax())])}


def evaluate(pipeline: TimelapsePipeline, num_scenes: int) -> dict[str, Any]:
    """Timestamp error on held-out procedural scenes, with the estimator's own floor and time-blind baselines."""
    from ..data.outdoor import Weather
    from ..data.timelapse_data import heldout_scenes, reference_weathers

    scenes = heldout_scenes(num_scenes, (128, 128))
    weather_rng = np.random.default_rng(1)

    errors = timestamp_error({   # `generate` as the app calls it: its default resolution, guided
        "timestamp_error_hours": lambda im, hours, i: pipeline.generate(im, hours, seed=i),
        "timestamp_error_mean_z_hours": lambda im, hours, i: pipeline.generate(
            im, hours, z=np.zeros(pipeline.cfg.z_dim)),
        "timestamp_error_generator_128px_hours": lambda im, hours, i: pipeline.generate(
            im, hours, seed=i, work_size=128),
        "ground_truth_random_weather_hours": lambda im, hours, i: np.stack(
            [scenes[i].render(h, Weather.random(weather_rng)) for h in hours]),
        "time_blind_input_copy_hours": lambda im, hours, i: np.repeat(im[None], len(hours), axis=0),
        "time_blind_model_at_noon_hours": lambda im, hours, i: pipeline.generate(im, [12.0] * len(hours), seed=i),
    }, scenes, weathers=reference_weathers())
    by_hour = errors["timestamp_error_hours"]["by_hour"]
    return {
        **{name: round(result["mean_hours"], 3) for name, result in errors.items()},
        "standard_errors": {name: None if result["standard_error_hours"] is None  # None: a single scene
                            else round(result["standard_error_hours"], 3) for name, result in errors.items()},
        "timestamp_error_by_hour": {hour: round(error, 2) for hour, error in by_hour.items()},
        "protocol": (
            f"{num_scenes} held-out procedural scenes at 128x128, each photographed at a random hour; frames asked "
            f"for hours 0, 2, ..., 22 with z drawn from seed = scene index (timestamp_error_hours) or z = 0, the "
            f"mean weather (timestamp_error_mean_z_hours), made as the app makes them: the generator at its "
            f"training resolution ({pipeline.cfg.image_size} px), guided upsampling to 128 px; "
            f"timestamp_error_generator_128px: the generator at 128 px instead. Each frame is dated by the nearest "
            f"of the scene's ground-truth renders every 15 min in 9 weathers (8x8 log-intensity thumbnails); hours "
            f"whose renders look the same (thumbnails within 1 grey level, e.g. a place without lit windows at "
            f"night) are not told apart; mean circular error in hours, with the standard error of that mean over "
            f"scenes (standard_errors) and the model's mean error per requested hour (timestamp_error_by_hour). "
            f"ground_truth_random_weather: true renders in random weather, the estimator's own floor. "
            f"Time-blind: the input photo unchanged, or the model asked for 12:00 every time."),
    }


# ---------------------------------------------------------------------------------------------------------------
# Presets and the registry entry


def tiny() -> tuple[TimelapseConfig, TrainConfig]:
    return (TimelapseConfig(image_size=32, frames=3, z_dim=4, g_channels=8, g_downsamples=2,
                            g_res_blocks=1, mapper_channels=4, mapper_blocks=1, d_channels=8,
                            d_layers=2, anchor_pool=4),
            smoke_test_training())


def demo() -> tuple[TimelapseConfig, TrainConfig]:
    # Constant rates for 4849 steps, then linear decay to 0 (run in three resumed legs; batches depend only on the
    # step, so one uninterrupted run follows the same path). The shipped weights are this run fine-tuned with
    # mismatch_mirror=0.5 and fresh discriminators (train --init, 5000 steps), then resumed for 2500 steps after the
    # renderer's night-sky fix (the card's command is the fine-tune's, and its init_from holds this run's).
    return TimelapseConfig(), TrainConfig(steps=8400, lr_decay_from=4849, batch_size=8, lr_g=2e-4,
                                                    lr_d=2e-4, log_every=25, ckpt_every=250)


def demo_affine() -> tuple[TimelapseConfig, TrainConfig]:
    # Issue 25 (not shipped yet): G_B predicts a colour transform of the photo (output="affine") instead of drawing
    # the frame, so a frame keeps the photo's full-resolution detail; the shipped run's set-D hard negatives.
    cfg, train = demo()
    return (dataclasses.replace(cfg, output="affine", mismatch_mirror=0.5),
            dataclasses.replace(train, steps=4000, lr_decay_from=2500))


def demo_gain() -> tuple[TimelapseConfig, TrainConfig]:
    # Issue 25: G_B predicts a positive per-channel gain and an offset of the photo (output="gain") on a 16x16 grid
    # at the 64 px working resolution (transform_level=2), so a frame keeps the photo's detail times the gain and
    # cannot repaint it; fine-tuned from the shipped pixels generator (train --init: its trunk, a fresh head). The
    # identity term keeps a daytime photo's daytime frames the photo: without it (a 3149-step probe) the day came
    # out under a whitish veil, gain below 1 plus an offset, 0.46 of the photo's detail kept.
    cfg, train = demo()
    return (dataclasses.replace(cfg, output="gain", transform_level=2, mismatch_mirror=0.5, lambda_identity=10.0),
            dataclasses.replace(train, steps=2400, lr_decay_from=1200, d_warmup_steps=200))


def paper() -> tuple[TimelapseConfig, TrainConfig]:
    # The published method: adversarial terms and the reconstruction loss only, 128 px, 8 frames per set.
    return (TimelapseConfig(image_size=128, frames=8, g_channels=64, g_res_blocks=6, d_channels=64,
                            d_layers=4, lambda_anchor=0.0, lambda_div=0.0, coords=False),
            TrainConfig(steps=200_000, batch_size=16, lr_g=1e-4, lr_d=1e-4, log_every=100, ckpt_every=5000))


def build_dataset(cfg: TimelapseConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    from ..data.timelapse_data import build_training_data  # data code is not needed for inference

    return build_training_data(cfg.image_size, cfg.frames, train.seed, train.data_root)


SPEC = ModelSpec(
    name="timelapse", title="Time-lapse from one photo",
    paper="Nam et al., End-to-End Time-Lapse Video Synthesis from a Single Outdoor Image, CVPR 2019",
    paper_url="https://arxiv.org/abs/1904.00680", config_cls=TimelapseConfig,
    presets={"tiny": tiny, "demo": demo, "demo_affine": demo_affine, "demo_gain": demo_gain,
             "paper": paper},
    build_nets=build_nets, objective=TimelapseObjective, build_dataset=build_dataset, evaluate=evaluate,
    inference_net="G_B", build_pipeline=pipeline_loader(TimelapsePipeline, TimelapseGenerator),
)

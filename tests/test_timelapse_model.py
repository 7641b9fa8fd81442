"""The time-lapse model (Nam et al. 2019) at its tiny preset: shapes, gradients, determinism, invariances."""

import dataclasses

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from demo_lib import registry
from demo_lib.models import timelapse as tl
from demo_lib.trainer import StepState
from demo_lib.video import fold_time


def make_batch(cfg, B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    S, N = cfg.image_size, cfg.frames
    return (torch.rand(B, 3, S, S, generator=g) * 2 - 1, torch.rand(B, N, generator=g) * 24,
            torch.randn(B, cfg.z_dim, generator=g))


def test_generator_and_discriminator_shapes(tiny_timelapse):
    spec, cfg, _, _ = tiny_timelapse
    nets = spec.build_nets(cfg)
    source, times, z = make_batch(cfg)
    frames = nets["G_B"](source, times, z)
    assert frames.shape == (2, 3, cfg.frames, cfg.image_size, cfg.image_size)
    assert frames.abs().max() <= 1
    assert nets["G_A"](frames).shape == frames.shape
    assert nets["D_A_set"](frames, times).shape == (2, 1)
    assert nets["D_B"](fold_time(frames))[-1].dim() == 4


@pytest.mark.parametrize("coords,output,level", [(False, "pixels", 0), (True, "pixels", 0), (True, "affine", 0),
                                                 (True, "gain", 1)])
def test_every_parameter_gets_a_finite_gradient(tiny_timelapse, coords, output, level):
    spec, tiny, _, data = tiny_timelapse
    cfg = dataclasses.replace(tiny, coords=coords, output=output, transform_level=level)
    nets = spec.build_nets(cfg)
    batch = torch.utils.data.default_collate([data[0], data[1]])
    objective = tl.TimelapseObjective(cfg)
    state = StepState(0)
    for phase in objective.phases():
        for name, net in nets.items():
            net.requires_grad_(name in phase.nets)
            net.zero_grad()
        loss, logs = phase.loss(dict(nets.items()), batch, state)
        assert torch.isfinite(loss) and all(torch.isfinite(torch.as_tensor(v)).all() for v in logs.values())
        loss.backward()
        for name in phase.nets:
            for pname, p in nets[name].named_parameters():
                assert p.grad is not None, f"{name}.{pname} got no gradient in phase {phase.name}"
                assert torch.isfinite(p.grad).all(), f"{name}.{pname}"
        if output != "pixels" and "G_B" in phase.nets:     # the transform's head learns (it starts at zero weights)
            assert nets["G_B"].to_affine.weight.grad.abs().sum() > 0


def test_identity_term_asks_for_the_photo_at_its_own_hour(tiny_timelapse):
    """lambda_identity: G_B(I, h_I, z) against I itself. A fresh "gain" generator starts as the photo (term ~0) and
    the term is logged; a generator whose frames differ from the photo pays for it, and only for the photo's hour."""
    spec, tiny, _, data = tiny_timelapse
    cfg = dataclasses.replace(tiny, output="gain", lambda_identity=10.0)
    nets = spec.build_nets(cfg)
    batch = torch.utils.data.default_collate([data[0], data[1]])
    objective = tl.TimelapseObjective(cfg)
    generator_phase = next(p for p in objective.phases() if p.name == "G_B")
    _, logs = generator_phase.loss(dict(nets.items()), batch, StepState(0))
    assert float(logs["identity"]) < 1e-4
    with torch.no_grad():
        nets["G_B"].to_affine.bias.add_(0.3)                  # every frame brighter and re-tinted than the photo
    _, logs = generator_phase.loss(dict(nets.items()), batch, StepState(0))
    assert float(logs["identity"]) > 0.05
    off = dataclasses.replace(cfg, lambda_identity=0.0)
    _, logs_off = tl.TimelapseObjective(off).phases()[-1].loss(dict(nets.items()), batch, StepState(0))
    assert "identity" not in logs_off


def test_generator_is_deterministic_and_z_and_time_matter(tiny_timelapse):
    spec, cfg, _, _ = tiny_timelapse
    torch.manual_seed(0)
    G = spec.build_nets(cfg)["G_B"].eval()
    source, times, z = make_batch(cfg)
    with torch.no_grad():
        a, b = G(source, times, z), G(source, times, z)
        assert torch.equal(a, b)
        assert not torch.allclose(a, G(source, times, z + 1))
        assert not torch.allclose(a, G(source, (times + 6) % 24, z))


def test_frames_share_z_but_each_follows_its_own_hour(tiny_timelapse):
    spec, cfg, _, _ = tiny_timelapse
    G = spec.build_nets(cfg)["G_B"].eval()
    source, _, z = make_batch(cfg, B=1)
    with torch.no_grad():
        together = G(source, torch.tensor([[3.0, 12.0, 20.0]]), z)
        alone = G(source, torch.tensor([[12.0]]), z)
    torch.testing.assert_close(together[:, :, 1], alone[:, :, 0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("coords", [False, True])
def test_coords_let_the_generator_place_light_by_position(tiny_timelapse, coords):
    """Reflect-padded convolutions are blind to position: on a uniform photo G_B's frame is uniform whatever the
    hour, so the sun cannot rise on one side and set on the other. The (x, y) maps of `coords` lift that."""
    spec, tiny, _, _ = tiny_timelapse
    cfg = dataclasses.replace(tiny, coords=coords)
    torch.manual_seed(0)
    G = spec.build_nets(cfg)["G_B"].eval()
    photo = torch.full((1, 3, cfg.image_size, cfg.image_size), 0.2)
    with torch.no_grad():
        frames = G(photo, torch.tensor([[8.0, 16.0]]), torch.randn(1, cfg.z_dim))     # (1, 3, 2, S, S)
    spread = (frames - frames.mean(dim=(-2, -1), keepdim=True)).abs().amax()
    if coords:
        assert spread > 1e-5    # small at initialisation (about 2e-4), but far above float rounding
    else:
        assert spread < 1e-6    # float rounding only (about 5e-8)


def test_time_features_wrap_around_midnight():
    f = tl.time_features(torch.tensor([0.0, 23.999, 12.0]))
    assert torch.allclose(f[0], f[1], atol=1e-3) and torch.allclose(f[2], torch.tensor([-1.0, 0.0]), atol=1e-6)


def test_set_discriminator_is_permutation_invariant(tiny_timelapse):
    spec, cfg, _, _ = tiny_timelapse
    D = spec.build_nets(cfg)["D_A_set"].eval()
    g = torch.Generator().manual_seed(1)
    frames = torch.rand(2, 3, 5, cfg.image_size, cfg.image_size, generator=g) * 2 - 1
    times = torch.rand(2, 5, generator=g) * 24
    perm = torch.tensor([3, 0, 4, 2, 1])
    with torch.no_grad():
        torch.testing.assert_close(D(frames, times), D(frames[:, :, perm], times[:, perm]))
        # ... but not blind to which hour goes with which frame.
        assert not torch.allclose(D(frames, times), D(frames, times[:, perm]))


def test_mismatched_times_are_far_from_the_true_ones():
    times = torch.rand(1000) * 24
    moved = tl.mismatched_times(times, 4.0)
    assert (tl.circular_hours(moved.numpy(), times.numpy()) >= 4.0 - 1e-4).all()
    assert ((moved >= 0) & (moved < 24)).all()


def test_mirrored_mismatches_swap_morning_and_afternoon():
    times = torch.tensor([[8.0, 9.0, 10.0, 6.0], [12.0, 11.5, 0.5, 13.0]])  # the 2nd: mirroring moves it < 4 h
    torch.manual_seed(0)
    moved = tl.mismatched_times(times, 4.0, mirror_fraction=1.0)
    assert moved[0].tolist() == [16.0, 15.0, 14.0, 18.0]
    assert (tl.circular_hours(moved[1], times[1]) >= 4.0 - 1e-4).all()     # the random shift instead
    torch.manual_seed(0)
    random_only = tl.mismatched_times(times, 4.0)
    torch.manual_seed(0)
    assert torch.equal(tl.mismatched_times(times, 4.0, mirror_fraction=0.0), random_only)
    assert torch.equal(tl.circular_hours(torch.tensor([23.0, 2.0]), torch.tensor([1.0, 14.0])),
                       torch.tensor([2.0, 12.0]))


def test_guided_upsampling_keeps_the_photos_detail():
    """A colour change predicted at low resolution, applied at full resolution: fine texture must survive."""
    g = torch.Generator().manual_seed(0)
    full = (torch.rand(1, 3, 128, 192, generator=g) * 2 - 1)                   # full of fine detail
    low = F.interpolate(full, size=(32, 48), mode="area")
    warm = lambda x: torch.stack([x[:, 0] * 0.8 + 0.15, x[:, 1] * 0.6, x[:, 2] * 0.4 - 0.3], 1)  # noqa: E731
    truth = warm(full).clamp(-1, 1)
    guided = tl.guided_upsample(low, warm(low), full, radius=2, eps=1e-4)
    bilinear = F.interpolate(warm(low), size=full.shape[-2:], mode="bilinear", align_corners=False)
    err_guided = (guided - truth).abs().mean().item()
    err_bilinear = (bilinear - truth).abs().mean().item()
    assert err_guided < 0.02 and err_guided < err_bilinear / 10


def test_guided_upsampler_is_the_colour_guided_filter_written_out():
    """The fast path (cumulative-sum box filter, closed-form 3x3 inverse computed once for all frames, coefficients
    pre-scaled to [-1, 1]) against the filter of He et al. written plainly: avg_pool2d windows, a linear solve per
    pixel, bilinear upsampling, then A I + b."""
    g = torch.Generator().manual_seed(1)
    full = torch.rand(1, 3, 40, 52, generator=g) * 2 - 1
    low = F.interpolate(full, size=(10, 13), mode="area")
    frames = torch.rand(3, 3, 10, 13, generator=g) * 2 - 1
    r, eps = 2, 1e-3
    box = lambda x: F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)  # noqa: E731
    i, p = (low + 1) / 2, (frames + 1) / 2
    mean_i, mean_p = box(i), box(p)                                                   # (1, 3, h, w), (T, 3, h, w)
    cov_ii = box((i[:, :, None] * i[:, None]).flatten(1, 2)).unflatten(1, (3, 3)) - mean_i[:, :, None] * mean_i[:, None]
    cov_ip = box((i[:, :, None] * p[:, None]).flatten(1, 2)).unflatten(1, (3, 3)) - mean_i[:, :, None] * mean_p[:, None]
    per_pixel = lambda x: x.permute(0, 3, 4, 1, 2)    # noqa: E731  (., 3, 3, h, w) -> (., h, w, 3, 3)
    a = torch.linalg.solve(per_pixel(cov_ii + eps * torch.eye(3)[:, :, None, None]), per_pixel(cov_ip))  # A^T
    a = a.permute(0, 4, 3, 1, 2)                                                      # (T, k, i, h, w) = A[k, i]
    b = mean_p - (a * mean_i[:, None]).sum(2)
    up = lambda x: F.interpolate(box(x), size=(40, 52), mode="bilinear", align_corners=False)  # noqa: E731
    a_full, b_full = up(a.flatten(1, 2)).unflatten(1, (3, 3)), up(b)
    expected = ((a_full * ((full + 1) / 2)[:, None]).sum(2) + b_full).clamp(0, 1) * 2 - 1
    got = tl.GuidedUpsampler(low, full, r, eps)(frames)
    assert got.shape == (3, 3, 40, 52)
    assert (got - expected).abs().max() < 1e-4


@pytest.mark.parametrize("output,level", [("affine", 0), ("gain", 0), ("gain", 2)])
def test_transform_output_starts_as_the_photo_and_keeps_its_full_resolution_detail(output, level):
    """output="affine" / "gain": G_B predicts a colour transform per pixel (at 1/2^level of the working resolution);
    untrained it is the identity, so the frame is the photo itself, at the working resolution in training and at
    the photo's own resolution in the pipeline."""
    cfg = dataclasses.replace(registry.get("timelapse").preset("tiny")[0], output=output, transform_level=level)
    torch.manual_seed(0)
    G = tl.TimelapseGenerator(cfg).eval()
    source, times, z = make_batch(cfg)
    frames = G(source, times, z)
    torch.testing.assert_close(frames, source[:, :, None].expand_as(frames))
    pipeline = tl.TimelapsePipeline(G, cfg, torch.device("cpu"))
    photo = np.random.default_rng(0).integers(0, 256, (150, 210, 3), dtype=np.uint8)    # fine detail everywhere
    out = pipeline.generate(photo, times=[9.0, 21.0], seed=0)
    assert out.shape == (2, 150, 210, 3) and np.abs(out.astype(int) - photo).max() <= 1
    blurry = pipeline.generate(photo, times=[9.0], seed=0, guided=False)[0]         # applied at 32 px, upsampled
    assert np.abs(blurry.astype(int) - photo).mean() > 20


def test_photo_day_scores_of_a_model_that_returns_the_photo_and_of_one_that_blurs_it():
    cfg = dataclasses.replace(registry.get("timelapse").preset("tiny")[0], output="affine")
    torch.manual_seed(0)
    identity = tl.TimelapsePipeline(tl.TimelapseGenerator(cfg), cfg, torch.device("cpu"))   # untrained: the photo
    photo = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8), (3, 3), 0.7)
    scores = tl.photo_day_scores(identity, photo, width=120)
    assert scores["daytime_sharpness"] == pytest.approx(1, abs=0.01)
    assert scores["daytime_structure_ssim"] == pytest.approx(1, abs=0.01)
    assert scores["noon_over_midnight"] == pytest.approx(1, abs=0.01)

    class Blurry:     # every frame the photo blurred, darker at night, with a jump at 6:00
        def generate(self, image, times, seed=0):
            soft = cv2.GaussianBlur(image, (9, 9), 3).astype(np.float32)
            return np.stack([soft * (1.0 if 6 <= t < 18 else 0.3) for t in times]).round().astype(np.uint8)

    blurry = tl.photo_day_scores(Blurry(), photo, width=120)
    assert blurry["daytime_sharpness"] < 0.5 and blurry["daytime_structure_ssim"] < 0.9
    assert blurry["noon_over_midnight"] == pytest.approx(1 / 0.3, rel=0.02)
    assert blurry["largest_change_at_hours"] in (5.5, 17.5) and blurry["largest_change_over_median"] > 10


def test_apply_affine_upsamples_smooth_coefficients_onto_the_image():
    image = torch.rand(1, 3, 20, 30) * 2 - 1
    a = torch.tensor([[0.5, 0.2, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, -1.0]])
    b = torch.tensor([0.1, -0.2, 0.3])
    coeffs = torch.cat([a.flatten(), b])[None, :, None, None].expand(2, 12, 4, 6)       # constant, at low res
    out = tl.apply_affine(coeffs, image)
    expected = torch.einsum("ki,bihw->bkhw", a, image) + b[:, None, None]
    assert out.shape == (2, 3, 20, 30)
    torch.testing.assert_close(out, expected.expand(2, -1, -1, -1))


def test_apply_gain_scales_and_offsets_in_unit_range_and_never_inverts():
    """out = g x + c in [0, 1] units with g = exp(log g) > 0: zeros return the image, and any coefficients keep the
    order of every channel's values (no inversion) and scale their differences (the detail) by g."""
    image = torch.rand(1, 3, 20, 30) * 2 - 1
    torch.testing.assert_close(tl.apply_gain(torch.zeros(1, 6, 5, 5), image), image)
    log_gain, offset = torch.tensor([-1.0, 0.0, 0.5]), torch.tensor([0.1, -0.2, 0.0])
    coeffs = torch.cat([log_gain, offset])[None, :, None, None].expand(1, 6, 4, 6)
    out = tl.apply_gain(coeffs, image)
    unit_in, unit_out = (image + 1) / 2, (out + 1) / 2
    torch.testing.assert_close(unit_out, log_gain.exp()[:, None, None] * unit_in + offset[:, None, None])
    edge_in, edge_out = image[0, :, 5, 10] - image[0, :, 12, 20], out[0, :, 5, 10] - out[0, :, 12, 20]
    torch.testing.assert_close(edge_out, log_gain.exp() * edge_in)         # same sign, scaled by g: no inversion


def test_unknown_output_mode_and_transform_level_are_refused():
    with pytest.raises(ValueError, match="output must be one of"):
        dataclasses.replace(tl.TimelapseConfig(), output="bilateral")
    for output, level in [("pixels", 1), ("gain", 4)]:
        with pytest.raises(ValueError, match="transform_level"):
            dataclasses.replace(tl.TimelapseConfig(), output=output, transform_level=level)


def test_generate_public_surface():
    model = registry.random_pipeline("timelapse", "tiny")
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)  # odd sizes on purpose
    frames = model.generate(image, times=[0.0, 6.0, 12.0, 18.0], seed=0)
    assert frames.shape == (4, 37, 53, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, model.generate(image, times=[0.0, 6.0, 12.0, 18.0], seed=0))
    big = np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    out = model.generate(big, times=[9.5], seed=3, work_size=64)
    assert out.shape == (1, 300, 500, 3)
    gray = np.random.default_rng(2).integers(0, 256, (40, 40), dtype=np.uint8)
    assert model.generate(gray, times=[1.0]).shape == (1, 40, 40, 3)
    with pytest.raises(ValueError, match=r"\[0, 24\)"):
        model.generate(image, times=[24.0])
    with pytest.raises(ValueError, match="at least one"):
        model.generate(image, times=[])


def test_timestamp_error_of_a_perfect_and_a_blind_model():
    class Scene:  # brightness encodes the hour unambiguously: a perfect model is dated exactly
        def render(self, hour, weather=None):
            return np.full((16, 16, 3), int(hour * 10), dtype=np.uint8)

    result = tl.timestamp_error({
        "perfect": lambda im, hours, i: np.stack([Scene().render(h) for h in hours]),
        "blind": lambda im, hours, i: np.repeat(im[None], len(hours), 0),
    }, [Scene()] * 3)
    assert result["perfect"]["mean_hours"] == 0.0
    # Hours spread evenly over the day: one look for every hour is off by 6 h on average, like a random guess.
    assert result["blind"]["mean_hours"] == pytest.approx(6.0)


def test_timestamp_error_standard_error_over_scenes_and_error_by_hour():
    class Scene:  # brightness encodes the hour unambiguously
        def render(self, hour, weather=None):
            return np.full((16, 16, 3), int(hour * 10), dtype=np.uint8)

    late_by = [0.0, 2.0, 4.0]  # scene i's frames show the hour late_by[i] hours after the one asked for
    late = {"late": lambda im, hours, i: np.stack([Scene().render((h + late_by[i]) % 24) for h in hours])}
    result = tl.timestamp_error(late, [Scene()] * 3)["late"]
    assert result["mean_hours"] == pytest.approx(2.0)
    assert result["standard_error_hours"] == pytest.approx(2.0 / np.sqrt(3))   # per-scene means 0, 2, 4
    assert list(result["by_hour"]) == [str(h) for h in range(0, 24, 2)]
    assert result["by_hour"]["22"] == pytest.approx(2.0)                          # 22 + 4 h wraps to 2:00: 4 h off
    assert tl.timestamp_error(late, [Scene()])["late"]["standard_error_hours"] is None


def test_hours_that_look_the_same_in_the_truth_are_not_errors():
    """A place that is one picture all night (20:00-04:00): a true night frame asked for 02:00 is right whichever
    night render is nearest; a day frame passed off as night, or night asked for at noon, still counts."""
    def render(hour):
        level = 0 if (hour >= 20 or hour < 4) else int(40 + hour * 8)
        return np.full((16, 16, 3), level, dtype=np.uint8)

    grid = np.arange(0, 24, 0.5)
    estimator = tl.HourEstimator(np.stack([render(h) for h in grid]), grid)
    night = np.stack([render(2.0), render(22.0)])
    assert estimator.errors(night, np.array([2.0, 22.0])).tolist() == [0.0, 0.0]
    assert estimator(night).tolist() == [0.0, 0.0]                 # the single nearest hour: the first look-alike
    assert estimator.errors(night, np.array([12.0, 6.0])).tolist() == [8.0, 2.5]   # nearest night hours: 20:00, 03:30
    assert estimator.errors(np.stack([render(10.0)]), np.array([2.0])).tolist() == [8.0]
    scene = type("Scene", (), {"render": lambda self, h, w=None: render(h)})()
    result = tl.timestamp_error({"truth": lambda im, hours, i: np.stack([render(h) for h in hours])}, [scene])
    assert result["truth"]["mean_hours"] == 0.0            # dating by the single nearest hour gave 22:00 -> 2 h


def test_hour_estimator_dates_renders_and_is_not_fooled_by_weather():
    from demo_lib.data.outdoor import OutdoorScene, Weather

    scene = OutdoorScene(1_000_003, (48, 48))
    grid = np.arange(0, 24, 0.5)
    weathers = [Weather(cloud_cover=c, haze=0.1) for c in (0.1, 0.9)]
    estimator = tl.HourEstimator(np.stack([scene.render(h, w) for w in weathers for h in grid]),
                                 np.tile(grid, len(weathers)))
    day = [8.0, 11.0, 15.0, 17.5]
    cloudy = np.stack([scene.render(h, Weather(cloud_cover=0.85, haze=0.1)) for h in day])
    assert tl.circular_hours(estimator(cloudy), np.array(day)).mean() < 1.0

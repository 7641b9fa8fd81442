"""Video inbetweening (Li, Roblek & Tagliasacchi 2019): shapes of every part and the paper's sizes, finite losses and
gradients for each ablation, gates in [0, 1] and the fusion of eq. 4, the pipeline (keyframes at both ends, crops,
seeds, determinism, bad input), a weights round trip and the evaluation. (Exact resume of the shared trainer is
tested with the other models; the objective draws its noise from the global RNG like theirs.)"""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import check_phases

from demo_lib import registry
from demo_lib.models import inbetween as M
from demo_lib.trainer import StepState
from demo_lib.video import MediaError
from demo_lib.weights import save_weights

SPEC = registry.get("inbetween")
TINY, _ = SPEC.preset("tiny")                           # frozen: safe to share between tests


def random_clips(cfg, n=2, seed=0):
    """A batch {"video": (n, 3, T, S, S)} of uniform noise in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    return {"video": torch.rand(n, 3, cfg.frames, cfg.image_size, cfg.image_size, generator=g) * 2 - 1}


def warmed_pipeline(cfg, seed=0):
    """A tiny pipeline whose batch-norm statistics come from a few train-mode passes: with the initial statistics
    an untrained G makes nearly constant grey, which would hide what these tests look for."""
    torch.manual_seed(seed)
    generator = M.InbetweenGenerator(cfg).train()
    with torch.no_grad():
        for _ in range(10):
            x = torch.rand(4, 3, cfg.image_size, cfg.image_size) * 2 - 1
            generator(x, x.flip(0), torch.randn(4, cfg.noise_dim))
    return M.InbetweenPipeline(generator, cfg, torch.device("cpu"))


def image(h, w, seed=0, channels=3):
    """uint8 smooth random colour image (h, w, channels) (channels=0: greyscale (h, w))."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, max(channels, 1), 4, 4, generator=g)
    out = (torch.nn.functional.interpolate(coarse, (h, w), mode="bilinear")[0] * 255).round().byte()
    return out[0].numpy() if channels == 0 else out.permute(1, 2, 0).numpy()


def test_shapes_of_every_part():
    cfg = TINY
    torch.manual_seed(0)
    G = M.InbetweenGenerator(cfg)
    B, S, T, h = 3, cfg.image_size, cfg.frames, cfg.latent_size
    start, end, u = torch.rand(B, 3, S, S) * 2 - 1, torch.rand(B, 3, S, S) * 2 - 1, torch.randn(B, cfg.noise_dim)
    z_start = G.encoder(start)
    assert z_start.shape == (B, cfg.latent_channels, h, h)
    z, gates = G.latent(z_start, G.encoder(end), u)
    assert z.shape == (B, cfg.latent_channels, T, h, h)
    assert len(gates) == len(cfg.stage_frames) * cfg.blocks_per_stage
    assert [g_s.shape[-1] for g_s, _ in gates] == [t for t in cfg.stage_frames for _ in range(cfg.blocks_per_stage)]
    video, _ = G(start, end, u)
    assert video.shape == (B, 3, T, S, S) and video.abs().max() <= 1
    clip = M.with_keyframes(video, start, end)
    assert torch.equal(clip[:, :, 0], start) and torch.equal(clip[:, :, -1], end)
    assert torch.equal(clip[:, :, 1:-1], video[:, :, 1:-1])
    assert M.InbetweenVideoDiscriminator(cfg)(clip).shape == (B, 1)
    assert M.inbetween_frames(clip).shape == (B * (T - 2), 3, S, S)
    assert M.InbetweenImageDiscriminator(cfg)(M.inbetween_frames(clip)).shape == (B * (T - 2), 1)


def test_the_paper_configuration_has_the_papers_sizes():
    cfg = M.InbetweenConfig()
    assert cfg.stage_frames == (4, 8, 16) and cfg.latent_size == 8          # T/4 -> T/2 -> T, 64 px -> 8 x 8
    counts = M.parameter_counts(M.build_nets(cfg))
    assert round(counts["G.encoder"] / 1e6, 2) == 1.58                      # the paper's tables (appendix)
    assert round(counts["D_video"] / 1e6, 2) == 11.06
    assert 4.6e6 < counts["G.decoder"] < 4.9e6 and 6.0e6 < counts["D_image"] < 6.2e6
    assert len(M.InbetweenGenerator(cfg).latent.stages) * cfg.blocks_per_stage == 24


@pytest.mark.parametrize("variant", M.VARIANTS)
def test_every_phase_gives_finite_losses_and_gradients(variant):
    cfg = dataclasses.replace(TINY, variant=variant)
    phases, ema = SPEC.build_objective(cfg)
    assert [p.name for p in phases] == ["G", "D"] and ema == ("G",)
    torch.manual_seed(0)
    batch = random_clips(cfg)                           # every part of every net is used: every_parameter
    logs, state = check_phases(SPEC.build_nets(cfg), phases, batch, every_parameter=True)
    assert set(logs["G"]) == {"adv_video", "adv_image"} and set(logs["D"]) == {"video", "image"}
    real = batch["video"]
    assert torch.equal(state["fake"][:, :, 0], real[:, :, 0]) and torch.equal(state["fake"][:, :, -1], real[:, :, -1])


def test_non_saturating_losses_by_hand():
    torch.manual_seed(0)
    nets, batch = SPEC.build_nets(TINY), random_clips(TINY)
    objective = M.InbetweenObjective(TINY)
    state = StepState(0)
    _, g_logs = objective.generator_loss(nets, batch, state)
    fake = state["fake"]
    softplus = torch.nn.functional.softplus
    with torch.no_grad():
        assert torch.isclose(g_logs["adv_video"], softplus(-nets["D_video"](fake)).mean())
        _, d_logs = objective.discriminator_loss(nets, batch, state)
        real_logits, fake_logits = (nets["D_image"](M.inbetween_frames(v)) for v in (batch["video"], fake))
        assert torch.isclose(d_logs["image"], softplus(-real_logits).mean() + softplus(fake_logits).mean())


def test_reconstruction_term_and_image_d_frame_subset():
    """Our CPU options: lambda_reconstruction adds lambda * L1(in-between frames) to G's loss; d_image_frames = k
    shows the image D k distinct in-between frames of each clip (a different draw each call)."""
    cfg = dataclasses.replace(TINY, lambda_reconstruction=5.0, d_image_frames=2)
    torch.manual_seed(0)
    nets, batch = SPEC.build_nets(cfg), random_clips(cfg)
    state = StepState(0)
    total, logs = M.InbetweenObjective(cfg).generator_loss(nets, batch, state)
    real, fake = batch["video"], state["fake"]
    l1 = (fake[:, :, 1:-1] - real[:, :, 1:-1]).abs().mean()
    assert torch.isclose(logs["reconstruction"], l1)
    assert torch.isclose(total, logs["adv_video"] + logs["adv_image"] + 5.0 * l1)
    assert "reconstruction" not in M.InbetweenObjective(TINY).generator_loss(nets, batch, StepState(0))[1]

    T = cfg.frames
    video = torch.arange(2 * T, dtype=torch.float32).view(2, 1, T, 1, 1).expand(2, 3, T, 4, 4)   # value = clip*T + t
    picked = M.inbetween_frames(video, 2)[:, 0, 0, 0].view(2, 2)
    for clip, values in enumerate(picked.tolist()):
        times = [v - clip * T for v in values]
        assert len(set(times)) == 2 and all(1 <= t <= T - 2 for t in times)     # distinct, never a keyframe
    draws = {tuple(M.inbetween_frames(video, 2)[:, 0, 0, 0].tolist()) for _ in range(20)}
    assert len(draws) > 1
    assert torch.equal(M.inbetween_frames(video, 0), M.inbetween_frames(video, T))    # 0 or >= T - 2: all of them


def test_best_of_k_reconstruction_pulls_only_the_closest_draw():
    """reconstruction_samples = K: G draws K clips per keyframe pair and the L1 term is that of the closest one,
    so only it gets the L1 gradient; K = 1 is the plain L1; the Ds still see one draw per clip."""
    real = torch.zeros(2, 3, 4, 2, 2)
    fakes = torch.stack([torch.full_like(real, 0.5), torch.full_like(real, -0.2)]).flatten(0, 1)   # (K B, ...)
    fakes[3] = 0.9                                       # clip 1's second draw is now the worse one
    fakes.requires_grad_(True)
    loss = M.best_of_k_l1(fakes, real)
    assert torch.isclose(loss, torch.tensor((0.2 + 0.5) / 2))
    loss.backward()
    touched = [bool(g.abs().sum() > 0) for g in fakes.grad]
    assert touched == [False, True, True, False]         # clip 0: draw 1 (0.2 away); clip 1: draw 0 (0.5 away)
    assert torch.isclose(M.best_of_k_l1(real + 0.3, real), torch.tensor(0.3))

    cfg = dataclasses.replace(TINY, lambda_reconstruction=5.0, reconstruction_samples=3)
    nets, batch = SPEC.build_nets(cfg), random_clips(cfg)
    state = StepState(0)
    _, logs = M.InbetweenObjective(cfg).generator_loss(nets, batch, state)
    assert state["fake"].shape == batch["video"].shape
    assert torch.isfinite(logs["reconstruction"])
    with pytest.raises(ValueError, match="reconstruction_samples"):
        dataclasses.replace(TINY, reconstruction_samples=0)


def test_gates_lie_in_the_unit_interval():
    cfg = TINY
    torch.manual_seed(0)
    G = M.InbetweenGenerator(cfg)
    S = cfg.image_size
    x = torch.rand(2, 3, S, S) * 2 - 1
    for scale in (1.0, 100.0):                          # saturating gates stay in [0, 1]
        with torch.no_grad():
            _, gates = G(x, x.flip(0), scale * torch.randn(2, cfg.noise_dim))
        for g_s, g_e in gates:
            assert g_s.shape == g_e.shape == (2, cfg.latent_channels, g_s.shape[-1])
            assert 0 <= float(g_s.min()) and float(g_s.max()) <= 1 and 0 <= float(g_e.min()) and float(g_e.max()) <= 1


def test_fusion_of_eq_4():
    torch.manual_seed(0)
    z = torch.randn(2, 5, 4, 3, 3)
    g_s, g_e = torch.rand(2, 5, 4, 1, 1) / 2, torch.rand(2, 5, 4, 1, 1) / 2       # g_s + g_e <= 1
    # One representation everywhere, no noise: the weights sum to 1 and eq. 4 returns it unchanged.
    assert torch.allclose(M.gated_fusion(z[:, :, :1], z[:, :, :1], z, g_s * 0 + 1, g_e * 0, 0.0),
                          z[:, :, :1].expand_as(z))
    same = z[:, :, :1].expand_as(z)
    assert torch.allclose(M.gated_fusion(same[:, :, :1], same[:, :, :1], same, g_s, g_e), same, atol=1e-6)
    # Gates summing past 1 keep nothing of z_prev: max(0, 1 - g_s - g_e) = 0.
    big = torch.full_like(g_s, 0.8)
    assert torch.allclose(M.gated_fusion(same[:, :, :1], same[:, :, :1], torch.randn_like(z), big, big), 1.6 * same)
    # Closed gates pass z_prev (plus the noise) through.
    noise = torch.randn(2, 5, 4, 1, 1)
    assert torch.equal(M.gated_fusion(z[:, :, :1], z[:, :, -1:], z, 0 * g_s, 0 * g_e, noise), z + noise)


def test_each_block_fuses_with_its_own_gates_and_noise():
    cfg = TINY
    torch.manual_seed(0)
    c, t, h = cfg.latent_channels, cfg.stage_frames[-1], cfg.latent_size
    z_s, z_e, z_prev, u = torch.randn(2, c, h, h), torch.randn(2, c, h, h), torch.randn(2, c, t, h, h), \
        torch.randn(2, cfg.noise_dim)
    block = M.InbetweenLatentBlock(cfg, t)
    z_in, (g_s, g_e) = block.fuse(z_prev, z_s, z_e, u)
    g_s2, g_e2, noise = block.inputs(u)
    tile = lambda x: x[..., None, None]  # noqa: E731
    expected = tile(g_s2) * z_s[:, :, None] + tile(g_e2) * z_e[:, :, None] \
        + torch.clamp(1 - tile(g_s2) - tile(g_e2), min=0) * z_prev + tile(noise)
    assert torch.equal(g_s, g_s2) and torch.allclose(z_in, expected, atol=1e-6)
    plain = M.InbetweenLatentBlock(cfg, t, fusion=False)
    z_in, gates = plain.fuse(z_prev, z_s, z_e, u)
    assert gates is None and torch.allclose(z_in, z_prev + tile(plain.inputs(u)[2]))


def test_keyframes_at_both_ends_and_crops_reported():
    cfg = TINY
    pipe = warmed_pipeline(cfg)
    S, T = cfg.image_size, cfg.frames
    start, end = image(40, 60, seed=1), image(50, 30, seed=2, channels=0)           # landscape RGB, portrait grey
    result = pipe.synthesize(start, end, num_samples=3, seed=5)
    assert result.frames.shape == (3, T, S, S, 3) and result.frames.dtype == np.uint8
    assert result.start_crop == M.CropBox(10, 0, 50, 40) and result.end_crop == M.CropBox(0, 10, 30, 40)
    expected_start, _ = M.center_square(start, S)
    expected_end, _ = M.center_square(np.repeat(end[..., None], 3, axis=2), S)
    assert all(np.array_equal(clip[0], expected_start) and np.array_equal(clip[-1], expected_end)
               for clip in result.frames)
    assert len(result.gates) == 3 * cfg.blocks_per_stage and result.gates[0].shape == (3, 2, cfg.stage_frames[0])
    assert np.array_equal(result.frames, pipe.generate(start, end, num_samples=3, seed=5))


def test_generation_is_deterministic_and_seeds_vary_the_middle():
    cfg = TINY
    pipe = warmed_pipeline(cfg)
    start, end = image(32, 32, seed=3), image(32, 32, seed=4)
    a = pipe.generate(start, end, num_samples=2, seed=1)
    assert np.array_equal(a, pipe.generate(start, end, num_samples=2, seed=1))
    assert np.array_equal(a, warmed_pipeline(cfg).generate(start, end, num_samples=2, seed=1))   # rebuilt: same
    b = pipe.generate(start, end, num_samples=1, seed=2)
    assert np.array_equal(a[1], b[0])                                  # sample k of seed s = sample 0 of seed s + k
    assert not np.array_equal(a[0, 1:-1], a[1, 1:-1])                  # different noise, different middles
    assert np.array_equal(a[0, [0, -1]], a[1, [0, -1]])                # ... and the same keyframes


def test_linear_blend_baseline():
    cfg = TINY
    x_s, x_e = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    blend = M.linear_blend(x_s, x_e, 5)
    assert blend.shape == (2, 3, 5, 8, 8) and torch.equal(blend[:, :, 0], x_s)
    assert torch.allclose(blend[:, :, -1], x_e) and torch.allclose(blend[:, :, 2], (x_s + x_e) / 2)
    pipe = warmed_pipeline(cfg)
    frames = pipe.blend(image(32, 32, 1), image(32, 32, 2))
    assert frames.shape == (cfg.frames, cfg.image_size, cfg.image_size, 3)


@pytest.mark.parametrize("start, kwargs, error, message", [
    ([[0]], {}, MediaError, "could not be read"),
    (np.zeros((4, 40, 3), np.uint8), {}, MediaError, "too small"),
    (np.zeros((20, 20, 2), np.uint8), {}, MediaError, "RGB"),
    (np.zeros((20, 20, 3), np.uint8), {"num_samples": 0}, ValueError, "at least 1"),
])
def test_bad_input_gets_a_clear_message(start, kwargs, error, message):
    pipe = registry.random_pipeline("inbetween", "tiny")
    with pytest.raises(error, match=message):
        pipe.generate(start, np.zeros((20, 20, 3), np.uint8), **kwargs)


@pytest.mark.parametrize("changes, message", [
    ({"frames": 10}, "multiple of 4"), ({"variant": "fusionless"}, "variant"), ({"dataset": "ucf101"}, "dataset"),
    ({"decoder_channels": (8, 4)}, "one entry per encoder stage"), ({"image_size": 36}, "divisible"),
    ({"d_video_layers": 3}, "shorten time"), ({"output": "warp"}, "output must be one of"),
])
def test_config_checks_its_values(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **changes)


def test_blend_residual_output_corrects_the_cross_dissolve():
    """output="blend_residual": G's frames are clip(blend + decoder frames); a decoder that outputs 0 gives the
    blend exactly, and the default ("direct", the paper) returns the decoder's frames themselves."""
    cfg = dataclasses.replace(TINY, output="blend_residual")
    torch.manual_seed(0)
    G = M.InbetweenGenerator(cfg).eval()
    S, T = cfg.image_size, cfg.frames
    start, end, u = torch.rand(2, 3, S, S) * 2 - 1, torch.rand(2, 3, S, S) * 2 - 1, torch.randn(2, cfg.noise_dim)
    with torch.no_grad():
        video, _ = G(start, end, u)
        direct = M.InbetweenGenerator(TINY).eval()
        direct.load_state_dict(G.state_dict())
        residual = direct(start, end, u)[0]
        assert torch.allclose(video, (M.linear_blend(start, end, T) + residual).clamp(-1, 1))
        last = G.decoder.net[-1]                                      # the transposed conv to RGB (tanh follows)
        last.weight.zero_()
        last.bias.zero_()
        assert torch.allclose(G(start, end, u)[0], M.linear_blend(start, end, T), atol=1e-6)


def test_learned_blend_output_moves_the_cross_dissolve_weight_per_pixel():
    """output="learned_blend": frames are clip((1 - w) x_s + w x_e + tanh(r)) with w = sigmoid(a + logit(t/(T-1)));
    the keyframe head's (a, r) = 0 gives the linear blend exactly between the keyframes (the two end frames, which
    the keyframes replace, use weights half a step inside (0, 1) to keep the logit finite), and a large a shows
    the end frame's pixels."""
    cfg = dataclasses.replace(TINY, output="learned_blend")
    torch.manual_seed(0)
    G = M.InbetweenGenerator(cfg).eval()
    S, T = cfg.image_size, cfg.frames
    start, end, u = torch.rand(2, 3, S, S) * 2 - 1, torch.rand(2, 3, S, S) * 2 - 1, torch.randn(2, cfg.noise_dim)
    last = G.keyframe_head[-1]                                            # the conv to (r, a)
    with torch.no_grad():
        assert G(start, end, u)[0].shape == (2, 3, T, S, S)
        last.weight.zero_()
        last.bias.zero_()
        blend = M.linear_blend(start, end, T)
        assert torch.allclose(G(start, end, u)[0][:, :, 1:-1], blend[:, :, 1:-1], atol=1e-6)
        last.bias[3] = 30.0                                               # a = 30 everywhere: w = 1
        assert torch.allclose(G(start, end, u)[0][:, :, 1:-1], end[:, :, None].expand(-1, -1, T - 2, -1, -1),
                              atol=1e-5)


def test_pipeline_reports_the_learned_blend_weight_and_none_for_other_outputs():
    """synthesize(...).blend_weight: float32 (N, T, S, S) in [0, 1] for learned_blend (the weight that made the
    frames), None for the paper's direct output."""
    cfg = dataclasses.replace(TINY, output="learned_blend")
    start, end = image(40, 40, 1), image(40, 40, 2)
    result = warmed_pipeline(cfg).synthesize(start, end, num_samples=2, seed=0)
    w = result.blend_weight
    assert w.shape == (2, cfg.frames, cfg.image_size, cfg.image_size) and w.dtype == np.float32
    assert 0 <= w.min() and w.max() <= 1 and not np.allclose(w[0], w[1])      # each sample its own weight
    assert warmed_pipeline(TINY).synthesize(start, end).blend_weight is None


def test_learned_blend_head_sees_the_keyframes_at_full_resolution():
    """The keyframe head gets the two keyframes pixel by pixel: one pixel of the start frame moves the blend weight
    w there even with the encoder's output held fixed (so not through the 8 x 8 latent). The frames themselves
    would depend on that pixel through the blend anyway, so the test looks at w."""
    cfg = dataclasses.replace(TINY, output="learned_blend")
    torch.manual_seed(0)
    G = M.InbetweenGenerator(cfg).eval()
    S = cfg.image_size
    start, end, u = torch.zeros(1, 3, S, S, requires_grad=True), torch.zeros(1, 3, S, S), torch.randn(1, cfg.noise_dim)
    codes = G.encoder(torch.cat([start, end]).detach())
    G.encoder.forward = lambda x: codes                                   # the latent path cannot see the change
    _, weight, _ = G.frames_and_blend_weight(start, end, u)
    weight[0, 0, cfg.frames // 2, S // 2, S // 2].backward()
    assert start.grad[0, :, S // 2, S // 2].abs().sum() > 0


def test_weights_round_trip_with_batch_norm_statistics_and_no_discriminators(tmp_path):
    cfg = TINY
    pipe = warmed_pipeline(cfg)                         # running statistics differ from their initial values
    card = {"model": "inbetween", "variant": "t", "paper": {}, "config": dataclasses.asdict(cfg), "train": {},
            "metrics": {}, "license": "MIT", "limitations": ""}
    loaded = registry.pipeline_from_file("inbetween", save_weights(pipe.generator.state_dict(), tmp_path / "t", card))
    kinds = {type(m) for m in loaded.generator.modules()}
    assert M.InbetweenGenerator in kinds and not kinds & {M.InbetweenVideoDiscriminator, M.InbetweenImageDiscriminator}
    start, end = image(32, 32, 1), image(32, 32, 2)
    assert np.array_equal(loaded.generate(start, end, 2, seed=3), pipe.generate(start, end, 2, seed=3))


def test_evaluation_scores_samples_and_the_blend_baseline():
    metrics = SPEC.evaluate(registry.random_pipeline("inbetween", "tiny"), 2)
    assert {"ssim_mean", "ssim_best_of_10", "ssim_linear_blend", "ssim_flow_interpolation", "protocol"} <= set(metrics)
    assert metrics["ssim_best_of_10"] >= metrics["ssim_mean"] and 0 < metrics["ssim_linear_blend"] <= 1

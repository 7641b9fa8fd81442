"""bench/inbetween.py on untrained tiny models: the SSIM sets and their large-motion halves, the FVD table (on a
cheap clip feature and on a random I3D), speed, missing weights, real clips present or absent, and a full run of
`main` writing its JSON and markdown. (EfficientNet-Lite0 clip features are tested in test_metrics.py.)"""

import json

import numpy as np
import pytest
import torch

import bench.common
import bench.inbetween as B
from demo_lib import registry
from demo_lib.data import inbetween_data
from demo_lib.i3d import I3D
from demo_lib.models import inbetween
from demo_lib.weights import WeightsError


def mean_colour(videos):
    """A cheap 6-d clip feature: per-channel mean and mean |temporal difference|."""
    return torch.cat([videos.mean(dim=(2, 3, 4)), (videos[:, :, 1:] - videos[:, :, :-1]).abs().mean(dim=(2, 3, 4))], 1)


@pytest.fixture(scope="module")
def tiny():
    return B.random_models("tiny", "cpu")


def test_random_models_cover_every_variant(tiny):
    assert list(tiny) == list(B.VARIANTS)
    assert {n: (p.cfg.dataset, p.cfg.variant) for n, p in tiny.items()} == \
        {n: (d, v) for n, (_, d, v) in B.VARIANTS.items()}
    a, b = (next(tiny[n].generator.parameters()) for n in ("demo", "bair"))
    assert not torch.equal(a, b)                                                            # each its own init


def test_large_motion_picks_the_moving_clips():
    rng = np.random.default_rng(0)
    texture = (rng.random((32, 48, 3)) * 255).astype(np.uint8)
    texture = np.asarray(torch.nn.functional.avg_pool2d(torch.from_numpy(texture).permute(2, 0, 1).float(), 3, 1, 1)
                         .permute(1, 2, 0).byte())
    still = np.stack([texture[:, :32]] * 6)
    pan = np.stack([texture[:, 2 * t:2 * t + 32] for t in range(6)])                         # 2 px per frame
    assert B.clip_motion(still) < 0.1 < 1.0 < B.clip_motion(pan)
    assert B.large_motion([B.clip_motion(c) for c in (still, pan, still, pan)]) == [1, 3]
    assert B.large_motion([0.0]) == [0]


def test_inbetween_ssim_scores_only_the_frames_between_the_keyframes():
    truth, other = (c.frames for c in inbetween_data.heldout_clips("kth", 2, 32, 8))
    swapped_ends = truth.copy()
    swapped_ends[[0, -1]] = other[[0, -1]]
    scores = inbetween.inbetween_ssim(truth, np.stack([truth, swapped_ends, other]))
    assert scores.shape == (3,) and scores[0] == pytest.approx(1) and scores[1] == pytest.approx(1)
    assert scores[2] < 0.9 and inbetween.inbetween_ssim(truth, other).shape == (1,)


def test_ssim_sets_on_procedural_and_real_clips(tiny, monkeypatch):
    cfg = tiny["demo"].cfg
    real = inbetween_data.heldout_clips("digits", 2, cfg.image_size, cfg.frames)
    monkeypatch.setattr(inbetween_data, "real_clips", lambda n, size, frames: [(f"fake/{c.seed}", c.frames)
                                                                                for c in real][:n])
    sets = B.ssim_sets(tiny, clips=2, samples=3, real=2)
    kth, bair = sets["KTH-like held-out clips"], sets["BAIR-like held-out clips"]
    assert kth["models"] == ["demo", "without_fusion", "naive"] and bair["models"] == ["bair"]
    assert len(kth["large_motion_clips"]) == 1 and kth["subsets"]["large motion"]["clips"] == 1
    for s in (kth, bair):
        for subset in s["subsets"].values():
            methods = subset["methods"]
            assert set(B.BASELINES) <= set(methods)
            for name, v in methods.items():
                assert -1 <= v["mean"] <= v["best"] <= 1
                if name in B.BASELINES:
                    assert v["mean"] == v["best"]
    assert kth["per_clip"]["demo"]["best"][0] >= kth["per_clip"]["demo"]["mean"][0]
    (key, r), = [(k, v) for k, v in sets.items() if k.startswith("real video")]
    assert r["names"] == ["fake/1000000", "fake/1000001"] and r["models"] == ["demo", "bair"]    # full models

    monkeypatch.setattr(inbetween_data, "real_clips", lambda n, size, frames: [])        # no shared/data
    absent = B.ssim_sets({"bair": tiny["bair"]}, clips=2, samples=1, real=4)
    assert absent[key]["note"].startswith("not available") and absent[key]["subsets"] == {}


def test_fvd_scores_on_a_clip_feature_and_on_a_random_i3d():
    models = {n: p for n, p in B.random_models("tiny", "cpu", ("frames=16",)).items() if n in B.FVD_MODELS}
    cfg = models["demo"].cfg
    truth = [c.frames for c in inbetween_data.heldout_clips("kth", 3, cfg.image_size, cfg.frames)]
    torch.manual_seed(0)
    i3d = I3D(image_size=16)
    scores = B.fvd_scores(models, truth, {"toy": mean_colour, "i3d": lambda v: i3d(v)})
    assert list(scores) == [*B.FVD_MODELS, *B.BASELINES]
    assert all(np.isfinite(v[space]) and v[space] > -1e-6 for v in scores.values() for space in ("toy", "i3d"))


def test_speed_times_every_model_in_turn(tiny):
    out = B.speed(tiny, repeats=2)
    assert list(out) == list(tiny) and all(0 < v["median_s"] < 10 and v["repeats"] == 2 for v in out.values())


def test_the_fvd_check_needs_equal_training():
    """The full model 'beats its ablations' only against ablations trained as long as it was."""
    space = B.EFFICIENTNET_FVD
    results = {"ssim": {}, "speed": {}, "configs": {},
               "fvd": {"scores": {"demo": {space: 10.0}, "without_fusion": {space: 20.0}, "naive": {space: 30.0}}}}
    key = f"full model beats its ablations on {space}"
    fair = B.checks(results | {"steps": {"demo": 2000, "without_fusion": 2000, "naive": 2000}})[key]
    unfair = B.checks(results | {"steps": {"demo": 8000, "without_fusion": 2000, "naive": 2000}})[key]
    assert fair == "yes (10.0 vs without fusion (without_fusion) 20.0, naive (naive) 30.0)"
    assert unfair.startswith("NO (10.0") and "not comparable: the full model trained 8000 steps" in unfair


def test_missing_weights_are_listed_and_none_stops_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "weights_path", lambda name, variant=None: tmp_path / f"{variant}.safetensors")
    models, missing = B.load_models("cpu")
    assert models == {} and missing == [f"{v}.safetensors" for v in B.VARIANTS]
    with pytest.raises(SystemExit, match="--random-weights"):
        B.main(["--fvd-clips", "0", "--device", "cpu"])


def test_a_missing_i3d_file_fails_before_any_work(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        B.main(["--random-weights", "tiny", "--i3d", str(tmp_path / "i3d.pt"), "--device", "cpu"])


def test_main_writes_the_tables(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    monkeypatch.setattr(B, "feature_functions", lambda device, path: {B.EFFICIENTNET_FVD: mean_colour})
    monkeypatch.setattr(inbetween_data, "real_clips", lambda n, size, frames: [])
    results = B.main(["--random-weights", "tiny", "--clips", "2", "--samples", "2", "--real-clips", "1",
                      "--fvd-clips", "2", "--repeats", "1", "--device", "cpu"])
    saved = json.loads((tmp_path / "inbetween_random_tiny.json").read_text())
    table = (tmp_path / "inbetween_random_tiny.md").read_text()
    assert saved["random_weights"] == "tiny" and saved["missing"] == [] and list(saved["speed"]) == ["cpu"]
    assert list(saved["fvd"]["scores"]) == [*B.FVD_MODELS, *B.BASELINES]
    assert set(results["checks"]) >= {"demo: best-of-N SSIM beats linear blending on large-motion KTH-like clips",
                                      f"full model beats its ablations on {B.EFFICIENTNET_FVD}"}
    for text in ("**Untrained weights**", "large motion (1 clips)", "not available", "best of 2",
                 "FVD on EfficientNet-Lite0 features (not comparable to published FVD)", "Checks (issue 5)"):
        assert text in table


def test_record_writes_each_models_rows_into_its_card(tiny, tmp_path, monkeypatch):
    """--record: each shipped model's card gets metrics.benchmark with its own rows, the baselines beside them,
    the FVD table where it is in it, its speed and the checks about it; the tensor file stays as it was."""
    from demo_lib.weights import load_weights, save_weights

    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    monkeypatch.setattr(B, "feature_functions", lambda device, path: {B.EFFICIENTNET_FVD: mean_colour})
    monkeypatch.setattr(inbetween_data, "real_clips", lambda n, size, frames: [])
    paths = {}
    for name, p in tiny.items():
        card = {"model": "inbetween", "variant": name, "paper": {}, "config": dict(vars(p.cfg)), "train": {},
                "metrics": {"ssim_mean": 0.5}, "license": "MIT", "limitations": ""}
        paths[name] = save_weights(p.generator.state_dict(), tmp_path / name, card)
    monkeypatch.setattr(registry, "weights_path", lambda model, variant=None: paths[variant])
    monkeypatch.setattr(B, "load_models", lambda device: (tiny, []))
    B.main(["--record", "--clips", "2", "--samples", "2", "--real-clips", "0", "--fvd-clips", "2", "--repeats", "1",
            "--device", "cpu"])
    demo, bair = (json.loads(paths[n].with_suffix(".json").read_text())["metrics"] for n in ("demo", "bair"))
    assert demo["ssim_mean"] == 0.5 and demo["benchmark"]["command"].startswith("python -m bench.inbetween --record")
    rows = demo["benchmark"]["ssim_in_between_frames"]
    assert set(rows) == {"KTH-like held-out clips, all (2 clips)", "KTH-like held-out clips, large motion (1 clips)"}
    assert all(set(r) == {"demo", *B.BASELINES} for r in rows.values())
    assert set(demo["benchmark"]["fvd"]) == {*B.FVD_MODELS, *B.BASELINES} and "fvd" not in bair["benchmark"]
    assert any("ablations" in k for k in demo["benchmark"]["checks"])
    assert list(bair["benchmark"]["checks"]) == ["bair: best-of-N SSIM beats linear blending on large-motion "
                                                 "BAIR-like clips"]
    assert set(demo["benchmark"]["seconds_per_sample"]) == {"cpu"}
    load_weights(paths["demo"])                                                   # sha256 still matches


def test_real_clips_take_street_and_sky_in_turn(tmp_path, monkeypatch):
    from PIL import Image

    from demo_lib.video import write_mp4

    rng = np.random.default_rng(0)
    for seq, count in (("seqA", 5), ("seqB", 2)):                      # seqB is too short for 4 frames
        folder = tmp_path / "street" / "train_B" / seq
        folder.mkdir(parents=True)
        for k in range(count):
            Image.fromarray((rng.random((40, 80, 3)) * 255).astype(np.uint8)).save(folder / f"{k:03d}.png")
    write_mp4((rng.random((6, 32, 32, 3)) * 255).astype(np.uint8), tmp_path / "sky" / "a.mp4")
    monkeypatch.setattr(inbetween_data, "default_cityscapes_root", lambda: tmp_path / "street")
    monkeypatch.setattr(inbetween_data, "default_sky_timelapse_root", lambda: tmp_path / "sky")
    clips = inbetween_data.real_clips(5, size=16, frames=4)
    assert [(n, c.shape, c.dtype) for n, c in clips] == [("cityscapes/seqA", (4, 16, 16, 3), np.uint8),
                                                         ("sky_timelapse/a.mp4", (4, 16, 16, 3), np.uint8)]
    assert [n for n, _ in inbetween_data.real_clips(1, size=16, frames=4)] == ["cityscapes/seqA"]
    monkeypatch.setattr(inbetween_data, "default_cityscapes_root", lambda: None)
    monkeypatch.setattr(inbetween_data, "default_sky_timelapse_root", lambda: None)
    assert inbetween_data.real_clips(5) == []

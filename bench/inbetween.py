"""Video inbetweening benchmark (Li, Roblek & Tagliasacchi 2019): the paper's tables in shape, and speed.

    python -m bench.inbetween                           # shipped weights/inbetween/*; bench/results/inbetween.*
    python -m bench.inbetween --i3d i3d_kinetics400.safetensors        # adds FVD on I3D (a file you supply)
    python -m bench.inbetween --device cuda
    python -m bench.inbetween --record                  # also writes each model's rows into its card
                                                        # (metrics.benchmark)
    python -m bench.inbetween --random-weights demo     # untrained nets: runs the protocol, times the demo size;
                                                        # bench/results/inbetween_random_demo.* (numbers mean nothing)

Models: the shipped files of weights/inbetween/: demo (the full model, KTH-like clips), bair (the full model,
BAIR-like), without_fusion and naive (the paper's ablations, KTH-like). Missing files are listed and skipped.

1. SSIM, the paper's protocol. Keyframes = the first and last frame of a true clip; each model makes N stochastic
   clips (--samples, default 100, the paper's N; clip i uses seeds i*N ... i*N + N - 1); SSIM (Gaussian 11x11,
   sigma 1.5) of the T - 2 in-between frames to the true ones, averaged over the frames. "Best of N": the best
   sample per clip; "mean": the mean over the N samples; both then averaged over the clips. Next to two
   deterministic baselines on the same keyframes: linear blending (a cross-dissolve) and classical flow
   interpolation (DIS flow both ways, Super SloMo's linear-motion approximation, no occlusion reasoning).
   Test sets: for every model, --clips held-out procedural clips of its own dataset (seeds from HELDOUT_SEED, never
   trained on), all of them and their "large motion" half; for the full models (demo, bair), --real-clips real
   clips from the folders beside the repository (Cityscapes street sequences and sky time-lapse, in turn:
   `inbetween_data.real_clips`; no model trains on them), 16 frames at 64x64, or "not available" without them.
   Large motion: the half of the held-out clips (the n // 2 largest) by `clip_motion`, the mean DIS-flow magnitude
   between consecutive TRUE frames in pixels per frame (averaged over pixels and frame pairs): an objective
   property of the clip, independent of every method, and where blending ghosts (it dissolves what moves).
2. Frechet video distance (FVD; Unterthiner et al. 2018) of the full model vs its ablations (and the baselines)
   against the true clips, on --fvd-clips held-out KTH-like clips, one sample per clip (seed = clip index), all
   16 frames (keyframes included, as every method returns them). Features: always "FVD on EfficientNet-Lite0
   features" (`EfficientNetFeatures.clip_features`: temporal mean and mean absolute temporal difference of the
   per-frame ImageNet features, 2560-d), NOT comparable to published FVD; with --i3d PATH also FVD on the
   Kinetics-400 I3D logits of that file (`demo_lib.i3d`; frames resized to 224x224), which is FVD as published up
   to the clip count and the data. Lower is closer to the true clips. Distances at few clips are biased upwards;
   compare rows of one table only.
Speed: seconds per 16-frame 64x64 sample (`generate(start, end, num_samples=1)`: keyframes in, uint8 clip out),
median of --repeats runs, the models taking turns run by run (`median_seconds_interleaved`); target 0.2 s on CPU.
Quality runs on --device (default: CUDA if present, else CPU); speed on --device, or on every device available.

Cost of the defaults on a 2-core CPU, all four models: 11,200 generated 16-frame clips scored by SSIM (about
0.08 s each, batched) and 4,608 frames through EfficientNet-Lite0 at 224x224 for the FVD (about 0.05 s each):
roughly 15-20 minutes. --samples, --clips, --real-clips and --fvd-clips scale it.
"""

from __future__ import annotations

import argparse
import time
import zlib

import numpy as np
import torch

from bench.common import command_line, environment, load_shipped, median_seconds_interleaved, write_results
from demo_lib import registry
from demo_lib.data import inbetween_data
from demo_lib.flow import dis_flow_video
from demo_lib.metrics import frechet_distance, video_features
from demo_lib.models import inbetween
from demo_lib.weights import record_in_card

MODEL = "inbetween"
# weights file -> (label, dataset, config variant); the card's config must agree.
VARIANTS = {"demo": ("full model", "kth", "full"), "bair": ("full model", "bair", "full"),
            "without_fusion": ("without fusion", "kth", "without_fusion"), "naive": ("naive", "kth", "naive")}
FVD_MODELS = ("demo", "without_fusion", "naive")         # full vs its ablations, all KTH-like
BASELINES = {"linear_blend": "linear blend", "flow_interpolation": "flow interpolation"}
DATASET_NAMES = {"kth": "KTH-like", "bair": "BAIR-like", "digits": "moving digits"}
TARGETS = {"sample_16x64x64_cpu_s": 0.2}
EFFICIENTNET_FVD = "FVD on EfficientNet-Lite0 features (not comparable to published FVD)"
I3D_FVD = "FVD on I3D Kinetics-400 logits"


def label(name: str) -> str:
    return f"{VARIANTS[name][0]} ({name})" if name in VARIANTS else BASELINES.get(name, name)


def load_models(device: str) -> tuple[dict[str, inbetween.InbetweenPipeline], list[str]]:
    """The shipped models (weights file name -> pipeline) and the file names of the missing ones."""
    expected = {name: {"dataset": dataset, "variant": variant} for name, (_, dataset, variant) in VARIANTS.items()}
    return load_shipped(MODEL, expected, device)


def random_models(preset: str, device: str, overrides: tuple[str, ...] = ()) -> dict[str, inbetween.InbetweenPipeline]:
    """Untrained pipelines of `preset` ("tiny" or "demo") for every entry of VARIANTS, each its own random init:
    to exercise the protocol and time the architecture without trained weights."""
    out = {}
    for name, (_, dataset, variant) in VARIANTS.items():
        cfg, _ = registry.get(MODEL).preset(preset, [f"dataset={dataset}", f"variant={variant}", *overrides])
        torch.manual_seed(zlib.crc32(name.encode()))
        out[name] = inbetween.InbetweenPipeline(inbetween.InbetweenGenerator(cfg), cfg, torch.device(device),
                                                {"model": MODEL, "variant": f"random {preset}", "train": {"steps": 0}})
    return out


def steps(pipeline: inbetween.InbetweenPipeline) -> int:
    return int(pipeline.card.get("train", {}).get("steps", 0))


# ---------------------------------------------------------------------------------------------------------------
# 1. SSIM


def clip_motion(clip: np.ndarray) -> float:
    """Mean DIS-flow magnitude between consecutive frames of uint8 (T, S, S, 3), pixels per frame."""
    return float(np.linalg.norm(dis_flow_video(clip), axis=-1).mean())


def large_motion(motion: list[float]) -> list[int]:
    """Indices of the n // 2 clips (at least one) with the largest motion (`clip_motion` of each), in clip order."""
    return sorted(np.argsort(-np.asarray(motion), kind="stable")[:max(1, len(motion) // 2)].tolist())


def ssim_per_clip(models: dict[str, inbetween.InbetweenPipeline], clips: list[np.ndarray],
                  samples: int) -> dict[str, dict[str, np.ndarray]]:
    """method -> {"best", "mean"} per-clip SSIMs: every model (best of `samples` and mean) and the two baselines
    (deterministic: best = mean)."""
    out = {}
    for name, p in models.items():
        t0 = time.perf_counter()
        out[name] = inbetween.inbetween_sample_ssim(p, clips, samples)
        print(f"  {name}: {len(clips)} clips x {samples} samples in {time.perf_counter() - t0:.0f} s", flush=True)
    base = inbetween.inbetween_baseline_ssim(next(iter(models.values())), clips)
    return out | {key: {"best": base[key], "mean": base[key]} for key in BASELINES}


def summarise(per_clip: dict[str, dict[str, np.ndarray]], index: list[int]) -> dict:
    """{"clips": how many, "methods": {method: {"best", "mean"} averaged over the clips in `index`}}."""
    return {"clips": len(index),
            "methods": {m: {k: round(float(v[index].mean()), 4) for k, v in s.items()} for m, s in per_clip.items()}}


def ssim_sets(models: dict[str, inbetween.InbetweenPipeline], clips: int, samples: int,
              real: int) -> dict[str, dict]:
    """Test set name -> {"clips", "models", "subsets": {"all" | "large motion": `summarise`}, "per_clip", ...}:
    each model on `clips` held-out procedural clips of its dataset (all, and the large-motion half), and the full
    models (of the first model's size) on up to `real` real clips (a "note" instead when there are none)."""
    out: dict[str, dict] = {}
    for dataset in sorted({p.cfg.dataset for p in models.values()}, key=list(DATASET_NAMES).index):
        group = {n: p for n, p in models.items() if p.cfg.dataset == dataset}
        cfg = next(iter(group.values())).cfg
        truth = [c.frames for c in inbetween_data.heldout_clips(dataset, clips, cfg.image_size, cfg.frames)]
        print(f"{DATASET_NAMES[dataset]} held-out clips:", flush=True)
        per_clip = ssim_per_clip(group, truth, samples)
        motion = [clip_motion(c) for c in truth]
        big = large_motion(motion)
        out[f"{DATASET_NAMES[dataset]} held-out clips"] = {
            "clips": len(truth), "seeds": f"{inbetween_data.HELDOUT_SEED}..{inbetween_data.HELDOUT_SEED + clips - 1}",
            "models": list(group), "large_motion_clips": big, "motion_px_per_frame": np.round(motion, 3).tolist(),
            "large_motion_from_px_per_frame": round(min(motion[i] for i in big), 3),
            "subsets": {"all": summarise(per_clip, list(range(len(truth)))), "large motion": summarise(per_clip, big)},
            "per_clip": {m: {k: np.round(v, 4).tolist() for k, v in s.items()} for m, s in per_clip.items()}}
    cfg = next(iter(models.values())).cfg
    found = inbetween_data.real_clips(real, cfg.image_size, cfg.frames) if real > 0 else []
    key = f"real video ({cfg.frames} frames at {cfg.image_size}x{cfg.image_size})"
    if not found:
        out[key] = {"clips": 0, "subsets": {},
                    "note": "not available: no real clips (shared/data/cityscapes_vid2vid and sky_timelapse absent)"
                    if real > 0 else "not run (--real-clips 0)"}
        return out
    print("real clips:", flush=True)
    same = {n: p for n, p in models.items()
            if p.cfg.variant == "full" and (p.cfg.image_size, p.cfg.frames) == (cfg.image_size, cfg.frames)}
    per_clip = ssim_per_clip(same, [c for _, c in found], samples)
    out[key] = {"clips": len(found), "names": [n for n, _ in found], "models": list(same),
                "subsets": {"all": summarise(per_clip, list(range(len(found))))},
                "per_clip": {m: {k: np.round(v, 4).tolist() for k, v in s.items()} for m, s in per_clip.items()}}
    return out


# ---------------------------------------------------------------------------------------------------------------
# 2. Frechet video distance


def fvd_scores(models: dict[str, inbetween.InbetweenPipeline], truth: list[np.ndarray],
               feature_fns: dict[str, object]) -> dict[str, dict[str, float]]:
    """method -> {feature space: distance to the true clips}: one sample per clip (seed = clip index) from each
    model, and the two baselines, on the keyframes of `truth` (uint8 (T, S, S, 3) each)."""
    any_model = next(iter(models.values()))
    candidates = {name: np.stack([p.generate(c[0], c[-1], 1, seed=i)[0] for i, c in enumerate(truth)])
                  for name, p in models.items()}
    candidates["linear_blend"] = np.stack([any_model.blend(c[0], c[-1]) for c in truth])
    candidates["flow_interpolation"] = np.stack([any_model.flow_interpolation(c[0], c[-1]) for c in truth])
    out: dict[str, dict[str, float]] = {name: {} for name in candidates}
    for space, fn in feature_fns.items():
        t0 = time.perf_counter()
        reference = video_features(np.stack(truth), fn)
        for name, videos in candidates.items():
            out[name][space] = round(frechet_distance(video_features(videos, fn), reference), 3)
        print(f"  {space}: {len(candidates) + 1} sets of {len(truth)} clips in {time.perf_counter() - t0:.0f} s",
              flush=True)
    return out


def feature_functions(device: str, i3d_path: str | None) -> dict[str, object]:
    from demo_lib.features import get_efficientnet_features

    net = get_efficientnet_features(device)
    fns: dict[str, object] = {EFFICIENTNET_FVD: lambda v: net.clip_features(v.to(device))}
    if i3d_path:
        from demo_lib.i3d import load_i3d

        i3d = load_i3d(i3d_path, device)                  # WeightsError with what is wrong, before any work
        fns[I3D_FVD] = lambda v: i3d(v.to(device))
    return fns


# ---------------------------------------------------------------------------------------------------------------
# Speed


def speed(models: dict[str, inbetween.InbetweenPipeline], repeats: int) -> dict[str, dict[str, float]]:
    """Per model: seconds for one sample (keyframes of held-out clip 0 of its dataset), the models in turn."""
    runs = {}
    for name, p in models.items():
        clip = inbetween_data.heldout_clips(p.cfg.dataset, 1, p.cfg.image_size, p.cfg.frames)[0].frames
        runs[name] = lambda p=p, clip=clip: p.generate(clip[0], clip[-1], 1, seed=0)
    return median_seconds_interleaved(runs, repeats=repeats)


# ---------------------------------------------------------------------------------------------------------------
# Report


def sample_size(cfg: dict) -> str:
    return f"{cfg['frames']}-frame {cfg['image_size']}x{cfg['image_size']}"


def checks(results: dict) -> dict[str, str]:
    """The issue's done-when criteria that this run measured, answered from its results."""
    out = {}
    for name, dataset in (("demo", "KTH-like"), ("bair", "BAIR-like")):
        s = results["ssim"].get(f"{dataset} held-out clips", {})
        big = s.get("subsets", {}).get("large motion", {}).get("methods", {})
        if name in big:
            m, b = big[name]["best"], big["linear_blend"]["best"]
            out[f"{name}: best-of-N SSIM beats linear blending on large-motion {dataset} clips"] = \
                f"{'yes' if m > b else 'NO'} ({m:.4f} vs {b:.4f})"
    fvd = results.get("fvd", {}).get("scores", {})
    if "demo" in fvd and any(a in fvd for a in FVD_MODELS[1:]):
        for space in fvd["demo"]:
            rivals = {a: fvd[a][space] for a in FVD_MODELS[1:] if a in fvd}
            best = all(fvd["demo"][space] < v for v in rivals.values())
            trained = results.get("steps", {})
            unequal = [a for a in rivals if trained.get(a) != trained.get("demo")]
            out[f"full model beats its ablations on {space}"] = (
                f"{'yes' if best and not unequal else 'NO'} ({fvd['demo'][space]:.1f} vs "
                + ", ".join(f"{label(a)} {v:.1f}" for a, v in rivals.items()) + ")"
                + (f"; not comparable: the full model trained {trained.get('demo')} steps, "
                   + ", ".join(f"{label(a)} {trained.get(a)}" for a in unequal) if unequal else ""))
    cpu = results["speed"].get("cpu", {})
    if "demo" in cpu:
        t, c = cpu["demo"]["median_s"], results["configs"]["demo"]
        out[f"one {sample_size(c)} sample of the full model on this CPU <= 0.2 s"] = \
            f"{'yes' if t <= TARGETS['sample_16x64x64_cpu_s'] else 'NO'} ({t:.3f} s)" + \
            ("" if (c["frames"], c["image_size"]) == (16, 64) else "; the target is for 16 frames at 64x64")
    return out


def card_summary(results: dict, name: str, command: str) -> dict:
    """The rows of `results` that concern the shipped model `name`, for its card: its SSIM (best of N and mean) on
    each test set next to the baselines, its FVD next to the other models', its speed, and the checks about it."""
    ssim = {}
    for test_set, s in results["ssim"].items():
        for subset, part in s.get("subsets", {}).items():
            if name in part["methods"]:
                ssim[f"{test_set}, {subset} ({part['clips']} clips)"] = {
                    m: v for m, v in part["methods"].items() if m == name or m in BASELINES}
    fvd = results.get("fvd", {}).get("scores", {})
    return {"command": command, "date": results["environment"].get("date", ""),
            "samples_per_clip": results["samples"], "ssim_in_between_frames": ssim,
            **({"fvd": fvd} if name in fvd else {}),
            "seconds_per_sample": {d: round(sp[name]["median_s"], 4) for d, sp in results["speed"].items()
                                   if name in sp},
            "checks": {k: v for k, v in results["checks"].items() if k.startswith(f"{name}:")
                       or (name in fvd and "ablations" in k)
                       or (name == "demo" and "sample of the full model" in k)}}


def markdown(results: dict, samples: int) -> list[str]:
    rows: list[str] = []
    if results.get("random_weights"):
        rows += [f"**Untrained weights** (--random-weights {results['random_weights']}): these numbers exercise the "
                 "protocol and time the architecture; they say nothing about the method.", ""]
    if results["missing"]:
        rows += [f"Not shipped in weights/{MODEL}/ (their rows are left out): "
                 + ", ".join(f"`{m}`" for m in results["missing"]) + ".", ""]
    rows += ["| model | sample | device | seconds per sample (median, min-max) | target |", "|---|---|---|---|---|"]
    for device, sp in results["speed"].items():
        for name, r in sp.items():
            size = sample_size(results["configs"][name])
            target = f"<= {TARGETS['sample_16x64x64_cpu_s']} s" if device == "cpu" and size == "16-frame 64x64" else "-"
            rows.append(f"| {label(name)} | {size} | {device} | {r['median_s']:.3f} s ({r['min_s']:.3f}-"
                        f"{r['max_s']:.3f}) | {target} |")
    rows += ["", f"SSIM of the in-between frames to the true clip (higher is better): the best of N = {samples} "
                 f"samples per clip, and their mean; the baselines are deterministic (one clip: best = mean).", "",
             f"| test clips | method | training steps | SSIM, best of {samples} | SSIM, mean of {samples} |",
             "|---|---|---|---|---|"]
    for name, s in results["ssim"].items():
        if not s["subsets"]:
            rows.append(f"| {name} | {s['note']} | | | |")
            continue
        where = f"; {', '.join(s['names'])}" if "names" in s else ""
        for subset, part in s["subsets"].items():
            first = f"{name}, {subset} ({part['clips']} clips{where})"
            for k, (method, v) in enumerate(part["methods"].items()):
                step = results["steps"].get(method, "-")
                rows.append(f"| {first if k == 0 else ''} | {label(method)} | {step} | {v['best']:.4f} | "
                            f"{v['mean']:.4f} |")
    bounds = [f"{name.split()[0]} from {s['large_motion_from_px_per_frame']:.2f} px/frame"
              for name, s in results["ssim"].items() if "large_motion_from_px_per_frame" in s]
    if bounds:
        rows += ["", "Large motion: the half of the held-out clips with the largest mean DIS-flow magnitude between "
                     "consecutive true frames (" + "; ".join(bounds) + ")."]
    fvd = results.get("fvd")
    if fvd and fvd.get("scores"):
        spaces = list(next(iter(fvd["scores"].values())))
        rows += ["", f"Frechet video distance to {fvd['clips']} held-out true KTH-like clips (lower is better), one "
                     f"sample per clip; full model vs the paper's ablations:", "",
                 "| method | training steps | " + " | ".join(spaces) + " |", "|---|---|" + "---|" * len(spaces)]
        for name, v in fvd["scores"].items():
            rows.append(f"| {label(name)} | {results['steps'].get(name, '-')} | "
                        + " | ".join(f"{v[s]:.1f}" for s in spaces) + " |")
    elif fvd:
        rows += ["", f"Frechet video distance: {fvd['note']}"]
    if results["checks"]:
        rows += ["", "Checks (issue 5):", ""] + [f"- {k}: {v}" for k, v in results["checks"].items()]
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: quality on CUDA if present, else "
                                                       "CPU; speed on every device available)")
    parser.add_argument("--samples", type=int, default=100, help="N of best-of-N SSIM (the paper's 100)")
    parser.add_argument("--clips", type=int, default=24, help="held-out procedural clips per dataset")
    parser.add_argument("--real-clips", type=int, default=8, help="real clips (street and sky, in turn) for the full "
                                                                  "models; 0: skip")
    parser.add_argument("--fvd-clips", type=int, default=48, help="held-out KTH-like clips for the FVD; 0: skip")
    parser.add_argument("--i3d", default=None, metavar="PATH", help="Kinetics-400 I3D weights (.safetensors or a "
                                                                    "torch state dict): adds FVD on I3D")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per model")
    parser.add_argument("--record", action="store_true", help="write each shipped model's rows into its card")
    parser.add_argument("--random-weights", choices=("tiny", "demo"), default=None,
                        help="untrained models of this preset instead of the shipped files (tests, timing)")
    args = parser.parse_args(argv)

    quality_device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    speed_devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    feature_fns = feature_functions(quality_device, args.i3d) if args.fvd_clips > 0 else {}

    def models_on(device: str) -> tuple[dict[str, inbetween.InbetweenPipeline], list[str]]:
        return (random_models(args.random_weights, device), []) if args.random_weights else load_models(device)

    models, missing = models_on(quality_device)
    for m in missing:
        print(f"missing: weights/{MODEL}/{m} (its rows are left out)", flush=True)
    if not models:
        raise SystemExit("no inbetween weights: train and export them (see weights/inbetween/README.md), or run "
                         "with --random-weights tiny|demo to exercise the benchmark")
    results: dict = {"environment": environment(), "targets": TARGETS, "random_weights": args.random_weights,
                     "missing": missing, "steps": {n: steps(p) for n, p in models.items()},
                     "configs": {n: {"dataset": p.cfg.dataset, "variant": p.cfg.variant, "frames": p.cfg.frames,
                                     "image_size": p.cfg.image_size} for n, p in models.items()},
                     "samples": args.samples, "speed": {}}
    for device in speed_devices:
        on_device = models if device == quality_device else models_on(device)[0]
        results["speed"][device] = speed(on_device, args.repeats)
        print(device, {k: round(v["median_s"], 4) for k, v in results["speed"][device].items()}, flush=True)

    results["ssim"] = ssim_sets(models, args.clips, args.samples, args.real_clips)
    ablations = {n: models[n] for n in FVD_MODELS if n in models}
    if args.fvd_clips > 0 and ablations:
        cfg = next(iter(ablations.values())).cfg
        truth = [c.frames for c in inbetween_data.heldout_clips("kth", args.fvd_clips, cfg.image_size, cfg.frames)]
        print("FVD:", flush=True)
        results["fvd"] = {"clips": len(truth), "scores": fvd_scores(ablations, truth, feature_fns),
                          "features": {EFFICIENTNET_FVD: "EfficientNetFeatures.clip_features: [temporal mean, mean "
                                       "|temporal difference|] of pooled 1280-d per-frame ImageNet features (frames "
                                       "resized to 224)", **({I3D_FVD: f"demo_lib.i3d.I3D logits, weights {args.i3d}"}
                                                            if args.i3d else {})}}
    else:
        results["fvd"] = {"note": "not run (--fvd-clips 0)" if args.fvd_clips <= 0 else
                          f"not available: none of {', '.join(FVD_MODELS)} is shipped"}
    results["checks"] = checks(results)
    name = f"inbetween_random_{args.random_weights}" if args.random_weights else "inbetween"
    write_results(name, results, markdown(results, args.samples))
    if args.record and not args.random_weights:
        command = command_line("inbetween", argv)
        for model_name in models:
            record_in_card(registry.weights_path(MODEL, model_name), "benchmark",
                           card_summary(results, model_name, command))
            print(f"recorded in weights/{MODEL}/{model_name}.json (metrics.benchmark)", flush=True)
    return results


if __name__ == "__main__":
    main()

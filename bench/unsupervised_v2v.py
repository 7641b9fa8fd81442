"""Single-frame unsupervised video translation benchmark: the paper's table in shape, and speed.

    python -m bench.unsupervised_v2v            # shipped munit_video weights; bench/results/unsupervised_v2v.*
    python -m bench.unsupervised_v2v --device cuda

Quality (Wang & Feng's table: temporal loss and a distance to the target domain, against lambda_t): every shipped
lambda_t variant (`weights/munit_video/`: lambda_t0, demo = lambda_t 10, lambda_t15, lambda_t20) translates the
same held-out clips photo -> painting, each clip with the same style code in every variant, and
`munit_video.video_scores` measures
  * the temporal loss on REAL video: the warp error of the translation under the input video's own DIS flow,
    occluded pixels masked, with the normalisation statistics shared by the clip (the paper's inference) and per
    frame (plain MUNIT); the input video's own warp error is the reference (what the flow misses on the
    photos; a translation smoother than its input can score below it);
  * a Frechet distance between the translated frames and held-out paintings on ImageNet EfficientNet-Lite0
    features (labelled as such: a stand-in for FID, not comparable to published numbers).
Real clips are the held-out videos beside the repository (sky time-lapse, Cityscapes seq0004); camera pans over a
held-out photo are reported on their own row group (without shared/data, they are all there is).

Speed: seconds per frame of a 16-frame 256x256 clip, shared statistics (which adds one pass over the sampled frames)
and per-frame statistics alternating run by run, medians.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.common import environment, load_shipped, median_seconds_interleaved, write_results
from demo_lib import registry
from demo_lib.data import paintings
from demo_lib.models import munit_video

MODEL = "munit_video"
VARIANTS = {"lambda_t0": 0.0, "demo": 10.0, "lambda_t15": 15.0, "lambda_t20": 20.0}   # weights file -> lambda_t
TARGETS = {"frame_256x256_s": 0.25}
SPEED_SIZE, SPEED_FRAMES = 256, 16


def load_variants(device: str) -> dict[str, object]:
    """'lambda_t = x' -> pipeline, for every variant that is shipped; the card's lambda_temporal must match."""
    shipped, missing = load_shipped(MODEL, {v: {"lambda_temporal": lt} for v, lt in VARIANTS.items()}, device)
    if missing:
        print(f"skipping the missing {', '.join(missing)}", flush=True)
    if not shipped:
        raise SystemExit("no munit_video weights: train and export them (see weights/munit_video/README.md)")
    return {f"lambda_t = {VARIANTS[variant]:g}": pipeline for variant, pipeline in shipped.items()}


def speed(pipeline, repeats: int) -> dict[str, dict[str, float]]:
    clip = paintings.camera_pan(paintings.photo_sources("heldout", shared_data=False)[0].load(0), SPEED_SIZE,
                                SPEED_FRAMES, np.random.default_rng(0))
    runs = {"shared statistics": lambda: pipeline.generate(clip, shared_norm=True),
            "per-frame statistics": lambda: pipeline.generate(clip, shared_norm=False)}
    timings = median_seconds_interleaved(runs, repeats=repeats)
    return {k: {"s_per_frame": t["median_s"] / SPEED_FRAMES, **t} for k, t in timings.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every one available)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clips", type=int, default=12, help="held-out clips (cycling over the held-out sources)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args(argv)
    import torch

    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    results: dict = {"environment": environment(), "targets": TARGETS, "speed": {}, "quality": {}}
    for device in devices:
        model = registry.pipeline_from_file(MODEL, registry.weights_path(MODEL), device)
        results["speed"][device] = speed(model, args.repeats)
        print(device, {k: round(v["s_per_frame"], 4) for k, v in results["speed"][device].items()}, flush=True)

    pipelines = load_variants("cpu")
    videos = paintings.heldout_videos(args.clips, args.size, args.frames)
    groups = {"real video": [v for v in videos if not v[0].startswith("camera pan")],
              "camera pans over a held-out photo": [v for v in videos if v[0].startswith("camera pan")]}
    for group, clips in groups.items():
        if clips:
            results["quality"][group] = {"clips": sorted({name for name, _ in clips}), "count": len(clips),
                                         "scores": munit_video.video_scores(pipelines, clips)}
            print(group, results["quality"][group]["scores"], flush=True)
    results["steps"] = {name: p.card["train"]["steps"] for name, p in pipelines.items()}

    rows = ["| translation of a 16-frame 256x256 clip | device | s / frame (median) | target |", "|---|---|---|---|"]
    for device, sp in results["speed"].items():
        for key, r in sp.items():
            target = f"<= {TARGETS['frame_256x256_s']} s (CPU)" if device == "cpu" else "-"
            rows.append(f"| {key} | {device} | {r['s_per_frame']:.3f} s | {target} |")
    for group, q in results["quality"].items():
        scores = q["scores"]
        rows += ["", f"Temporal loss on {group} ({q['count']} clips of {args.frames} frames at {args.size}x{args.size}: "
                     f"{', '.join(q['clips'])}); warp error of the translation under the input's own DIS flow, "
                     f"occlusions masked, lower is steadier; Frechet distance to held-out paintings on ImageNet "
                     f"EfficientNet-Lite0 features (NOT FID), lower is closer to the painting domain:", "",
                 "| model | training steps | warp error, shared statistics | warp error, per-frame statistics "
                 "| Frechet (EfficientNet-Lite0) |", "|---|---|---|---|---|"]
        for name, p in pipelines.items():
            s = scores[name]
            rows.append(f"| {name} | {results['steps'][name]} | {s['warp_error_shared_norm']:.4f} | "
                        f"{s['warp_error_per_frame_norm']:.4f} | {s['frechet_efficientnet_lite0']:.1f} |")
        rows.append(f"| the input video itself (reference; untranslated photos) | - | {scores['input']['warp_error']:.4f} "
                    f"| | {scores['input']['frechet_efficientnet_lite0']:.1f} |")
    rows += ["", "Each clip is translated with the same style code (seed = clip index) by every model; shared "
                 f"statistics are recorded over {next(iter(pipelines.values())).cfg.shared_sample_frames} frames "
                 "sampled evenly from the clip."]
    write_results("unsupervised_v2v", results, rows)
    return results


if __name__ == "__main__":
    main()

"""Time-lapse benchmark: speed on CPU (and GPU when present) and timestamp error on held-out scenes.

    python -m bench.timelapse                        # shipped weights; writes bench/results/timelapse.{json,md}
    python -m bench.timelapse --scenes 48 --device cuda
    python -m bench.timelapse --record               # also writes the rows into the weights' card (metrics.benchmark)
    python -m bench.timelapse --compare shipped runs/x/checkpoint-*.pt --first-scene 1000   # choose a checkpoint
    python -m bench.timelapse --photos DIR           # also every .jpg/.png in DIR among the real photos

Speed: one frame at 128 px (the generator at 128 px); a 24-frame day cycle with the generator at 256 px and guided
upsampling to a 1024x683 photo (next to plain bilinear upsampling, and to the generator at its training resolution,
`generate`'s default, all measured in the same run). Medians of repeated runs.
Quality: the timestamp error (hours) on held-out procedural scenes: each generated frame is dated by the nearest
ground-truth render of its scene (`timelapse.HourEstimator`, independent of the model; hours whose ground truth
looks the same, such as a windowless place at night, are not told apart), next to the estimator's own floor (true
renders in random weather) and two time-blind models.
Real photos that the time-lapse model never trains on (`real_photos()`, and `--photos DIR`): what a user sees, from a
48-frame day at 512 px on the longest side (`timelapse.photo_day_scores`): daytime sharpness and structure against the photo, noon against midnight
brightness, the largest frame-to-frame change against the median one; and a contact sheet of each photo's day
(bench/results/timelapse_photos.jpg) to look at.
Choosing a checkpoint (`--compare`): the timestamp error, z from the seed, of each training checkpoint's EMA
generator (and of weights files, or `shipped`) on the same held-out scenes, by default 48 from held-out scene 1000
on, so that the benchmark's scenes (0-47) never choose the model they then score, with each one's difference to the
first listed, paired scene by scene. Writes bench/results/timelapse_compare.{json,md}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_sample_image

from bench import common
from bench.common import command_line, environment, median_seconds, write_results
from demo_lib import registry
from demo_lib.models.timelapse import photo_day_scores
from demo_lib.video import fit_within, resize_image
from demo_lib.weights import record_in_card

TARGETS = {"one_frame_128px_s": 0.100, "day_cycle_24_guided_1024px_s": 3.0, "timestamp_error_hours": 1.5}
PHOTO_TARGETS = {"daytime_sharpness": (">=", 0.85), "daytime_structure_ssim": (">=", 0.85),
                 "noon_over_midnight": (">=", 3.0), "largest_change_over_median": ("<=", 3.0)}
BENCHMARK_SCENES = 48   # the timestamp error scores held-out scenes 0 .. 47 (--scenes)
SHEET_HOURS = (0.0, 5.0, 6.0, 9.0, 12.0, 15.0, 18.0, 19.0, 21.0)


def real_photos(folder: str | None = None) -> dict[str, np.ndarray]:
    """Outdoor photos that the time-lapse model never trains on: two that ship inside the installed packages, and
    every .jpg/.png of `folder` (e.g. the Debian wallpaper photos of lomiri-wallpapers-16.04), at most 1024 px."""
    from PIL import Image
    from skimage import data

    photos = {"china.jpg (scikit-learn)": load_sample_image("china.jpg"), "rocket (scikit-image)": data.rocket()}
    for path in sorted(Path(folder).iterdir()) if folder else []:
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            photos[path.name] = fit_within(np.asarray(Image.open(path).convert("RGB")), 1024)
    return photos


def photo_quality(model, photos: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    out = {}
    for name, photo in photos.items():
        out[name] = photo_day_scores(model, photo)
        print(name, out[name], flush=True)
    return out


def photo_sheet(model, photos: dict[str, np.ndarray], out: Path, height: int = 120) -> None:
    """One row per photo: the photo, then its frames at SHEET_HOURS (seed 0), captioned."""
    from PIL import Image, ImageDraw

    rows = []
    for name, photo in photos.items():
        small = fit_within(photo, 512)
        frames = model.generate(small, SHEET_HOURS, seed=0)
        w = round(small.shape[1] * height / small.shape[0])
        rows.append((name, [resize_image(x, (height, w)) for x in [small, *frames]]))
    width = max(sum(x.shape[1] for x in tiles) for _, tiles in rows)
    sheet = Image.new("RGB", (width, len(rows) * (height + 14) + 14), "white")
    draw = ImageDraw.Draw(sheet)
    w0 = rows[0][1][0].shape[1]
    for c, label in enumerate(["photo"] + [f"{h:g}:00" for h in SHEET_HOURS]):
        draw.text((c * w0 + 2, 0), label, fill="black")
    for r, (name, tiles) in enumerate(rows):
        y, x = 14 + r * (height + 14), 0
        draw.text((2, y), name, fill="black")
        for tile in tiles:
            sheet.paste(Image.fromarray(tile), (x, y + 14))
            x += tile.shape[1]
    sheet.save(out, quality=85)
    print(f"wrote {out}")


def speed(model, repeats: int) -> dict[str, dict[str, float]]:
    photo_128 = resize_image(load_sample_image("china.jpg"), (128, 128))
    photo_1024 = resize_image(load_sample_image("china.jpg"), (683, 1024))
    day = [float(h) for h in np.arange(24)]
    return {
        "one_frame_128px": median_seconds(lambda: model.generate(photo_128, [12.0], seed=0, work_size=128),
                                          repeats=10),
        "day_cycle_24_guided_1024px": median_seconds(
            lambda: model.generate(photo_1024, day, seed=0, guided=True, work_size=256), repeats=repeats),
        "day_cycle_24_bilinear_1024px": median_seconds(
            lambda: model.generate(photo_1024, day, seed=0, guided=False, work_size=256), repeats=repeats),
        "day_cycle_24_guided_1024px_default_size": median_seconds(
            lambda: model.generate(photo_1024, day, seed=0, guided=True), repeats=repeats),
    }


def quality(model, num_scenes: int) -> dict[str, float]:
    """The model card's evaluation (`ModelSpec.evaluate`), on more scenes."""
    return registry.get("timelapse").evaluate(model, num_scenes)


def compare(models: list[str], num_scenes: int, first_scene: int) -> dict:
    """Timestamp error (z from the seed, as the app makes frames) of each training checkpoint, weights file or
    `shipped`, on the same scenes and ground-truth references, and each one's difference to the first listed, paired
    scene by scene (its standard error is that of the mean per-scene difference, which the scenes' own difficulty
    does not inflate)."""
    from demo_lib.data.timelapse_data import heldout_scenes, reference_weathers
    from demo_lib.models.timelapse import timestamp_error

    def load(name: str):
        if name == "shipped":
            return registry.load("timelapse", device="cpu")
        if name.endswith(".safetensors"):                   # weights with their card, e.g. an earlier shipped file
            return registry.pipeline_from_file("timelapse", name, "cpu")
        return registry.pipeline_from_checkpoint(name, "cpu")

    def generate(model):
        return lambda photo, hours, i: model.generate(photo, hours, seed=i)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    pipelines = {name: load(name) for name in models}
    errors = timestamp_error({name: generate(p) for name, p in pipelines.items()},
                             heldout_scenes(num_scenes, (128, 128), first_scene), weathers=reference_weathers())

    def paired_difference(e: dict) -> dict[str, float | None]:
        diff = np.asarray(e["per_scene"]) - np.asarray(errors[models[0]]["per_scene"])
        return {"mean_hours": rounded(float(diff.mean())),
                "standard_error_hours": rounded(float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1
                                                else None)}

    return {name: {"step": pipelines[name].card["train"]["steps"], "mean_hours": rounded(e["mean_hours"]),
                   "standard_error_hours": rounded(e["standard_error_hours"]),
                   f"minus_{models[0]}": paired_difference(e),
                   "by_hour": {h: round(v, 2) for h, v in e["by_hour"].items()}} for name, e in errors.items()}


def write_comparison(results: dict, num_scenes: int, first_scene: int, argv: list[str] | None) -> None:
    reference = next(iter(results))
    hours = list(results[reference]["by_hour"])
    rows = [f"Timestamp error (h) on held-out scenes {first_scene}-{first_scene + num_scenes - 1}, z from the seed; "
            f"the benchmark scores scenes 0-{BENCHMARK_SCENES - 1}. `{command_line('timelapse', argv)}`", "",
            f"| model | step (of its run) | mean error | standard error | minus {reference}, paired | "
            + " | ".join(f"{h} h" for h in hours) + " |", "|---|---|---|---|---|" + "---|" * len(hours)]
    for name, r in results.items():
        difference = r[f"minus_{reference}"]
        rows.append(f"| {name} | {r['step']} | {r['mean_hours']:.3f} | {r['standard_error_hours'] or '-'} | "
                    f"{difference['mean_hours']:+.3f} ± {difference['standard_error_hours'] or '-'} | "
                    + " | ".join(f"{v:.1f}" for v in r["by_hour"].values()) + " |")
    write_results("timelapse_compare", {"environment": environment(), "first_scene": first_scene,
                                        "scenes": num_scenes, "models": results}, rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every one available)")
    parser.add_argument("--scenes", type=int, default=BENCHMARK_SCENES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--record", action="store_true", help="write the results into the weights' card")
    parser.add_argument("--compare", nargs="+", metavar="MODEL",
                        help="only compare these training checkpoints, weights files (.safetensors) or 'shipped' on "
                             "--first-scene's scenes")
    parser.add_argument("--first-scene", type=int, default=1000, help="first held-out scene for --compare")
    parser.add_argument("--photos", default=None, help="a folder of outdoor photos to add to the real photos")
    args = parser.parse_args(argv)
    import torch

    if args.compare:
        try:
            results = compare(args.compare, args.scenes, args.first_scene)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:   # a missing or foreign file: say which
            parser.error(f"--compare: {exc}".splitlines()[0])
        write_comparison(results, args.scenes, args.first_scene, argv)
        return results

    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    results: dict = {"environment": environment(), "targets": TARGETS, "speed": {}}
    weights = registry.weights_path("timelapse", args.variant)
    for device in devices:
        model = registry.pipeline_from_file("timelapse", weights, device)
        results["speed"][device] = speed(model, args.repeats)
        print(device, {k: round(v["median_s"], 4) for k, v in results["speed"][device].items()}, flush=True)
    results["weights_card_steps"] = model.card["train"]["steps"]
    results["weights"] = {"variant": args.variant or "shipped", "sha256": model.card.get("sha256")}
    results["timestamp_error"] = quality(model, args.scenes)
    print({k: v for k, v in results["timestamp_error"].items() if k != "protocol"}, flush=True)
    photos = real_photos(args.photos)
    results["photos"] = photo_quality(model, photos)
    name = "timelapse" if args.variant is None else f"timelapse_{args.variant}"
    photo_sheet(model, photos, common.RESULTS / f"{name}_photos.jpg")

    rows = ["| measurement | device | median | target |", "|---|---|---|---|"]
    for device, sp in results["speed"].items():
        rows.append(f"| one frame, 128 px | {device} | {sp['one_frame_128px']['median_s'] * 1000:.1f} ms | "
                    f"<= {TARGETS['one_frame_128px_s'] * 1000:.0f} ms (CPU) |")
        rows.append(f"| 24-frame day cycle, G at 256 px, guided upsampling to 1024x683 | {device} | "
                    f"{sp['day_cycle_24_guided_1024px']['median_s']:.2f} s | "
                    f"<= {TARGETS['day_cycle_24_guided_1024px_s']} s (CPU) |")
        ratio = sp["day_cycle_24_guided_1024px"]["median_s"] / sp["day_cycle_24_bilinear_1024px"]["median_s"]
        rows.append(f"| same, bilinear upsampling instead | {device} | "
                    f"{sp['day_cycle_24_bilinear_1024px']['median_s']:.2f} s (guided/bilinear = {ratio:.2f}x) | - |")
        rows.append(f"| same, guided, G at its training resolution ({model.cfg.image_size} px, the default) | "
                    f"{device} | {sp['day_cycle_24_guided_1024px_default_size']['median_s']:.2f} s | - |")
    te = results["timestamp_error"]
    rows += ["", f"Timestamp error on {args.scenes} held-out procedural scenes (mean circular error in hours; "
             f"lower is better; a random guess scores 6 h; target < {TARGETS['timestamp_error_hours']} h):", "",
             "| frames | mean error (h) | standard error over scenes (h) |", "|---|---|---|"]
    labels = {
        "timestamp_error_hours": f"time-lapse model, z from the seed ({results['weights_card_steps']} steps)",
        "timestamp_error_mean_z_hours": "time-lapse model, z = 0 (mean weather)",
        "timestamp_error_generator_128px_hours": "time-lapse model, z from the seed, generator at 128 px, not at "
                                                 "its training resolution",
        "ground_truth_random_weather_hours": "ground-truth renders in random weather (the estimator's floor)",
        "time_blind_input_copy_hours": "time-blind: the input photo unchanged",
        "time_blind_model_at_noon_hours": "time-blind: the model asked for 12:00 every time",
    }
    standard_errors = {key: "-" if se is None else f"{se:.2f}" for key, se in te["standard_errors"].items()}
    rows += [f"| {label} | {te[key]:.2f} | {standard_errors[key]} |" for key, label in labels.items()]
    rows += ["", "The model's mean error (h) per requested hour, z from the seed:", "",
             "| " + " | ".join(f"{hour} h" for hour in te["timestamp_error_by_hour"]) + " |",
             "|" + "---|" * len(te["timestamp_error_by_hour"]),
             "| " + " | ".join(f"{error:.1f}" for error in te["timestamp_error_by_hour"].values()) + " |"]
    rows += ["", "Real photos the time-lapse model never trains on, a 48-frame day at 512 px (longest side), seed 0 "
             "(`timelapse.photo_day_scores`; each day is in " + f"`bench/results/{name}_photos.jpg`):", "",
             "| photo | " + " | ".join(f"{k} ({op} {v:g})" for k, (op, v) in PHOTO_TARGETS.items())
             + " | largest change at (h) |", "|---|" + "---|" * (len(PHOTO_TARGETS) + 1)]
    for photo, scores in results["photos"].items():
        rows.append(f"| {photo} | " + " | ".join(f"{scores[k]:g}" for k in PHOTO_TARGETS)
                    + f" | {scores['largest_change_at_hours']:g} |")
    rows += ["", f"Protocol: {te['protocol']}",
             "", f"Weights: {results['weights']['variant']} (sha256 {results['weights']['sha256']})."]
    # Another variant (a candidate, an ablation) gets its own files: timelapse.{json,md} stay the shipped weights'.
    write_results(name, results, rows)
    if args.record:
        record_in_card(weights, "benchmark", {
            "command": command_line("timelapse", argv),
            "date": results["environment"].get("date", ""), "timestamp_error": te,
            "seconds": {device: {k: round(v["median_s"], 4) for k, v in sp.items()}
                        for device, sp in results["speed"].items()}})
        print(f"recorded in {weights.with_suffix('.json')} (metrics.benchmark)", flush=True)
    return results


if __name__ == "__main__":
    main()

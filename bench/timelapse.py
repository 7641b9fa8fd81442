"""Time-lapse benchmark: speed on CPU (and GPU when present) and timestamp error on held-out scenes.

    python -m bench.timelapse                        # shipped weights; writes bench/results/timelapse.{json,md}
    python -m bench.timelapse --scenes 48 --device cuda
    python -m bench.timelapse --record               # also writes the rows into the weights' card (metrics.benchmark)

Speed: one frame at 128 px (the generator at 128 px); a 24-frame day cycle with the generator at 256 px and guided
upsampling to a 1024x683 photo (next to plain bilinear upsampling, and to the generator at its training resolution,
`generate`'s default, all measured in the same run). Medians of repeated runs.
Quality: the timestamp error (hours) on held-out procedural scenes: each generated frame is dated by the nearest
ground-truth render of its scene (`timelapse.HourEstimator`, independent of the model; hours whose ground truth
looks the same, such as a windowless place at night, are not told apart), next to the estimator's own floor (true
renders in random weather) and two time-blind models.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_sample_image

from bench.common import command_line, environment, median_seconds, write_results
from demo_lib import registry
from demo_lib.video import resize_image
from demo_lib.weights import record_in_card

TARGETS = {"one_frame_128px_s": 0.100, "day_cycle_24_guided_1024px_s": 3.0, "timestamp_error_hours": 1.5}


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every one available)")
    parser.add_argument("--scenes", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--record", action="store_true", help="write the results into the weights' card")
    args = parser.parse_args(argv)
    import torch

    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    results: dict = {"environment": environment(), "targets": TARGETS, "speed": {}}
    weights = registry.weights_path("timelapse", args.variant)
    for device in devices:
        model = registry.pipeline_from_file("timelapse", weights, device)
        results["speed"][device] = speed(model, args.repeats)
        print(device, {k: round(v["median_s"], 4) for k, v in results["speed"][device].items()}, flush=True)
    results["weights_card_steps"] = model.card["train"]["steps"]
    results["timestamp_error"] = quality(model, args.scenes)
    print({k: v for k, v in results["timestamp_error"].items() if k != "protocol"}, flush=True)

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
    rows += ["", f"Protocol: {te['protocol']}"]
    write_results("timelapse", results, rows)
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

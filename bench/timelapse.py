"""Time-lapse benchmark: speed on CPU (and GPU when present) and timestamp error on held-out scenes.

    python -m bench.timelapse                        # shipped weights; writes bench/results/timelapse.{json,md}
    python -m bench.timelapse --scenes 48 --device cuda

Speed: one frame at 128 px; a 24-frame day cycle with the generator at 256 px and guided upsampling to a
1024x683 photo (next to plain bilinear upsampling, measured in the same run). Medians of repeated runs.
Quality: the timestamp error (hours) on held-out procedural scenes: each generated frame is dated by the nearest
ground-truth render of its scene (`timelapse.estimate_hour`, independent of the model), next to two time-blind
models: the input photo returned unchanged, and the model itself asked for noon at every hour.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_sample_image

from bench.common import environment, median_seconds, write_results
from demo_lib import registry
from demo_lib.data.timelapse_data import heldout_scenes
from demo_lib.models.timelapse import timestamp_error
from demo_lib.video import resize_image

TARGETS = {"one_frame_128px_s": 0.100, "day_cycle_24_guided_1024px_s": 3.0, "timestamp_error_hours": 1.5}


def speed(model, repeats: int) -> dict[str, dict[str, float]]:
    photo_128 = resize_image(load_sample_image("china.jpg"), (128, 128))
    photo_1024 = resize_image(load_sample_image("china.jpg"), (683, 1024))
    day = [float(h) for h in np.arange(24)]
    return {
        "one_frame_128px": median_seconds(lambda: model.generate(photo_128, [12.0], seed=0), repeats=10),
        "day_cycle_24_guided_1024px": median_seconds(
            lambda: model.generate(photo_1024, day, seed=0, guided=True, work_size=256), repeats=repeats),
        "day_cycle_24_bilinear_1024px": median_seconds(
            lambda: model.generate(photo_1024, day, seed=0, guided=False, work_size=256), repeats=repeats),
    }


def quality(model, num_scenes: int) -> dict[str, dict[str, float]]:
    scenes = heldout_scenes(num_scenes, (128, 128))
    return {
        "model": timestamp_error(lambda im, hours, i: model.generate(im, hours, seed=i, guided=False), scenes),
        "time_blind_input_copy": timestamp_error(lambda im, hours, i: np.repeat(im[None], len(hours), 0), scenes),
        "time_blind_model_at_noon": timestamp_error(
            lambda im, hours, i: model.generate(im, [12.0] * len(hours), seed=i, guided=False), scenes),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every one available)")
    parser.add_argument("--scenes", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variant", default=None)
    args = parser.parse_args(argv)
    import torch

    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    results: dict = {"environment": environment(), "targets": TARGETS, "speed": {}}
    for device in devices:
        model = registry.pipeline_from_file("timelapse", registry.weights_path("timelapse", args.variant), device)
        results["speed"][device] = speed(model, args.repeats)
        print(device, {k: round(v["median_s"], 4) for k, v in results["speed"][device].items()}, flush=True)
    results["weights_card_steps"] = model.card["train"]["steps"]
    results["timestamp_error"] = quality(model, args.scenes)
    print({k: round(v["mean_hours"], 3) for k, v in results["timestamp_error"].items()}, flush=True)

    rows = ["| measurement | device | median | target |", "|---|---|---|---|"]
    for device, sp in results["speed"].items():
        rows.append(f"| one frame, 128 px | {device} | {sp['one_frame_128px']['median_s'] * 1000:.1f} ms | "
                    f"<= {TARGETS['one_frame_128px_s'] * 1000:.0f} ms (CPU) |")
        rows.append(f"| 24-frame day cycle, G at 256 px, guided upsampling to 1024x683 | {device} | "
                    f"{sp['day_cycle_24_guided_1024px']['median_s']:.2f} s | <= {TARGETS['day_cycle_24_guided_1024px_s']} s (CPU) |")
        ratio = sp['day_cycle_24_guided_1024px']['median_s'] / sp['day_cycle_24_bilinear_1024px']['median_s']
        rows.append(f"| same, bilinear upsampling instead | {device} | "
                    f"{sp['day_cycle_24_bilinear_1024px']['median_s']:.2f} s (guided/bilinear = {ratio:.2f}x) | - |")
    te = results["timestamp_error"]
    rows += ["", f"Timestamp error on {args.scenes} held-out procedural scenes (mean circular error, hours; "
             "lower is better; chance is 6 h):", "", "| model | mean | median |", "|---|---|---|"]
    names = {"model": f"time-lapse model ({results['weights_card_steps']} steps)",
             "time_blind_input_copy": "time-blind: input photo unchanged",
             "time_blind_model_at_noon": "time-blind: the model asked for 12:00 every time"}
    for key, label in names.items():
        rows.append(f"| {label} | {te[key]['mean_hours']:.2f} | {te[key]['median_hours']:.2f} |")
    env = results["environment"]
    rows += ["", f"Machine: {env['cpu_count']} CPU cores, torch {env['torch']} ({env['torch_threads']} threads), "
             f"GPU: {env['gpu'] or 'none'}; {env['date']}."]
    table = "\n".join(rows)
    write_results("timelapse", results, table)
    print(table)
    return results


if __name__ == "__main__":
    main()

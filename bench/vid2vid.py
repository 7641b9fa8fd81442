"""vid2vid benchmark: speed and memory per frame, and the paper's comparison with a per-frame baseline.

    python -m bench.vid2vid                 # shipped weights (demo and demo_per_frame); bench/results/vid2vid.*
    python -m bench.vid2vid --device cuda

Speed: seconds per frame of a 12-frame sequence at 128x256 and 256x512 (medians of repeated runs; the generator
runs at the labels' resolution) in float32 and under bfloat16 autocast, alternating run by run, with the peak memory
of one run. Quality, on the held-out real sequence: the model
card's evaluation (`ModelSpec.evaluate`: PSNR, SSIM, warp error under the real video's flow, segmentation mIoU)
for vid2vid and for the per-frame baseline (the same generator without flow, past frames and video D), measured
in this one run, side by side; and vid2vid's scores again with bfloat16 arithmetic.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.common import environment, median_seconds_interleaved, peak_memory_mb, write_results
from demo_lib import registry
from demo_lib.models.vid2vid import PRECISIONS

TARGETS = {"frame_256x512_s": 0.5}
SIZES = ((128, 256), (256, 512))
FRAMES = 12


def example_labels(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from demo_lib.data.street import street_examples

    _, labels, instances = street_examples(size, FRAMES)[0]
    return labels, instances


def speed(model, device: str, repeats: int) -> dict[str, dict[str, float]]:
    """'<H>x<W> <precision>' -> seconds per frame and peak memory; the two precisions alternate, run by run, so that
    both see the same machine load."""
    out = {}
    for h, w in SIZES:
        labels, instances = example_labels((h, w))
        runs = {p: lambda p=p: model.generate(labels, instances, seed=0, precision=p) for p in PRECISIONS}
        timings = median_seconds_interleaved(runs, repeats=repeats)
        for precision, run in runs.items():
            out[f"{h}x{w} {precision}"] = {"s_per_frame": timings[precision]["median_s"] / FRAMES,
                                           "peak_memory_mb": peak_memory_mb(run, device), **timings[precision]}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every one available)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--items", type=int, default=1, help="held-out sequences (procedural ones without real data)")
    args = parser.parse_args(argv)
    import torch

    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    spec = registry.get("vid2vid")
    results: dict = {"environment": environment(), "targets": TARGETS, "speed": {}, "quality": {}}
    for device in devices:
        model = registry.pipeline_from_file("vid2vid", registry.weights_path("vid2vid", "demo"), device)
        results["speed"][device] = speed(model, device, args.repeats)
        print(device, {k: round(v["s_per_frame"], 4) for k, v in results["speed"][device].items()}, flush=True)
    # The card's evaluation: vid2vid and, in the same run on the same frames, the per-frame baseline.
    model = registry.pipeline_from_file("vid2vid", registry.weights_path("vid2vid", "demo"), "cpu")
    evaluation = spec.evaluate(model, args.items)
    if "per_frame_baseline" not in evaluation:
        raise SystemExit("weights/vid2vid/demo_per_frame.safetensors is missing: train and export the baseline")
    model.precision = "bfloat16"      # the same evaluation with the faster arithmetic
    evaluation_bf16 = spec.evaluate(model, args.items)
    results["quality"] = {"vid2vid": {"steps": model.card["train"]["steps"],
                                      **{k: v for k, v in evaluation.items() if k != "per_frame_baseline"}},
                          "vid2vid, bfloat16": {"steps": model.card["train"]["steps"],
                                                **{k: v for k, v in evaluation_bf16.items()
                                                   if k != "per_frame_baseline"}},
                          "per-frame baseline": evaluation["per_frame_baseline"]}
    print({k: v for k, v in evaluation.items() if k != "protocol"}, flush=True)

    rows = ["| generator at | device | s / frame (median) | peak memory | target |", "|---|---|---|---|---|"]
    rows[0] = "| generator at | arithmetic | device | s / frame (median) | peak memory | target |"
    rows[1] = "|---|---|---|---|---|---|"
    for device, sp in results["speed"].items():
        for key, r in sp.items():
            size, precision = key.split()
            target = f"<= {TARGETS['frame_256x512_s']} s (CPU)" if size == "256x512" else "-"
            rows.append(f"| {size} | {precision} | {device} | {r['s_per_frame']:.3f} s | {r['peak_memory_mb']:.0f} MiB "
                        f"| {target} |")
    q = results["quality"]
    keys = [("warp_error", "warp error (flicker; lower is better)"), ("psnr_db", "PSNR (dB)"), ("ssim", "SSIM"),
            ("miou", "segmentation mIoU"), ("steps", "training steps")]
    rows += ["", "Held-out sequence, same protocol for both (the paper's central comparison):", "",
             "| measure | " + " | ".join(q) + " | real video |", "|---|" + "---|" * (len(q) + 1)]
    for key, label in keys:
        real = {"warp_error": q["vid2vid"].get("warp_error_real"),
                "miou": q["vid2vid"].get("miou_real_frames")}.get(key)
        cells = [f"{q[n][key]:.4g}" if key in q[n] else "n/a" for n in q]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {real if real is not None else '-'} |")
    real = q["vid2vid"]["warp_error_real"]
    excess = (q["vid2vid"]["warp_error"] - real) / (q["per-frame baseline"]["warp_error"] - real)
    rows += ["", f"Warp error of vid2vid / per-frame baseline: {q['vid2vid']['warp_error_ratio_to_baseline']:.2f}x; "
                 f"flicker beyond the real video's own warp error (its flow's floor): {excess:.2f}x."]
    rows += ["", f"Protocol: {q['vid2vid']['protocol']}"]
    write_results("vid2vid", results, rows)
    return results


if __name__ == "__main__":
    main()

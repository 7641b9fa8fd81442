"""vid2vid benchmark: speed and memory per frame, and the paper's comparison with a per-frame baseline.

    python -m bench.vid2vid                 # shipped weights (demo and demo_per_frame); bench/results/vid2vid.*
    python -m bench.vid2vid --device cuda
    python -m bench.vid2vid --compare runs/a runs/b weights/vid2vid/demo.safetensors --size 256x512

Speed: seconds per frame of a 12-frame sequence at 128x256 and 256x512 (medians of repeated runs; the generator
runs at the labels' resolution) in float32 and under bfloat16 autocast, alternating run by run, with the peak memory
of one run. Quality, on the held-out real sequence: the model
card's evaluation (`ModelSpec.evaluate`: PSNR, SSIM, warp error under the real video's flow, segmentation mIoU)
for vid2vid and for the per-frame baseline (the same generator without flow, past frames and video D), measured
in this one run, side by side; and vid2vid's scores again with bfloat16 arithmetic.

--compare: runs (exported on the fly, their last state) or weights files, side by side on the held-out sequence at
one size: the card's measures plus sharpness, a Frechet distance on EfficientNet-Lite0 features to the real frames
and seconds per frame, and a contact sheet (labels, real frames, each model) to look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.common import RESULTS, environment, median_seconds_interleaved, peak_memory_mb, write_results
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


def load_any(path: str, workdir: Path):
    """A weights file, or a run folder exported (its last checkpoint, style clusters included) into `workdir`."""
    if Path(path).is_dir():
        from train.export import export

        path = export(path, variant=Path(path).name, eval_scenes=0, out_root=workdir)
    return registry.pipeline_from_file("vid2vid", path, "cpu")


def compare(paths: list[str], size: tuple[int, int], tag: str) -> dict:
    """Every model on the held-out sequence(s) at `size`, side by side; writes vid2vid_compare_<tag>.{json,md,jpg}."""
    import tempfile

    import torch

    from demo_lib.data.street import street_root, street_sequences
    from demo_lib.metrics import VideoMotion, efficientnet_frechet
    from demo_lib.models.vid2vid import mechanism_scores, street_scores

    sequences, where = street_sequences(size, street_root(), held_out=True, count=1)
    segmenter = registry.load("street_segmenter", device="cpu") if registry.weights_path("street_segmenter").is_file() \
        else None
    real = np.concatenate([s.frames for s in sequences])
    motion = VideoMotion.of(sequences[0].frames)
    results: dict = {"environment": environment(), "size": list(size), "data": where, "models": {}}
    sheets = []
    with tempfile.TemporaryDirectory() as workdir:
        for path in paths:
            model = load_any(path, Path(workdir))
            generated: list[np.ndarray] = []
            scores = street_scores(model, sequences, segmenter, generated)
            fake = np.concatenate(generated)
            labels, instances = sequences[0].labels[:FRAMES], sequences[0].instances
            timing = median_seconds_interleaved(
                {"f32": lambda: model.generate(labels, None if instances is None else instances[:FRAMES], seed=0)},
                repeats=3)["f32"]
            results["models"][path] = {
                "steps": model.card.get("train", {}).get("steps"), **scores,
                "frechet_efficientnet_lite0": round(efficientnet_frechet(fake, real), 2),
                "s_per_frame": round(timing["median_s"] / len(labels), 4),
                **mechanism_scores(model, sequences[0], motion)}
            sheets.append((Path(path).stem, fake))
            print(path, results["models"][path], flush=True)
            torch.cuda.empty_cache() if torch.cuda.is_available() else None
    rows = [f"Held-out {where} at {size[0]}x{size[1]}, seed 0:", "",
            "| model | steps | PSNR (dB) | SSIM | sharpness (x real) | warp error (real video: "
            f"{results['models'][paths[0]]['warp_error_real']:.4f}) | mIoU (real frames: "
            f"{results['models'][paths[0]].get('miou_real_frames', float('nan')):.3f}) | Frechet, EfficientNet-Lite0 "
            "| s / frame |", "|---|---|---|---|---|---|---|---|---|"]
    for path, m in results["models"].items():
        rows.append(f"| {path} | {m['steps']} | {m['psnr_db']:.2f} | {m['ssim']:.3f} | {m['sharpness_ratio']:.2f} | "
                    f"{m['warp_error']:.4f} ({m['warp_error'] / m['warp_error_real']:.2f}x) | {m.get('miou', 0):.3f} "
                    f"| {m['frechet_efficientnet_lite0']:.1f} | {m['s_per_frame']:.3f} |")
    rows += ["", "What the mechanisms do (first sequence): the occlusion mask m (0 = warp, 1 = hallucinate) on the "
             "static background, the foreground and newly visible pixels; mean difference between 4 style seeds "
             "(grey levels):",
             "", "| model | mask, background | mask, foreground | mask, newly visible | styles differ on cars | "
             "on buildings |", "|---|---|---|---|---|---|"]
    for path, m in results["models"].items():
        cells = [f"{m[k]:.3f}" if k in m else "n/a" for k in ("mask_background", "mask_foreground",
                                                            "mask_newly_visible")]
        cells += [f"{m[k]:.1f}" if k in m else "n/a" for k in ("style_difference_car", "style_difference_building")]
        rows.append(f"| {path} | " + " | ".join(cells) + " |")
    write_results(f"vid2vid_compare_{tag}", results, rows)
    contact_sheet(sequences[0], [(name, frames[:len(sequences[0].frames)]) for name, frames in sheets],
                  RESULTS / f"vid2vid_compare_{tag}.jpg")
    return results


def contact_sheet(sequence, models: list[tuple[str, np.ndarray]], out: Path, picks: int = 3) -> None:
    """Rows: label colours, the real frames, each model's; `picks` frames spread over the sequence; captioned."""
    from PIL import Image, ImageDraw

    from demo_lib.data.cityscapes import colorize

    t = np.linspace(0, len(sequence.frames) - 1, picks).round().astype(int)
    rows = [("labels", colorize(sequence.labels[t])), ("real", sequence.frames[t])] + \
           [(name, frames[t]) for name, frames in models]
    h, w = sequence.frames.shape[1:3]
    sheet = Image.new("RGB", (picks * w, len(rows) * (h + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (name, frames) in enumerate(rows):
        draw.text((2, r * (h + 14)), name, fill="black")
        for c, frame in enumerate(frames):
            sheet.paste(Image.fromarray(frame), (c * w, r * (h + 14) + 14))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=85)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every one available)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--items", type=int, default=1, help="held-out sequences (procedural ones without real data)")
    parser.add_argument("--compare", nargs="+", default=None, help="run folders or weights files, side by side")
    parser.add_argument("--size", default="256x512", help="--compare: HxW of the held-out frames")
    parser.add_argument("--tag", default="", help="--compare: results file suffix (default: the size)")
    args = parser.parse_args(argv)
    if args.compare:
        size = tuple(int(v) for v in args.size.split("x"))
        return compare(args.compare, size, args.tag or args.size)
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

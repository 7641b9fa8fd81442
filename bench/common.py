"""Shared benchmark helpers: medians of repeated timings, environment description, JSON + markdown output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def load_shipped(model: str, expected: dict[str, dict[str, Any]], device: str) -> tuple[dict[str, Any], list[str]]:
    """The shipped weights of `model` named in `expected` (variant -> config values its card must hold), as
    {variant: pipeline}, and the file names of those not shipped. A file whose config disagrees stops the run:
    a benchmark row must never be labelled with a setting its weights were not trained with."""
    from demo_lib import registry

    pipelines, missing = {}, []
    for variant, settings in expected.items():
        path = registry.weights_path(model, variant)
        if not path.is_file():
            missing.append(path.name)
            continue
        pipeline = registry.pipeline_from_file(model, path, device)
        found = {key: getattr(pipeline.cfg, key) for key in settings}
        if found != settings:
            raise SystemExit(f"{path.name} was trained with {found}; expected {settings}")
        pipelines[variant] = pipeline
    return pipelines, missing


def median_seconds_interleaved(fns: dict[str, Callable[[], Any]], repeats: int = 5,
                               warmup: int = 1) -> dict[str, dict[str, float]]:
    """Median (and min/max) wall time of each of `fns` over `repeats` rounds after `warmup` rounds; every round runs
    each function once, in turn, so that variants compared side by side see the same machine load. CUDA is
    synchronised."""
    def timed(fn: Callable[[], Any]) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t), "repeats": repeats}
            for name, t in times.items()}


def median_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median (and min/max) wall time of `fn` over `repeats` runs after `warmup` runs; CUDA is synchronised."""
    return median_seconds_interleaved({"fn": fn}, repeats, warmup)["fn"]


def peak_memory_mb(fn: Callable[[], Any], device: str = "cpu") -> float:
    """Peak memory while `fn` runs, in MiB: CUDA's allocator peak on a GPU; on the CPU the process's resident set
    above what it held before, sampled every 2 ms (so short spikes may be missed; a lower bound)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    import threading

    import psutil

    proc = psutil.Process()
    before = peak = proc.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            done.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return (max(peak, proc.memory_info().rss) - before) / 2**20


def command_line(module: str, argv: list[str] | None) -> str:
    """How a benchmark was run, for the cards it records into: "python -m bench.<module> <arguments>"."""
    return " ".join([f"python -m bench.{module}", *(sys.argv[1:] if argv is None else argv)])


def environment() -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_results(name: str, data: dict[str, Any], rows: list[str]) -> Path:
    """bench/results/<name>.json and <name>.md (the table rows plus a line on the machine); prints the table."""
    env = data["environment"]
    rows = rows + ["", f"Machine: {env['cpu_count']} CPU cores, torch {env['torch']} ({env['torch_threads']} "
                       f"threads), GPU: {env['gpu'] or 'none'}; {env['date']}."]
    table = "\n".join(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)
    return RESULTS / f"{name}.json"

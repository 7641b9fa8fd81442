"""Device choice and mixed precision: CUDA > MPS > CPU; autocast on GPU, plain fp32 on CPU."""

from __future__ import annotations

import contextlib

import torch


def best_device(prefer: str | None = None) -> torch.device:
    """The device to run on: `prefer` if given ('cpu', 'cuda', 'cuda:1', 'mps'), else CUDA, then MPS, then CPU."""
    if prefer:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} was asked for, but CUDA is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, else fp16 on CUDA; None (fp32) on CPU and MPS."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA; a no-op elsewhere (fp32 on CPU is both faster to reason about and exact)."""
    dtype = amp_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)

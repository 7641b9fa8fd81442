# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · vid2vid: from label maps to street video
#
# **Paper:** Wang, Liu, Zhu, Liu, Tao, Kautz, Catanzaro, *Video-to-Video Synthesis*, NeurIPS 2018
# ([arXiv 1808.06601](https://arxiv.org/abs/1808.06601)).
#
# A semantic label video (every pixel says *road*, *car*, *building*, ...) goes in; a photo-like video comes out.
# Making each frame independently (pix2pixHD) flickers: every frame invents its own textures. vid2vid makes frame $t$
# from the labels of frames $t-2..t$ **and the two frames it made before**, and it predicts a **flow** $w_t$ back into
# the previous output, an **occlusion mask** $m_t$ and a **hallucinated** image $h_t$:
#
# $$x_t = (1 - m_t)\,\mathrm{warp}(x_{t-1}, w_t) + m_t\, h_t \qquad \text{(eq. 4)}$$
#
# What can be moved from the last frame is moved; only what is newly visible is painted. Foreground objects (cars,
# people) get their own single-frame branch. Two discriminators judge the result: an image D on (labels, frame) and a
# video D on 3 consecutive frames plus their flows, at several frame rates.
#
# **This notebook:** the data (label ids, one-hot maps, instance edges), flow warping and the mask, every loss term on
# one batch (computed by the library's own objective), a short training run with a loss curve, a scrubber over a
# generated clip, semantic manipulation and style resampling, and the evaluation. All model code is in
# `demo_lib/models/vid2vid.py`; this notebook only orchestrates it.
#
# Set `VSL_NOTEBOOK_TINY=1` for a smoke-test run (tiny preset, a few steps); otherwise it uses the `demo` preset
# (`VSL_NOTEBOOK_STEPS` changes the step count).

# %%
import os
import sys
import tempfile
import time
from pathlib import Path

# The notebook runs from notebooks/; the repository root (the folder holding demo_lib/) goes on sys.path.
ROOT = next(p for p in [Path.cwd().resolve(), *Path.cwd().resolve().parents] if (p / "demo_lib").is_dir())
sys.path.insert(0, str(ROOT))

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import Markdown, display
from torch.utils.data import default_collate

from demo_lib import registry
from demo_lib.config import to_dict
from demo_lib.data import cityscapes, street
from demo_lib.device import best_device
from demo_lib.flow import flow_to_rgb, warp
from demo_lib.models import vid2vid as v2v
from demo_lib.trainer import GANTrainer, StepState
from demo_lib.video import tensor_to_frames

from _display import plot_losses, png, show_row  # notebooks/_display.py: figure helpers shared by the notebooks

TINY = os.environ.get("VSL_NOTEBOOK_TINY") == "1"
DEVICE = best_device()                      # CUDA > MPS > CPU
torch.set_num_threads(min(4, os.cpu_count() or 1))
torch.manual_seed(0)

PRESET = "tiny" if TINY else "demo"
TRAIN_STEPS = int(os.environ.get("VSL_NOTEBOOK_STEPS", 4 if TINY else 40))
spec = registry.get("vid2vid")
cfg, train_cfg = spec.preset(PRESET)
print(f"device={DEVICE}  TINY={TINY}  preset={PRESET}  size={cfg.height}x{cfg.width}  frames={cfg.frames}  "
      f"training steps={TRAIN_STEPS}")


# %% [markdown]
# ## 1 · Label maps, one-hot inputs and instance edges
#
# The data uses the **35 Cityscapes label ids** (0..33 plus 34 for the licence plate) in the layout of the official
# code: `train_A/<seq>/*.png` label ids, `train_B/<seq>/*.jpg` frames, `train_inst/<seq>/*.png` instance maps. When the
# real sequences are beside the repository (`../shared/data/cityscapes_vid2vid`), we use them, holding out `seq0004`
# for evaluation; otherwise procedural streets with the same ids (`demo_lib/data/street.py`).

# %%
root = cityscapes.default_cityscapes_root()
if root is not None:
    sequences = cityscapes.load_sequences(root, (cfg.height, cfg.width), exclude=cityscapes.HELDOUT_SEQUENCES)
    data = cityscapes.StreetClipDataset(sequences, cfg.frames, seed=train_cfg.seed)
    SOURCE = f"real Cityscapes sequences {[s.name for s in sequences]}"
else:
    data = street.ProceduralStreetDataset((cfg.height, cfg.width), cfg.frames, seed=train_cfg.seed)
    SOURCE = "procedural streets (no real data found)"
print("training data:", SOURCE)
item = data[0]
print({k: (tuple(v.shape), str(v.dtype)) for k, v in item.items()})
labels0, instances0 = item["labels"].numpy(), item["instances"].numpy()
frames0 = tensor_to_frames(item["frames"])
regions0 = v2v.region_ids(item["labels"], item["instances"], cfg.num_labels)   # class id, or 35 + instance id
edges0 = v2v.region_edges(regions0).bool().numpy()
show_row([frames0[0], cityscapes.colorize(labels0[0]), edges0[0].astype(np.uint8) * 255],
         ["frame 0", "labels (Cityscapes palette)", "region edges"])
present = np.unique(labels0)
display(Markdown("Classes in this clip: " + ", ".join(f"{cityscapes.CLASS_NAMES[c]} ({c})" for c in present)))

# %% [markdown]
# The generator does not see ids but a stack of maps per frame: a **one-hot** map per class, an **edge** map (where a
# pixel's neighbour belongs to another region: another class or another instance, so two touching cars stay two
# cars), and the **style features** of the instance encoder (section 5). Frames $t-2..t$ are stacked as channels.

# %%
batch = {k: v.to(DEVICE) for k, v in default_collate([data[i] for i in range(max(1, train_cfg.batch_size))]).items()}
semantic = v2v.semantic_maps(cfg, batch["labels"], batch["instances"])
print("semantic maps (B, T, S, H, W):", tuple(semantic.shape),
      f"= {cfg.num_labels} one-hot + {int(cfg.instance_edges)} edge + {cfg.style_channels} style channels")
print("generator label input per step:", semantic.shape[2] * (cfg.past_frames + 1), "channels (frames t-2..t)")

# %% [markdown]
# ## 2 · Flow warping and the occlusion mask
#
# The reference flow of the real video comes from OpenCV's DIS optical flow (the paper used FlowNet2, which needs custom
# CUDA kernels and downloaded weights). Convention everywhere: `warp(x, w)(p) = x(p + w(p))`, so $w_t$ lives on frame
# $t$ and points into frame $t-1$. Where the flow explains the motion, the warped previous frame matches the next
# one; where it cannot (newly visible things, the frame border), it does not — that is what the mask is for.

# %%
real = batch["frames"][:1]                                            # (1, 3, T, H, W)
flow = batch["flows"][:1, :, 0]                                       # frame 0 -> frame 1, (1, 2, H, W)
warped = warp(real[:, :, 0], flow)
err_zero = (real[:, :, 0] - real[:, :, 1]).abs().mean(1)[0]
err_flow = (warped - real[:, :, 1]).abs().mean(1)[0]
to_u8 = lambda e: (e.clamp(0, 0.5) / 0.5 * 255).byte().cpu().numpy()    # noqa: E731
show_row([tensor_to_frames(real)[0], tensor_to_frames(real)[1], flow_to_rgb(flow[0].permute(1, 2, 0).cpu().numpy()),
          to_u8(err_zero), to_u8(err_flow)],
         ["frame 0", "frame 1", "DIS flow 1 -> 0", f"|f0 - f1| = {err_zero.mean():.3f}",
          f"|warp(f0) - f1| = {err_flow.mean():.3f}"])

# %% [markdown]
# One generator step shows the three parts of eq. 4. Untrained, the mask is about 0.5 everywhere and the parts are
# noise-like; after training, the mask is dark (warp) on static background and bright (hallucinate) where new content
# appears and on the first frame, which has no past.

# %%
torch.manual_seed(0)
nets = spec.build_nets(cfg).to(DEVICE)
G = nets["G"]
L = cfg.past_frames
with torch.no_grad():
    window = semantic[:1, : L + 1]                                    # labels of frames 0..L
    past = real[:, :, :L].transpose(1, 2)                             # pretend the past outputs were the real frames
    fg = v2v.foreground_mask(batch["labels"][:1, L]).unsqueeze(1).float()
    step = G(window, past, fg)
print({k: tuple(v.shape) for k, v in vars(step).items() if v is not None})
show_row([tensor_to_frames(step.hallucinated[:, :, None])[0], (step.mask[0, 0] * 255).byte().cpu().numpy(),
          flow_to_rgb(step.flow[0].permute(1, 2, 0).cpu().numpy()), tensor_to_frames(step.image[:, :, None])[0]],
         ["hallucinated h", "mask m (white = h)", "predicted flow w", "x = (1-m) warp + m h"])

# %% [markdown]
# ## 3 · Every loss term, on one batch
#
# `Vid2VidObjective.phases()` lists the phases in the official order: **G** (the generator and the style encoder; it
# generates the whole clip frame by frame, past frames detached), then **D** (the image D and one video D per frame
# rate), which reuses the clip through the step's shared `state` (a `StepState`; a D phase running alone, as in
# `d_warmup_steps`, would make the clip itself with `objective.sample`). Below we call both functions on the batch, exactly as the
# trainer does, with the untrained networks.

# %%
objective = v2v.Vid2VidObjective(cfg)
phases = objective.phases()
for p in phases:
    print(f"phase {p.name}: updates {p.nets}{'  (lr_d)' if p.discriminator else ''}")
print("video D frame steps:", cfg.temporal_steps, f"(K = {cfg.video_d_frames} frames each)")
torch.manual_seed(0)
state = StepState(step=0)
results = {p.name: p.loss(nets, batch, state) for p in phases}
logs = {f"{name}/{k}": float(v) for name, (total, terms) in results.items() for k, v in terms.items()}

# %%
explain = {
    "G/adv_image": ("1", "image D on (labels, frame): generated frames should pass as real (LSGAN)"),
    "G/feat_image": ("λ_feat", "feature matching: L1 between the image D's features on real and generated frames"),
    "G/adv_video0": ("1", "video D at frame step 1: 3 consecutive frames + the real video's 2 flows"),
    "G/feat_video0": ("λ_feat", "feature matching in that video D"),
    "G/adv_video1": ("1", f"video D at frame step {cfg.video_step_base}: frames further apart (slower motion cues)"),
    "G/feat_video1": ("λ_feat", "feature matching in that video D"),
    "G/perceptual": ("λ_perc", "L1 between EfficientNet-Lite0 ImageNet features of generated and real frames"),
    "G/flow": ("λ_flow", "L1 between predicted flow w_t and the DIS reference flow, where the reference is reliable"),
    "G/warp_real": ("λ_warp", "|warp(real_{t-1}, w_t) - real_t|: the predicted flow must move real frames correctly"),
    "G/warp_fake": ("λ_temporal", "|x_t - warp(x_{t-1}, w_ref)|: generated frames follow the real motion"),
    "G/mask": ("λ_mask", "mean mask after frame 0: warp wherever warping works"),
    "D/image": ("1/2", "image D: real (labels, frame) -> 1, generated -> 0"),
    "D/video0": ("1/2", "video D, frame step 1: real clips -> 1, generated -> 0"),
    "D/video1": ("1/2", f"video D, frame step {cfg.video_step_base}"),
}
weights = {"λ_feat": cfg.lambda_feat, "λ_perc": cfg.lambda_perceptual, "λ_flow": cfg.lambda_flow,
           "λ_warp": cfg.lambda_warp, "λ_temporal": cfg.lambda_temporal, "λ_mask": cfg.lambda_mask,
           "1": 1.0, "1/2": 0.5}
rows = [f"| `{k}` | {logs[k]:.4f} | {w} = {weights[w]:g} | {text} |" for k, (w, text) in explain.items() if k in logs]
display(Markdown("| term | value | weight | what it asks |\n|---|---:|---|---|\n" + "\n".join(rows)))
print({name: round(float(total), 4) for name, (total, _) in results.items()})

# %%
# The video D's input at frame step s: K frames `s` apart and the K-1 flows between them (chained from consecutive
# ones with flow.compose_flows). Each window is one sample for the D.
for s in cfg.temporal_steps:
    windows = v2v.video_windows(batch["frames"], batch["flows"], s, cfg.video_d_frames)
    print(f"frame step {s}: {tuple(windows.shape)}  (windows, 3K + 2(K-1) channels, H, W)")

# %% [markdown]
# ## 4 · A short training run
#
# `GANTrainer` runs the G phase then the D phase per step, each with its own Adam optimizer, and keeps an EMA copy of
# G. The shipped weights come from the same code: `python -m train.train vid2vid --preset demo`. This run is far
# shorter; the flow and warp terms fall first (the flow head learns to follow the camera), the images stay blurry.

# %%
run_dir = Path(tempfile.mkdtemp(prefix="vsl_nb02_"))
train_phases, ema_nets = spec.build_objective(cfg)
torch.manual_seed(train_cfg.seed)
train_nets = spec.build_nets(cfg)
trainer = GANTrainer(train_nets, train_phases, ema_nets, data, train_cfg, run_dir, to_dict(cfg), "vid2vid",
                     device=DEVICE)
t0 = time.perf_counter()
log_rows = trainer.fit(TRAIN_STEPS, progress=False)
print(f"{TRAIN_STEPS} steps in {time.perf_counter() - t0:.1f} s; logs in {run_dir}")
plot_losses(log_rows, ("G/total", "D/total", "G/flow", "G/warp_real", "G/mask")).show()

# %% [markdown]
# ## 5 · A generated clip, frame by frame
#
# From here on: the shipped weights (`weights/vid2vid/demo.safetensors`) when they exist, else the G (EMA) just
# trained. The input is a held-out label sequence: the real `seq0004` when present, else a procedural street. Drag the
# slider: labels, output, and the occlusion mask (white = hallucinated, black = warped from the previous frame).

# %%
if registry.weights_path("vid2vid").is_file() and not TINY:
    pipe = registry.load("vid2vid", device=str(DEVICE))
    MODEL_NOTE = f"shipped weights ({pipe.card.get('train', {}).get('steps', '?')} training steps)"
else:
    pipe = spec.build_pipeline(cfg, trainer.ema["G"].state_dict(), DEVICE, {"model": "vid2vid"})
    MODEL_NOTE = f"the G trained in this notebook ({TRAIN_STEPS} steps, preset {PRESET!r})"
print("Model:", MODEL_NOTE)
size = (pipe.cfg.height, pipe.cfg.width)
if root is not None:
    held = cityscapes.load_sequences(root, size, include=cityscapes.HELDOUT_SEQUENCES)[0]
else:
    held = street.procedural_sequences([street.HELDOUT_SEED], size, frames=12)[0]
n = 6 if TINY else len(held.labels)
t0 = time.perf_counter()
result = pipe.synthesize(held.labels[:n], held.instances[:n], seed=0)
print(f"{n} frames of {size[1]}x{size[0]} in {time.perf_counter() - t0:.1f} s")

# %%
triples = [np.concatenate([cityscapes.colorize(held.labels[t]), result.frames[t],
                           np.repeat(result.mask[t][..., None], 3, axis=2)], axis=1) for t in range(n)]
pngs = [png(t) for t in triples]
scrub = widgets.IntSlider(value=0, min=0, max=n - 1, description="frame")
view = widgets.Image(value=pngs[0], format="png", width=min(3 * size[1], 900))
scrub.observe(lambda change: setattr(view, "value", pngs[change["new"]]), names="value")
display(widgets.VBox([scrub, view]))
show_row([triples[0], triples[n // 2], triples[-1]], [f"frame {t}: labels | output | mask" for t in (0, n // 2, n - 1)],
         size=4.5)
# The paper's idea in one number per region: warp the static background (mask near 0), hallucinate the foreground
# and what comes into view (near 1). A model that has not learned to warp shows the same value everywhere.
print("mean mask after frame 0:", {k: round(v, 2) for k, v in v2v.mask_by_region(result.mask, held.labels[:n]).items()})

# %% [markdown]
# ## 6 · Semantic manipulation and styles
#
# Edit the labels, re-synthesize the whole sequence: here every *building* becomes *vegetation*. The per-class
# **styles** are K-means centres of the instance encoder's features over the training set (stored in the weights at
# export); a seed picks one per class, and the app lets you resample one class at a time.

# %%
BUILDING, VEGETATION = 11, 21
edited = np.where(held.labels[:n] == BUILDING, VEGETATION, held.labels[:n]).astype(np.uint8)
after = pipe.generate(edited, held.instances[:n], seed=0)
print(f"building pixels replaced: {(held.labels[:n] == BUILDING).mean():.1%}")
show_row([result.frames[n // 2], cityscapes.colorize(edited[n // 2]), after[n // 2]],
         ["original labels", "building -> vegetation", "re-synthesized"], size=3.5)
classes = pipe.style_classes()
if classes:
    outs = [pipe.generate(held.labels[:1], held.instances[:1], seed=s)[0] for s in range(3)]
    show_row(outs, [f"styles from seed {s}" for s in range(3)], size=3.5)
else:
    print("This model has no style clusters (they are computed at export: python -m train.export ...).")

# %% [markdown]
# ## 7 · Evaluation: quality and flicker
#
# `spec.evaluate` is the code that writes the weights card: on the held-out sequence it measures PSNR and SSIM
# against the real frames (weak for GANs, but asked for), the **warp error** (flicker: how much each generated frame
# differs from the previous one moved by the *real* video's flow, over non-occluded pixels; the real video's own value
# is the floor) and, with the shipped street segmenter, the **mIoU** of the generated frames' segmentation against the
# input labels. `bench/vid2vid.py` puts the model next to the per-frame baseline (no flow, no video D), the paper's
# central comparison.

# %%
t0 = time.perf_counter()
metrics = spec.evaluate(pipe, 1 if TINY else 2)
print(f"evaluated in {time.perf_counter() - t0:.1f} s; model: {MODEL_NOTE}")
display(Markdown("| metric | value |\n|---|---:|\n" + "\n".join(
    f"| {k} | {v} |" for k, v in metrics.items() if k != "protocol")))
print(metrics["protocol"])

# %% [markdown]
# ## Where next
#
# * Train: `python -m train.train vid2vid --preset demo`, and the baseline with `--preset demo_per_frame`; export with
#   `python -m train.export runs/vid2vid-demo` (the card records the metrics above).
# * Try it: `python app.py`, tab *vid2vid*: paint labels on a key frame, replace classes, resample styles.
# * Read `demo_lib/models/vid2vid.py` top to bottom.

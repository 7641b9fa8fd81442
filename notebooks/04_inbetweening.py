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
# # 04 · Video inbetweening: the frames between two keyframes, all at once
#
# **Paper:** Li, Roblek & Tagliasacchi, *From Here to There: Video Inbetweening Using Direct 3D Convolutions*, 2019
# ([arXiv 1905.10240](https://arxiv.org/abs/1905.10240)).
#
# A start frame $x_s$ and an end frame $x_e$ go in; a clip of $T = 16$ frames whose first and last frames are those
# keyframes comes out, and it is **stochastic**: one noise vector $u \sim \mathcal N(0, I_D)$ picks one of the many
# motions that could join the two frames. There is no recurrence and no optical flow. A 2D encoder $E$ maps each
# keyframe to a small latent map; a **latent representation generator** grows a latent *video* $z$ from the two maps
# and $u$, doubling its time resolution twice ($T/4 \to T/2 \to T$); a 3D-convolutional decoder turns $z$ into frames.
# The keyframes re-enter the latent video in every block through two learned **gates**, one per keyframe:
#
# $$z_{\text{in}} = g_s \odot E(x_s) + g_e \odot E(x_e) + \max(0,\, 1 - g_s - g_e) \odot z_{l-1} + n(u_l)
# \qquad \text{(eq. 4)}$$
#
# The paper trains purely adversarially: a 3D-convolutional **video** discriminator judges whole clips, a 2D
# **image** discriminator judges single in-between frames. There is no reconstruction loss, so nothing forces a
# sample to be *the* true clip; the paper scores the best of several samples against it. (This project's CPU
# presets add a small L1 term to the true frames, `lambda_reconstruction`: without it, a run short enough for a
# 2-core CPU never learned to keep the keyframes' background. Section 4 shows it beside the adversarial terms.)
#
# **This notebook:** the procedural data, the model and its parameter counts, the gates $g_s$, $g_e$ and the fused
# latent across time, each loss term on one batch (computed by the library's own objective and again by hand), a
# short training run, and samples next to the two classical baselines (linear blending and optical-flow
# interpolation), with SSIM to the true clip. All the model code is in `demo_lib/models/inbetween.py`; this notebook
# only orchestrates it.
#
# Set `VSL_NOTEBOOK_TINY=1` for a smoke-test run (tiny preset: 32 px, 8 frames, 4 steps); otherwise it uses the
# `demo` preset at batch 2 for 200 steps (about 5 minutes on a free 2-core CPU, longer on a busy one;
# `VSL_NOTEBOOK_STEPS` changes the count).

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
import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display
from plotly.subplots import make_subplots
from torch.utils.data import default_collate

from demo_lib import registry
from demo_lib.config import to_dict
from demo_lib.data import inbetween_data
from demo_lib.device import best_device
from demo_lib.metrics import ssim
from demo_lib.models import inbetween as M
from demo_lib.trainer import GANTrainer, StepState
from demo_lib.video import frames_to_tensor, image_to_tensor, tensor_to_frames

from _display import loss_table, show_row  # notebooks/_display.py: figure helpers shared by the notebooks

TINY = os.environ.get("VSL_NOTEBOOK_TINY") == "1"
DEVICE = best_device()                      # CUDA > MPS > CPU
if "OMP_NUM_THREADS" not in os.environ:     # a thread limit set from outside wins
    torch.set_num_threads(min(4, os.cpu_count() or 1))
torch.manual_seed(0)

PRESET = "tiny" if TINY else "demo"
TRAIN_STEPS = int(os.environ.get("VSL_NOTEBOOK_STEPS", 4 if TINY else 200))
spec = registry.get("inbetween")
# Batch 2 (the demo preset trains at 4): one G + D step of the demo preset takes ~1.3 s on one CPU thread.
cfg, train_cfg = spec.preset(PRESET, [f"steps={TRAIN_STEPS}", "batch_size=2", "ckpt_every=0",
                                      f"log_every={1 if TINY else 5}"])
SEED = train_cfg.seed
SHIPPED = registry.weights_path("inbetween").is_file() and not TINY
print(f"device={DEVICE}  TINY={TINY}  preset={PRESET}  {cfg.frames} frames of {cfg.image_size}x{cfg.image_size}  "
      f"dataset={cfg.dataset}  seed={SEED}  training steps={TRAIN_STEPS}  shipped weights used={SHIPPED}")


# %%
def strip(frames, gap=2):
    # uint8 frames (T, H, W, 3) -> one image (H, T * (W + gap) - gap, 3): the frames side by side, white gaps.
    t, h, w, _ = frames.shape
    out = np.full((h, t * (w + gap) - gap, 3), 255, np.uint8)
    for i, frame in enumerate(frames):
        out[:, i * (w + gap):i * (w + gap) + w] = frame
    return out


def show_strips(rows, labels, title=None, width=13.0):
    # One frame strip per row (uint8 (T, H, W, 3) each, same T and size), labelled on the left, frame numbers on top.
    images = [strip(r) for r in rows]
    t, w = rows[0].shape[0], rows[0].shape[2]
    height = width * sum(im.shape[0] for im in images) / images[0].shape[1] + 0.5
    fig, axes = plt.subplots(len(images), 1, figsize=(width, height), squeeze=False)
    for k, (ax, im, label) in enumerate(zip(axes[:, 0], images, labels)):
        ax.imshow(im)
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_xticks([i * (w + 2) + w / 2 for i in range(t)] if k == 0 else [])
        if k == 0:
            ax.xaxis.tick_top()
            ax.set_xticklabels([str(i) for i in range(t)], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    plt.tight_layout()
    plt.show()


def pipeline_or_shipped(generator, note):
    # (pipeline, what it is): the shipped weights when they exist (never in tiny mode), else this notebook's G.
    if SHIPPED:
        shipped = registry.load("inbetween", device=str(DEVICE))
        return shipped, f"shipped weights ({shipped.card.get('train', {}).get('steps', '?')} training steps)"
    return spec.build_pipeline(cfg, generator.state_dict(), DEVICE, {"model": "inbetween", "variant": "notebook"}), note


# %% [markdown]
# ## 1 · The data: procedural clips with ground truth
#
# The paper trains on BAIR robot pushing, KTH actions and UCF101 at 64×64, $T = 16$, with the first and last frame
# of a real clip as keyframes. None of them ships offline, so `demo_lib/data/inbetween_data.py` renders clips of the
# same kind from a seed: **kth**, a greyscale figure walking, jogging, running, boxing, waving or clapping; **bair**,
# a robot gripper pushing coloured objects over a textured table; **digits**, two handwritten digits bouncing (Moving
# MNIST). Every clip is a pure function of (kind, seed, size, frames) and keeps its ground truth (joints, gripper and
# object centres, digit positions), so the true in-between frames are always known. Seeds from
# `HELDOUT_SEED` on are never drawn for training. Two clips of each kind, at this preset's size:

# %%
examples = [inbetween_data.render_clip(kind, seed, cfg.image_size, cfg.frames)
            for kind in inbetween_data.KINDS for seed in range(2)]
show_strips([c.frames for c in examples], [f"{c.kind} #{c.seed}\n{c.label}" for c in examples],
            title="Frame 0 and frame T-1 are the keyframes; the frames between them are what G makes")
print("digit images:", inbetween_data.digit_source())
for c in examples[::2]:
    print(f"ground truth of a {c.kind} clip:", {k: np.shape(v) for k, v in c.truth.items()})

# %% [markdown]
# Training uses one kind (the config's `dataset`, here KTH-like) through `spec.build_dataset`, exactly as
# `python -m train.train inbetween` does. An item is a clip as a tensor in $[-1, 1]$; its first and last frames
# serve as the keyframes, the rest as the real in-between frames the discriminators see.

# %%
data = spec.build_dataset(cfg, train_cfg)
print(data.describe())
print({k: (tuple(v.shape), str(v.dtype)) for k, v in data[0].items()}, "= (3, T, S, S)")

# %% [markdown]
# ## 2 · The model and its size
#
# Three parts make $G$, and two discriminators judge it:
#
# | part | what it does | shape |
# |---|---|---|
# | $E$ (`InbetweenEncoder`) | 2D convs, one stride-2 stage per width | keyframe $(3, S, S) \to (C, S/8, S/8)$ |
# | latent generator | $z_0$ = both codes as 2 time steps; blocks (eqs. 2-5) at $T/4, T/2, T$ | $\to (C, T, S/8, S/8)$ |
# | decoder (`InbetweenDecoder`) | 3D convs, (3, 4, 4) transposed convs of stride (1, 2, 2), tanh | $\to (3, T, S, S)$ |
# | video D | 3D convs (kernel 4, no time padding), layer norm, one logit per clip | $(3, T, S, S) \to 1$ |
# | image D | a ResNet of strided 2D convs, one logit per frame | $(3, S, S) \to 1$ |
#
# The paper compares three variants (config `variant`, presets `demo`, `demo_without_fusion`, `demo_naive`):
# **full** is the model above; **without fusion** drops the gates, so the keyframes enter the latent video only
# through $z_0$ and each block sees $z_{l-1} + n(u_l)$; **naive** drops the latent generator altogether and decodes
# $z_0$ stretched to $T$ frames plus one noise map. The counts below come from building each preset's networks on
# PyTorch's `meta` device (shapes only, no memory); the paper column reproduces the appendix sizes (E 1.58 M,
# video D 11.06 M parameters).

# %%
torch.manual_seed(SEED)
nets = spec.build_nets(cfg).to(DEVICE)               # G, D_video, D_image: used untrained in sections 3 and 4
counts = {PRESET: M.parameter_counts(nets)}
with torch.device("meta"):
    for name in ("demo", "demo_without_fusion", "demo_naive", "paper"):
        counts.setdefault(name, M.parameter_counts(spec.build_nets(spec.preset(name)[0])))
parts = ["G.encoder", "G.latent", "G.decoder", "G", "D_video", "D_image"]
table = ["| network | " + " | ".join(counts) + " |", "|---|" + "---:|" * len(counts)]
table += [f"| {p} | " + " | ".join(f"{c[p] / 1e6:.2f} M" for c in counts.values()) + " |" for p in parts]
display(Markdown("\n".join(table)))

S, C, h = cfg.image_size, cfg.latent_channels, cfg.latent_size
print(f"shapes at preset {PRESET!r}: keyframe (B, 3, {S}, {S}) -> E -> (B, {C}, {h}, {h}) -> z_0 (B, {C}, 2, {h}, {h})")
print(f"  -> {cfg.blocks_per_stage} block(s) at each T_l in {cfg.stage_frames} -> z (B, {C}, {cfg.frames}, {h}, {h}) "
      f"-> decoder -> (B, 3, {cfg.frames}, {S}, {S})")

# %% [markdown]
# ## 3 · The gated fusion
#
# In block $l$ of the latent generator, at $T_l$ time steps, the noise $u$ is mapped linearly to a sequence
# $u_l = A_l u + b_l$ of shape $(C, T_l)$ (eq. 2). Two 1D convolutions over time turn it into the gates
# $g_s = \sigma(\mathrm{conv}_s(u_l))$ and $g_e = \sigma(\mathrm{conv}_e(u_l))$ (eq. 3), one number in $(0, 1)$ per
# channel and time step, the same at every position of the $h \times w$ map; a third gives the noise
# $n(u_l)$. Eq. 4 mixes the two keyframe codes and what the block before made, and a 3D residual unit follows (eq. 5):
#
# $$z_{\text{in}} = g_s E(x_s) + g_e E(x_e) + \max(0, 1 - g_s - g_e)\, z_{l-1} + n(u_l), \qquad
# z_l = \mathrm{lrelu}\big(z_{l-1} + \mathrm{conv}(\mathrm{lrelu}(\mathrm{conv}(z_{\text{in}})))\big).$$
#
# So, per time step, the gates say how much of each keyframe is written back into the latent video, and whatever
# weight they leave ($1 - g_s - g_e$, when positive) keeps the previous block's content. Since $u$ sets the gates,
# different samples can bring the end frame in early or late: the timing of the motion is part of what $u$ chooses.
#
# First, eqs. 2-5 by hand for the first block, on a held-out KTH-like clip's first and last frames, checked against
# the library's `InbetweenLatentBlock`. The G used here is the **untrained** one of section 2 (in eval mode) unless
# shipped weights exist; untrained, the gates are whatever the random projections make of $u$.

# %%
clip = inbetween_data.heldout_clips(cfg.dataset, 1, cfg.image_size, cfg.frames)[0]   # never a training clip
start, end = clip.frames[0], clip.frames[-1]                                          # uint8 (S, S, 3)
pipe, PIPE_NOTE = pipeline_or_shipped(nets["G"], f"the untrained G of section 2 (preset {PRESET!r})")
print("Model:", PIPE_NOTE)
G, gcfg = pipe.generator, pipe.cfg
x_s, x_e = (image_to_tensor(f).to(DEVICE) for f in (start, end))                   # (1, 3, S, S) in [-1, 1]
u = pipe.noise(1, SEED)                                                               # (1, D)

with torch.no_grad():
    z_s, z_e = G.encoder(torch.cat([x_s, x_e])).chunk(2)                            # E(x_s), E(x_e): (1, C, h, w)
    t1, (h, w) = gcfg.stage_frames[0], z_s.shape[-2:]
    z_prev = F.interpolate(torch.stack([z_s, z_e], 2), size=(t1, h, w), mode="nearest")   # z_0 at T/4
    block = G.latent.stages[0][0]
    u_l = block.inputs.project(u).view(1, gcfg.latent_channels, t1)                   # eq. 2: (1, C, T/4)
    g_s = torch.sigmoid(block.inputs.gate_start(u_l))                                 # eq. 3: (1, C, T/4)
    g_e = torch.sigmoid(block.inputs.gate_end(u_l))
    noise = block.inputs.noise(u_l)
    over_hw = lambda v: v[..., None, None]                                            # noqa: E731  (1, C, T/4, 1, 1)
    z_in = (over_hw(g_s) * z_s[:, :, None] + over_hw(g_e) * z_e[:, :, None]          # eq. 4
            + over_hw(F.relu(1 - g_s - g_e)) * z_prev + over_hw(noise))
    z_1 = F.leaky_relu(z_prev + block.conv2(F.leaky_relu(block.conv1[0](z_in), 0.2)), 0.2)   # eq. 5
    z_in_lib, _ = block.fuse(z_prev, z_s, z_e, u)
    z_1_lib, _ = block(z_prev, z_s, z_e, u)
for name, mine, lib in (("z_in (eq. 4)", z_in, z_in_lib), ("z_1 (eq. 5)", z_1, z_1_lib)):
    err = float((mine - lib).abs().max())
    print(f"{name}: shape {tuple(mine.shape)}, by hand vs InbetweenLatentBlock: max |difference| = {err:.1e}")
    assert err < 1e-5

# %% [markdown]
# **The identity of eq. 4.** With both keyframe codes equal to the previous latent, $E(x_s) = E(x_e) = z_{l-1} = z$,
# and no noise, eq. 4 gives $z_{\text{in}} = \big(g_s + g_e + \max(0, 1 - g_s - g_e)\big) z = \max(1, g_s + g_e)\, z$.
# Wherever $g_s + g_e \le 1$ the three weights sum to one and $z_{\text{in}} = z$ exactly: the fusion is a convex
# mix, it can move the latent toward a keyframe but never scale it. Where $g_s + g_e > 1$ the keyframes together get
# more than full weight and the latent is scaled up by $g_s + g_e$. `M.gated_fusion` on uniform random gates (about
# half of them sum past 1) and on every gate this G makes for the keyframes above:

# %%
with torch.no_grad():
    _, model_gates = G(x_s, x_e, u)                                    # per block (g_s, g_e), each (1, C, T_l)
torch.manual_seed(SEED)
z = torch.randn(1, gcfg.latent_channels, 1, h, w, device=DEVICE)     # one latent, broadcast over time
random_gates = [(torch.rand(1, gcfg.latent_channels, 64, device=DEVICE),
                 torch.rand(1, gcfg.latent_channels, 64, device=DEVICE))]
rows = ["| gates | pairs (g_s, g_e) | share with g_s + g_e ≤ 1 | max abs(z_in − z) there "
        "| max abs(z_in − max(1, g_s + g_e) z) everywhere |", "|---|---:|---:|---:|---:|"]
for name, gate_list in (("uniform random", random_gates), (f"this G, all {len(model_gates)} blocks", model_gates)):
    n_pairs, n_convex, err_convex, err_general = 0, 0, 0.0, 0.0
    for g_s_l, g_e_l in gate_list:
        gs, ge = g_s_l[..., None, None], g_e_l[..., None, None]       # (1, C, T_l, 1, 1)
        fused = M.gated_fusion(z, z, z, gs, ge)                        # (1, C, T_l, h, w)
        convex = (gs + ge <= 1).expand_as(fused)
        n_pairs, n_convex = n_pairs + gs.numel(), n_convex + int((gs + ge <= 1).sum())
        if convex.any():
            err_convex = max(err_convex, float((fused - z)[convex].abs().max()))
        err_general = max(err_general, float((fused - torch.clamp(gs + ge, min=1) * z).abs().max()))
    rows.append(f"| {name} | {n_pairs} | {n_convex / n_pairs:.2f} | {err_convex:.1e} | {err_general:.1e} |")
    assert err_convex < 1e-5 and err_general < 1e-5
display(Markdown("\n".join(rows)))


# %% [markdown]
# **The gates over time.** `InbetweenPipeline.synthesize` returns, per block, $g_s$ and $g_e$ averaged over the
# channels. One panel per temporal stage ($T/4$, $T/2$, $T$), the time axis scaled to $[0, 1]$ (start to end
# frame), one line per block (later blocks darker), the weight left for $z_{l-1}$, $\max(0, 1 - g_s - g_e)$, dotted.
# One might expect a trained model to let the start frame's gate dominate early and the end frame's late (nothing
# in the loss demands it; the plot lets you check). Untrained, the gates sit near $\sigma(\cdot) \approx 0.5$ with
# random wiggles. Section 6 draws them again for the trained G. (In eq. 3 the gates depend on $u$ alone, not on the
# keyframes: they set *when* each keyframe is written in, the codes set *what*.)

# %%
def plot_gates(curves, model_cfg, title):
    # curves: per block, a (2, T_l) array of the channel-mean g_s and g_e (one sample of InbetweenResult.gates).
    stages, per_stage = model_cfg.stage_frames, model_cfg.blocks_per_stage
    fig = make_subplots(rows=1, cols=len(stages), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[f"stage {s + 1}: T_l = {t}" for s, t in enumerate(stages)])
    for l, curve in enumerate(curves):
        stage, k = divmod(l, per_stage)
        x = np.linspace(0, 1, curve.shape[-1])
        shade = 0.35 + 0.65 * (k + 1) / per_stage
        for y, name, colour, dash in ((curve[0], "g_s (start)", "royalblue", None),
                                      (curve[1], "g_e (end)", "crimson", None),
                                      (np.maximum(0, 1 - curve[0] - curve[1]), "max(0, 1 - g_s - g_e)", "grey", "dot")):
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, legendgroup=name, showlegend=l == 0,
                                     opacity=shade, line={"color": colour, "dash": dash, "width": 1.5},
                                     hovertemplate=f"block {l}: %{{y:.3f}}<extra>{name}</extra>"),
                          row=1, col=stage + 1)
    fig.update_xaxes(title_text="time (0 = start frame, 1 = end frame)")
    fig.update_yaxes(range=[0, 1], title_text="channel mean", row=1, col=1)
    fig.update_layout(title=title, height=360, template="plotly_white")
    fig.show()


first = pipe.synthesize(start, end, num_samples=1, seed=SEED)       # the same u as above (seed SEED)
plot_gates([c[0] for c in first.gates], gcfg, f"Gates per block and time step ({PIPE_NOTE})")

# %% [markdown]
# **The fused latent across time.** Forward hooks on the last block of each stage catch the latent video after
# that stage. Below, each map is the channel mean of $z$ at one time step (one colour scale per row, dark = the
# row's lowest value, yellow = its highest), placed at its position on the clip's time axis; the first row shows
# $E(x_s)$ and $E(x_e)$ at the two ends.
#
# The plot after it asks the question numerically. The two keyframe codes share most of their content (the
# background: their cosine similarity is printed), so what matters is the part that differs, $d = E(x_e) - E(x_s)$.
# For each stage, the latent at time $t$ minus its mean over time is compared with $d$ (cosine over all
# $C \cdot h \cdot w$ numbers): negative leans toward the start code, positive toward the end code. A model that
# carries the keyframes through the clip should rise from negative to positive; an untrained one has no reason to.

# %%
after_stage = {}
hooks = [stage[-1].register_forward_hook(lambda mod, args, out, s=s: after_stage.__setitem__(s, out[0][0]))
         for s, stage in enumerate(G.latent.stages)]
with torch.no_grad():
    G(x_s, x_e, u)
for hook in hooks:
    hook.remove()

T = gcfg.frames
map_rows = [("E(x_s), E(x_e)", {0: z_s[0], T - 1: z_e[0]})]
for s, z_stage in after_stage.items():                                # (C, T_l, h, w)
    t_l = z_stage.shape[1]
    map_rows.append((f"after stage {s + 1}\n(T_l = {t_l})",
                     {round(i * (T - 1) / max(t_l - 1, 1)): z_stage[:, i] for i in range(t_l)}))
fig, axes = plt.subplots(len(map_rows), T, figsize=(0.8 * T, 0.9 * len(map_rows) + 0.4), squeeze=False)
for r, (label, maps) in enumerate(map_rows):
    means = {col: m.mean(0).cpu().numpy() for col, m in maps.items()}
    low, high = min(float(v.min()) for v in means.values()), max(float(v.max()) for v in means.values())
    for col in range(T):
        ax = axes[r][col]
        ax.set_xticks([]), ax.set_yticks([])
        if col in means:
            ax.imshow(means[col], cmap="viridis", vmin=low, vmax=high)
        else:
            ax.set_axis_off()
        if r == 0:
            ax.set_title(f"t={col}", fontsize=7)
    axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)   # column 0 always has a map
fig.suptitle(f"Channel-mean latent maps over time ({PIPE_NOTE})", fontsize=10)
plt.tight_layout()
plt.show()

d = (z_e - z_s)[0].flatten()                                         # what tells the keyframes apart
print(f"cosine similarity of E(x_s) and E(x_e): {float(F.cosine_similarity(z_s.flatten(), z_e.flatten(), dim=0)):.3f}")
fig = go.Figure()
for s, z_stage in after_stage.items():                               # (C, T_l, h, w)
    centred = (z_stage - z_stage.mean(1, keepdim=True)).transpose(0, 1).flatten(1)    # (T_l, C * h * w)
    lean = F.cosine_similarity(centred, d[None], dim=1).cpu().numpy()
    fig.add_trace(go.Scatter(x=np.linspace(0, 1, len(lean)), y=lean, mode="lines+markers", name=f"after stage {s + 1}"))
fig.add_hline(y=0, line={"color": "grey", "width": 1})
fig.update_layout(title=f"Lean of the latent toward the end code over time ({PIPE_NOTE})",
                  xaxis_title="time (0 = start frame, 1 = end frame)",
                  yaxis_title="cos(z_t - mean over t, E(x_e) - E(x_s))", height=380, template="plotly_white")
fig.show()

# %% [markdown]
# ## 4 · Every loss term on one batch
#
# The paper's objective is adversarial only, with the non-saturating loss (Goodfellow et al. 2014) written on logits
# $\ell$: $-\log \sigma(\ell) = \mathrm{softplus}(-\ell)$ and $-\log(1 - \sigma(\ell)) = \mathrm{softplus}(\ell)$.
# G makes a clip $\hat x$ from the keyframes of a real clip $x$ and a fresh $u$; the shown clip has the **true**
# keyframes pasted at both ends (`with_keyframes`), so D never gets an easy cue from them. Then
#
# * video D: $L_{D_V} = \mathbb E\,\mathrm{softplus}(-D_V(x)) + \mathbb E\,\mathrm{softplus}(D_V(\hat x))$ on whole
#   clips;
# * image D: $L_{D_I}$, the same on single frames, **the $T - 2$ in-between frames only** (the keyframes are real in
#   both clips and would teach it nothing);
# * G: $L_G = \lambda_V\, \mathbb E\,\mathrm{softplus}(-D_V(\hat x)) + \lambda_I\, \mathbb E_t\,
#   \mathrm{softplus}(-D_I(\hat x_t))$, the non-saturating form: G maximises $\log D(\hat x)$ rather than minimising
#   $\log(1 - D(\hat x))$, whose gradient vanishes when D is sure.
#
# Our CPU presets add $\lambda_R\, \mathbb E\, |\hat x_{1..T-2} - x_{1..T-2}|_1$ to $L_G$
# (`lambda_reconstruction`; 0 in the paper's preset) and show the image D only `d_image_frames` random in-between
# frames per clip (0 = all), to cut its cost.
#
# At $D \equiv 0.5$ each G term is $\log 2 \approx 0.693$ and each D term $2 \log 2 \approx 1.386$. Each training
# step runs the G phase, then the D phase (both Ds, on G's detached clips), as `InbetweenObjective.phases()` lists
# them. Here both run once, without updating anything, on a batch of training clips, with the untrained networks of
# section 2:

# %%
objective = M.InbetweenObjective(cfg)
phases = objective.phases()
for p in phases:
    print(f"phase {p.name}: updates {p.nets}{'  (lr_d)' if p.discriminator else ''}")
batch = {k: v.to(DEVICE) for k, v in default_collate([data[i] for i in range(train_cfg.batch_size)]).items()}
torch.manual_seed(SEED)
state = StepState(step=0)
with torch.no_grad():
    results = {p.name: p.loss(nets, batch, state) for p in phases}
logs = {f"{name}/{k}": float(v) for name, (total, terms) in results.items() for k, v in terms.items()}
logs.update({f"{name}/total": float(total) for name, (total, _) in results.items()})
print("batch:", {k: tuple(v.shape) for k, v in batch.items()}, " the clip the G phase shared with the D phase:",
      tuple(state["fake"].shape))

# %% [markdown]
# The same four numbers by hand: draw $u$ as the objective does (the global RNG, same seed), make the clip, paste
# the keyframes, and apply softplus to the discriminators' logits. The video D gives one logit per clip, the image D
# one per in-between frame it is shown ($B (T - 2)$ of them, or $B k$ with `d_image_frames` $= k$, drawn from the
# global RNG in the objective's order: G phase, then real, then generated in the D phase).

# %%
real = batch["video"]                                                  # (B, 3, T, S, S)
torch.manual_seed(SEED)
with torch.no_grad():
    u_batch = torch.randn(real.shape[0], cfg.noise_dim, device=DEVICE)
    video, _ = nets["G"](real[:, :, 0], real[:, :, -1], u_batch)
    fake = M.with_keyframes(video, real[:, :, 0], real[:, :, -1])
    k = cfg.d_image_frames
    image_logits_g = nets["D_image"](M.inbetween_frames(fake, k))       # the frames the G phase drew
    logits = {"video, real": nets["D_video"](real), "video, generated": nets["D_video"](fake),
              "image, real": nets["D_image"](M.inbetween_frames(real, k)),
              "image, generated": nets["D_image"](M.inbetween_frames(fake, k))}
assert torch.allclose(fake, state["fake"], atol=1e-5)                 # the clip the D phase judged
by_hand = {"G/adv_video": F.softplus(-logits["video, generated"]).mean(),
           "G/adv_image": F.softplus(-image_logits_g).mean(),
           "D/video": F.softplus(-logits["video, real"]).mean() + F.softplus(logits["video, generated"]).mean(),
           "D/image": F.softplus(-logits["image, real"]).mean() + F.softplus(logits["image, generated"]).mean()}
if cfg.lambda_reconstruction:
    by_hand["G/reconstruction"] = (fake[:, :, 1:-1] - real[:, :, 1:-1]).abs().mean()
for key, value in by_hand.items():
    assert abs(float(value) - logs[key]) < 1e-4 * max(1.0, logs[key]), (key, float(value), logs[key])

explain = {
    "G/adv_video": ("λ_video", "−log D_V(x̂): the video D should take the generated clip for real"),
    "G/adv_image": ("λ_image", "−log D_I(x̂_t), mean over the in-between frames: each should pass as a real frame"),
    "D/video": ("λ_video", "−log D_V(x) − log(1 − D_V(x̂)): real clips → 1, generated clips → 0"),
    "D/image": ("λ_image", "the same for single in-between frames, real and generated"),
    "G/reconstruction": ("λ_R", "|x̂_t − x_t|₁ over the in-between frames (our CPU addition, not the paper's)"),
}
explain = {key: v for key, v in explain.items() if key in by_hand}
weights = {"λ_video": cfg.lambda_video, "λ_image": cfg.lambda_image, "λ_R": cfg.lambda_reconstruction}
display(Markdown(loss_table(logs, explain, weights, phases=("G", "D"), extra={"by hand": by_hand})))
display(Markdown("| logits | shape | mean σ(logit) = D's belief it is real |\n|---|---|---:|\n" + "\n".join(
    f"| {k} | {tuple(v.shape)} | {float(torch.sigmoid(v).mean()):.3f} |" for k, v in logits.items())))
show_strips([tensor_to_frames(real[0]), tensor_to_frames(fake[0])],
            ["real clip x", "G's clip x̂\n(true keyframes\npasted at the ends)"],
            title="The first clip of the batch (untrained G; the image D sees only frames 1 to T-2)")

# %% [markdown]
# ## 5 · A short training run
#
# `GANTrainer` is the project's one GAN loop: per step the G phase, then the D phase, each with its own Adam
# optimizer and only its own networks trainable, then an update of the EMA copy of G (the one that would be
# shipped). `python -m train.train inbetween --preset demo` runs the same code for 2000 steps at batch 4 (the paper:
# Adam 5e-5 at batch 32, far longer; the demo preset uses 2e-4 for a short CPU run). This run is much shorter still
# (tiny mode: 4 steps of the tiny preset; otherwise 200 steps of the demo preset at batch 2). Expect the Ds to win
# the first steps (their losses near 0, G's far above $\log 2$) and G's in-between frames to stay close to the
# cross-dissolve that the demo preset's decoder corrects (`output="learned_blend"`: a correction to the frames and to
# the cross-dissolve's weight, pixel by pixel), whose ghosts 200 steps are too few to remove; section 6 compares
# the shipped weights (2000 steps) with both baselines.

# %%
run_dir = Path(tempfile.mkdtemp(prefix="vsl_nb04_"))
train_phases, ema_nets = spec.build_objective(cfg)
torch.manual_seed(train_cfg.seed)
trainer = GANTrainer(spec.build_nets(cfg), train_phases, ema_nets, data, train_cfg, run_dir, to_dict(cfg),
                     "inbetween", device=DEVICE)
t0 = time.perf_counter()
log_rows = trainer.fit(TRAIN_STEPS, progress=False)
print(f"{TRAIN_STEPS} steps at batch {train_cfg.batch_size} in {time.perf_counter() - t0:.1f} s; logs in {run_dir}")

fig = make_subplots(rows=1, cols=2, subplot_titles=["G phase", "D phase"], horizontal_spacing=0.08)
steps = [r["step"] for r in log_rows]
for col, keys in ((1, ("G/adv_video", "G/adv_image", "G/total")), (2, ("D/video", "D/image", "D/total"))):
    for key in keys:
        fig.add_trace(go.Scatter(x=steps, y=[r[key] for r in log_rows], mode="lines+markers", name=key,
                                 line={"dash": "dot"} if key.endswith("total") else {}), row=1, col=col)
for col, level in ((1, np.log(2)), (2, 2 * np.log(2))):                  # the value at D = 0.5 everywhere
    fig.add_hline(y=level, line={"color": "grey", "width": 1, "dash": "dash"}, row=1, col=col)
fig.update_xaxes(title_text="step")
fig.update_yaxes(title_text="loss", row=1, col=1)
fig.update_layout(title="Training losses (grey: each term's value when D says 0.5)", height=380,
                  template="plotly_white")
fig.show()

# %% [markdown]
# ## 6 · Samples next to the baselines, and SSIM to the true clip
#
# From here on one pipeline: the shipped weights (`weights/inbetween/demo.safetensors`, via `registry.load`) when they
# exist and this is not tiny mode, else the G (EMA) just trained. For the held-out keyframes of section 3 it draws
# several samples (sample $k$ uses the noise of seed + $k$) and sets two classical baselines beside them: **linear
# blending** (a cross-dissolve: it fades, it does not move) and **flow interpolation** (OpenCV's DIS optical flow
# between the keyframes, both ways, frames warped along it assuming linear motion, as in Super SloMo's eq. 4; no
# learning, no occlusion reasoning).
#
# The score is the paper's: SSIM (Gaussian 11×11, σ 1.5) of the $T - 2$ in-between frames to the true ones. A
# stochastic model is not meant to hit the true motion with every sample, so the paper reports the **best of N**
# samples; the mean over samples is shown too.

# %%
final, FINAL_NOTE = pipeline_or_shipped(
    trainer.ema["G"], f"the G (EMA) trained in this notebook ({TRAIN_STEPS} steps, preset {PRESET!r})")
if not SHIPPED:
    display(Markdown(
        "**No `inbetween` weights are shipped yet**" + (" (and tiny mode never loads them)" if TINY else "") +
        ". Train and export them with\n\n"
        "    python -m train.train inbetween --preset demo\n"
        "    python -m train.export runs/inbetween-demo --variant demo\n\n"
        "(`weights/inbetween/demo.safetensors` and its card `demo.json`). Until then: " + FINAL_NOTE + ", which "
        "has barely begun to learn: read what follows as the method's plumbing, not its quality."))
print("Model:", FINAL_NOTE)

NUM_SAMPLES = 4 if TINY else 8
t0 = time.perf_counter()
result = final.synthesize(start, end, num_samples=NUM_SAMPLES, seed=SEED)    # frames (N, T, S, S, 3)
clips = {f"sample {k}": frames for k, frames in enumerate(result.frames)}
clips["linear blend"] = final.blend(start, end)
clips["flow interpolation"] = final.flow_interpolation(start, end)
print(f"{NUM_SAMPLES} samples and both baselines in {time.perf_counter() - t0:.2f} s")

# M.inbetween_ssim: the model card's score, SSIM of the in-between frames only, one number per clip
scores = {name: float(M.inbetween_ssim(clip.frames, frames)[0]) for name, frames in clips.items()}
sample_scores = [scores[f"sample {k}"] for k in range(NUM_SAMPLES)]
best = int(np.argmax(sample_scores))
rows = [f"| best of {NUM_SAMPLES} samples (sample {best}) | {sample_scores[best]:.4f} |",
        f"| mean over the {NUM_SAMPLES} samples | {np.mean(sample_scores):.4f} |",
        f"| linear blend | {scores['linear blend']:.4f} |",
        f"| flow interpolation | {scores['flow interpolation']:.4f} |"]
display(Markdown("| in-between frames vs the true clip | SSIM |\n|---|---:|\n" + "\n".join(rows)))

# %%
shown = ["truth"] + [f"sample {k}" for k in range(min(NUM_SAMPLES, 4))] + ["linear blend", "flow interpolation"]
everything = {"truth": clip.frames, **clips}
show_strips([everything[name] for name in shown],
            [name if name == "truth" else f"{name}\nSSIM {scores[name]:.3f}" for name in shown],
            title=f"Held-out clip {clip.seed} ({clip.label}): {FINAL_NOTE}")
plot_gates([c[best] for c in result.gates], final.cfg,
           f"Gates of the best sample (sample {best}) for the same keyframes ({FINAL_NOTE})")

# %% [markdown]
# Frame by frame (the slider needs a live kernel), with each frame's SSIM to the true one (1 at the keyframes). The
# blend shows both keyframes at half strength in the middle; the flow baseline moves things but ghosts where the
# motion is large or the figure occludes itself; a trained inbetweening model should move the figure without either.

# %%
panels = ["truth", f"sample {best}", "linear blend", "flow interpolation"]
as_images = lambda frames: frames_to_tensor(frames)[0].transpose(0, 1)      # noqa: E731  (T, 3, S, S)
frame_ssim = {name: ssim(as_images(everything[name]), as_images(clip.frames), reduction="none") for name in panels}


def show_frame(t):
    show_row([everything[name][t] for name in panels],
             [f"{name}\nSSIM of frame {t}: {float(frame_ssim[name][t]):.3f}" for name in panels], size=2.4)


widgets.interact(show_frame, t=widgets.IntSlider(value=len(clip.frames) // 2, min=0, max=len(clip.frames) - 1,
                                                 description="frame"));

# %% [markdown]
# **What the learned blend weighs.** The demo preset's decoder (`output="learned_blend"`) does not only add a
# correction to the cross-dissolve: per pixel and frame it also moves the cross-dissolve's weight $w$ ($0$ shows the
# start frame's pixel, $1$ the end frame's; the linear blend uses $t / (T - 1)$ everywhere). Where a figure moves,
# each keyframe shows the background that the other hides, so a weight that leaves the linear schedule there is
# how the model takes ghosts away. `synthesize` returns $w$ as `blend_weight` (models with another output: `None`).

# %%
if result.blend_weight is None:
    print(f"Model: {FINAL_NOTE}, output={final.cfg.output!r}: no learned blend weight to show")
else:
    T = final.cfg.frames
    times = np.linspace(1, T - 2, 6).round().astype(int)
    fig, axes = plt.subplots(2, len(times), figsize=(2.1 * len(times), 4.8))
    for col, t in enumerate(times):
        axes[0, col].imshow(result.frames[best, t])
        axes[0, col].set_title(f"sample {best}, frame {t}", fontsize=8)
        shown_w = axes[1, col].imshow(result.blend_weight[best, t], cmap="coolwarm", vmin=0, vmax=1)
        axes[1, col].set_title(f"w (linear blend: {t / (T - 1):.2f})", fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.colorbar(shown_w, ax=axes[1].tolist(), shrink=0.8, label="w: 0 = start frame's pixel, 1 = end frame's")
    fig.suptitle(f"Learned blend weight ({FINAL_NOTE})", fontsize=9)
    plt.show()

# %% [markdown]
# **Over several held-out clips.** One clip is an anecdote; `spec.evaluate` is what `train.export` runs to write a
# model card's metrics: the same SSIM over several held-out clips, mean and best of N samples, beside both
# baselines.

# %%
t0 = time.perf_counter()
metrics = spec.evaluate(final, 2 if TINY else 8, samples=NUM_SAMPLES)
display(Markdown("| metric | value |\n|---|---:|\n" + "\n".join(
    f"| {k} | {v} |" for k, v in metrics.items() if k != "protocol")))
print(metrics["protocol"])
print(f"({time.perf_counter() - t0:.1f} s; model: {FINAL_NOTE})")

# %% [markdown]
# ## Where next
#
# * Train: `python -m train.train inbetween --preset demo` (the ablations: `--preset demo_without_fusion`,
#   `--preset demo_naive`; the paper's sizes: `--preset paper`; another procedural set: the override
#   `dataset=bair` or `dataset=digits`), then `python -m train.export runs/inbetween-demo --variant demo`.
# * Real clips: the override `data_root=DIR` with `DIR/<clip>/*.png` (BAIR, KTH or UCF101 after frame extraction).
# * Read `demo_lib/models/inbetween.py` top to bottom: everything shown here is defined there.

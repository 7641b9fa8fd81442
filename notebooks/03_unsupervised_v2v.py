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
# # 03 · Unsupervised video-to-video translation: photo to painting without flicker
#
# **Papers:** Huang, Liu, Belongie, Kautz, *Multimodal Unsupervised Image-to-Image Translation* (MUNIT), ECCV 2018
# ([arXiv 1804.04732](https://arxiv.org/abs/1804.04732)); Wang & Feng, *Single-Frame Unsupervised Video-to-Video
# Translation*: MUNIT trained on still images with a **temporal loss on synthetic flow**, and normalisation
# statistics **shared by the frames of a clip** at inference (after ReReVST, Wang et al., IEEE TIP 2020).
#
# There is no paired data and no training video. MUNIT splits an image of domain $i$ into a **content** code
# $c = E_i^c(x)$ (a spatial map, shared by both domains) and a **style** code $s = E_i^s(x)$ (8 numbers, per domain);
# a decoder $G_j(c, s)$ paints content in a style through AdaIN. Photo → painting is $x_{ab} = G_b(E_a^c(x_a), s_b)$
# with $s_b \sim \mathcal N(0, I)$. Translated frame by frame, a video flickers: nothing ties frame $n$ to frame $n-1$.
# Wang & Feng fix that without video: a second frame is *made* from each training image by a random smooth flow $O$,
#
# $$X^n = \mathrm{Warp}(X^{n-1}, O) + \Delta, \qquad \Delta \sim \mathcal N(0, \sigma^2),$$
#
# and every map $G$ the model learns must commute with that motion:
# $\;L_t = \lVert G(X^n) - \mathrm{Warp}(G(X^{n-1}), O) \rVert_1$. At inference, the instance-norm (and AdaIN and
# layer-norm) statistics are computed once over frames sampled from the clip and shared by every frame.
#
# **This notebook:** the two unpaired domains, the synthetic flow and second frame, every loss term on one batch
# (computed by the library's own objective), the temporal loss on toy maps, what shared statistics do to a clip, a
# short training run, the shipped weights (when there are any) and a frame scrubber. All the model code is in
# `demo_lib/models/munit_video.py`; this notebook only orchestrates it.
#
# Set `VSL_NOTEBOOK_TINY=1` for a smoke-test run (tiny preset, 4 steps, only the photos inside installed packages);
# otherwise it uses the `demo` preset (`VSL_NOTEBOOK_STEPS` changes the step count).

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
import plotly.graph_objects as go
import torch
import torch.nn as nn
from IPython.display import Markdown, display
from torch.utils.data import default_collate

from demo_lib import registry
from demo_lib.config import to_dict
from demo_lib.data import paintings
from demo_lib.device import best_device
from demo_lib.flow import dis_flow_video, flow_to_rgb, flow_to_tensor, occlusion_mask, random_smooth_flow, warp
from demo_lib.metrics import warp_error
from demo_lib.models import munit_video as M
from demo_lib.trainer import GANTrainer, StepState
from demo_lib.video import frames_to_tensor, image_to_tensor, resize_image, tensor_to_image

from _display import loss_table, plot_losses, png, show_grid, show_row  # notebooks/_display.py: figure helpers shared by the notebooks

TINY = os.environ.get("VSL_NOTEBOOK_TINY") == "1"
DEVICE = best_device()                      # CUDA > MPS > CPU
if "OMP_NUM_THREADS" not in os.environ:     # a thread limit set from outside wins
    torch.set_num_threads(min(4, os.cpu_count() or 1))
torch.manual_seed(0)

PRESET = "tiny" if TINY else "demo"
TRAIN_STEPS = int(os.environ.get("VSL_NOTEBOOK_STEPS", 4 if TINY else 40))
SHARED_DATA = not TINY                      # tiny: only the photos inside installed packages (fast, every machine)
SHIPPED = registry.weights_path("munit_video").is_file() and not TINY
spec = registry.get("munit_video")
cfg, train_cfg = spec.preset(PRESET, [f"steps={TRAIN_STEPS}", "ckpt_every=0", f"log_every={1 if TINY else 2}"])
SEED = train_cfg.seed
print(f"device={DEVICE}  TINY={TINY}  preset={PRESET}  image_size={cfg.image_size}  channels={cfg.channels}  "
      f"seed={SEED}  training steps={TRAIN_STEPS}  shipped weights used={SHIPPED}")


# %%
def square(image, side):
    # The centred square of a uint8 image, resized to side x side.
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return resize_image(np.ascontiguousarray(image[y:y + s, x:x + s]), (side, side))


def error_map(diff, full_scale=0.5):
    # |difference| (1, C, H, W) or (C, H, W) in [-1, 1] units -> uint8 grey, white = full_scale or more.
    e = diff.abs().mean(-3).squeeze(0).clamp(0, full_scale) / full_scale
    return (e * 255).round().byte().cpu().numpy()


# %% [markdown]
# ## 1 · Two unpaired domains
#
# MUNIT needs only two *sets* of images, never a photo together with its painting. Domain **A** are real photos, domain
# **B** are paintings made by this project's painterly renderer (`paintings.paint`: colour grading, a k-means palette,
# brush strokes coarse to fine along the image structure after Hertzmann 1998, impasto relief, canvas weave), applied
# to a **disjoint** set of photos: no painting in B depicts a photo of A, so the domains stay unpaired as MUNIT
# assumes. A third, held-out set feeds only the evaluation. The split is by source, never by crop (the real sky
# time-lapse clips and Cityscapes frames beside the repository join by clip / sequence when present; tiny mode leaves
# them out).

# %%
splits = {split: paintings.photo_sources(split, SHARED_DATA) for split in ("photo", "painting", "heldout")}
names = {split: {s.name for s in sources} for split, sources in splits.items()}
assert not names["photo"] & names["painting"] and not (names["photo"] | names["painting"]) & names["heldout"]
rows = [f"| {split} | {len(sources)} | {sum(s.frames for s in sources)} | "
        f"{', '.join(sorted({s.group for s in sources}))} | {', '.join(paintings.PACKAGE_SPLIT[split])} |"
        for split, sources in splits.items()]
display(Markdown("| split | sources | frames | groups | photos from packages |\n|---|---:|---:|---|---|\n"
                 + "\n".join(rows)))
print("no source is in two splits")

package_photos = {split: [s for s in splits[split] if s.group == "packages"] for split in splits}
photos_a = [square(s.load(0), 128) for s in package_photos["photo"]]
painted_from = [square(s.load(0), 128) for s in package_photos["painting"]]
paintings_b = [paintings.paint(p, seed=k) for k, p in enumerate(painted_from)]
show_grid([photos_a, painted_from, paintings_b],
          row_titles=["A: photos", "(B's sources)", "B: paintings"], size=2.0)

# %% [markdown]
# The row in the middle is only there to show what the renderer does: training sees B's paintings, never these photos.
# `PhotoPaintingDataset` draws, per item, a random photo crop for "a" and an independent random painting crop for "b"
# (each painting source has several render seeds, so several looks), as $S \times S$ tensors in $[-1, 1]$. These are
# the crops the networks see at this preset's size:

# %%
if SHARED_DATA:
    data = spec.build_dataset(cfg, train_cfg)          # exactly what `python -m train.train munit_video` uses
else:
    data = paintings.PhotoPaintingDataset(cfg.image_size, seed=train_cfg.seed, shared_data=False)
items = [data[i] for i in range(6)]
show_grid([[tensor_to_image(it["a"]) for it in items], [tensor_to_image(it["b"]) for it in items]],
          row_titles=['item["a"] (photo)', 'item["b"] (painting)'], size=1.5)
print({k: (tuple(v.shape), str(v.dtype)) for k, v in items[0].items()})

# %% [markdown]
# ## 2 · The synthetic flow and the warped second frame
#
# The temporal loss of Wang & Feng needs pairs of frames with a *known* motion, and still images have none, so the
# motion is made up. `random_smooth_flow` (after ReReVST) builds $O$ from a coarse $g \times g$ grid of Gaussian vectors
# (non-rigid local motion), upsampled bicubically, plus a global shift (a camera pan), blurred, and scaled so that
# $\max|O| \le$ `flow_max_shift`. The second frame is $X^n = \mathrm{Warp}(X^{n-1}, O) + \Delta$ with a little
# Gaussian noise (`temporal_noise_std`; it stands for the sensor noise of real video). Convention everywhere:
# $\mathrm{Warp}(x, O)(p) = x(p + O(p))$, so $O$ lives on $X^n$ and points into $X^{n-1}$.
#
# Below, on a 128-pixel photo, with the preset's shift scaled to that size. The colour key: hue = direction, saturation
# = magnitude (white = still). The plain difference $|X^n - X^{n-1}|$ is the motion; after warping, only the noise is
# left.

# %%
SIDE = 128
shift = cfg.flow_max_shift * SIDE / cfg.image_size          # flow_max_shift is in pixels at image_size
x_prev = image_to_tensor(photos_a[0])                        # X^{n-1}, (1, 3, H, W) in [-1, 1]
torch.manual_seed(SEED)
O = random_smooth_flow(1, SIDE, SIDE, shift, cfg.flow_grid)
x_next = warp(x_prev, O) + cfg.temporal_noise_std * torch.randn_like(x_prev)
torch.manual_seed(SEED)                                      # the library's function draws the same numbers
same_next, same_O = M.synthetic_next_frame(x_prev, shift, cfg.flow_grid, cfg.temporal_noise_std)
assert torch.equal(O, same_O) and torch.equal(x_next, same_next)

yy, xx = np.mgrid[-1:1:SIDE * 1j, -1:1:SIDE * 1j].astype(np.float32)
key = flow_to_rgb(np.stack([xx, yy], -1) * (np.hypot(xx, yy) <= 1)[..., None])
magnitude = O.norm(dim=1)
print(f"|O|: max {magnitude.max():.2f} px (limit {shift:.1f}), mean {magnitude.mean():.2f} px; "
      f"noise std {cfg.temporal_noise_std}")
show_row([key, flow_to_rgb(O[0].permute(1, 2, 0).numpy()), photos_a[0], tensor_to_image(x_next),
          error_map(x_next - x_prev, 0.25), error_map(x_next - warp(x_prev, O), 4 * cfg.temporal_noise_std)],
         ["colour key", "flow $O$", "$X^{n-1}$", "$X^n$ = Warp($X^{n-1}$, $O$) + noise",
          "|$X^n - X^{n-1}$| (white: 0.25)",
          f"|$X^n$ - Warp($X^{{n-1}}$, $O$)| (white: {4 * cfg.temporal_noise_std:g})"], size=2.2)
print(f"mean |X^n - X^(n-1)| = {(x_next - x_prev).abs().mean():.4f}; "
      f"mean |X^n - Warp(X^(n-1), O)| = {(x_next - warp(x_prev, O)).abs().mean():.4f} (the noise alone)")

# %% [markdown]
# ## 3 · Every loss term, on one batch
#
# `MunitVideoObjective.phases()` lists the phases in the trainer's order: **G** (both domains' content encoders, style
# encoders and decoders), then **D** (one multi-scale LSGAN PatchGAN per domain) on G's detached translations. Each
# phase is a function `loss(nets, batch, state) -> (total, logs)`. Below we call both on one batch, exactly as the
# trainer does, with untrained networks (values only, so without gradients).
#
# The G phase is MUNIT's objective (Sec. 3.2, eqs. 1–5: the bidirectional reconstruction losses and the adversarial
# loss) plus the cycle term of MUNIT's released configs (`recon_x_cyc_w`), plus the temporal loss: each image's
# synthetic second frame joins the batch (`[X^{n-1}; X^n]`, both frames with the *same* random style), and
# $L_t$ compares the second frame's output with the first frame's output warped by $O$, for the within-domain
# reconstruction, the cycle and (this project's addition, `temporal_translation`) the cross-domain translation.

# %%
torch.manual_seed(SEED)
nets = spec.build_nets(cfg).to(DEVICE)
objective = M.MunitVideoObjective(cfg)
phases = objective.phases()
for p in phases:
    print(f"phase {p.name}: updates {p.nets}{'  (lr_d)' if p.discriminator else ''}")
print({name: f"{sum(q.numel() for q in net.parameters()):,} parameters" for name, net in nets.items()})
batch = {k: v.to(DEVICE) for k, v in default_collate(items[:max(2, train_cfg.batch_size)]).items()}
torch.manual_seed(SEED)
state = StepState(step=0)
with torch.no_grad():
    results = {p.name: p.loss(nets, batch, state) for p in phases}
logs = {f"{name}/{k}": float(v) for name, (total, terms) in results.items() for k, v in terms.items()}
logs.update({f"{name}/total": float(total) for name, (total, _) in results.items()})
print("translations the G phase shared with the D phase:", {k: tuple(v.shape) for k, v in state["translations"].items()},
      "(first frames, then second)")

# %%
explain = {
    "G/adv_a": ("λ_gan", "GAN: D_a should take x_ba = G_a(c_b, s_a) for a real photo (LSGAN)"),
    "G/adv_b": ("λ_gan", "GAN: D_b should take x_ab = G_b(c_a, s_b) for a real painting"),
    "G/image": ("λ_image", "image reconstruction ‖G_i(E_i^c(x), E_i^s(x)) − x‖₁, both domains"),
    "G/content": ("λ_content", "content reconstruction ‖E_b^c(x_ab) − c_a‖₁ (and b → a): translation keeps content"),
    "G/style": ("λ_style", "style reconstruction ‖E_b^s(x_ab) − s_b‖₁: the random style is readable from x_ab"),
    "G/cycle": ("λ_cycle", "cycle ‖G_a(E_b^c(x_ab), s_a) − x_a‖₁ (MUNIT's released recon_x_cyc_w)"),
    "G/temporal_recon": ("(in L_t)", "‖x_aa(X^n) − Warp(x_aa(X^{n-1}), O)‖₁, both domains"),
    "G/temporal_cycle": ("(in L_t)", "the same for the cycles x_aba, x_bab"),
    "G/temporal_translation": ("(in L_t)", "the same for x_ab, x_ba with one fixed style (ours)"),
    "G/temporal": ("λ_temporal", "L_t: the sum of the three temporal terms"),
    "D/a": ("λ_gan", "D_a: real photos → 1, x_ba → 0 (every scale, every patch)"),
    "D/b": ("λ_gan", "D_b: real paintings → 1, x_ab → 0"),
}
weights = {"λ_gan": cfg.lambda_gan, "λ_image": cfg.lambda_image, "λ_content": cfg.lambda_content,
           "λ_style": cfg.lambda_style, "λ_cycle": cfg.lambda_cycle, "λ_temporal": cfg.lambda_temporal}
display(Markdown(loss_table(logs, explain, weights, phases=("G", "D"))))

# %% [markdown]
# **The images behind the terms.** To show them we redo the G phase's first steps by hand, drawing the random numbers
# in the objective's order (two style codes, then the flow and noise of each domain's second frame), and check that
# the temporal term comes out as logged. Top row: the first frame's reconstruction, translation and cycle. Bottom
# row: the synthetic second frame, its translation, the first frame's translation warped by the same $O$ and their
# difference, which is what $L_t$ averages. Untrained, the difference is large; training drives it toward the noise
# level.

# %%
n = batch["a"].shape[0]
torch.manual_seed(SEED)
with torch.no_grad():
    style_a = torch.randn(n, cfg.style_dim, device=DEVICE)
    style_b = torch.randn(n, cfg.style_dim, device=DEVICE)
    a_next, flow_a = M.synthetic_next_frame(batch["a"], cfg.flow_max_shift, cfg.flow_grid, cfg.temporal_noise_std)
    b_next, flow_b = M.synthetic_next_frame(batch["b"], cfg.flow_max_shift, cfg.flow_grid, cfg.temporal_noise_std)
    out = nets["G"](torch.cat([batch["a"], a_next]), torch.cat([batch["b"], b_next]), style_a.repeat(2, 1),
                    style_b.repeat(2, 1))
    by_hand = {"temporal_translation": M.temporal_loss(out["x_ab"][:n], out["x_ab"][n:], flow_a)
               + M.temporal_loss(out["x_ba"][:n], out["x_ba"][n:], flow_b),
               "temporal_recon": M.temporal_loss(out["x_aa"][:n], out["x_aa"][n:], flow_a)
               + M.temporal_loss(out["x_bb"][:n], out["x_bb"][n:], flow_b)}
for k, v in by_hand.items():
    print(f"G/{k}: by hand {float(v):.5f}, logged by the objective {logs['G/' + k]:.5f}")
    assert abs(float(v) - logs["G/" + k]) < 1e-4 * max(1.0, abs(float(v)))

i = 0                                                        # the first sample of the batch
first, second = out["x_ab"][i:i + 1], out["x_ab"][n + i:n + i + 1]
warped_first = warp(first, flow_a[i:i + 1])
img = lambda t: tensor_to_image(t[i])                       # noqa: E731  (one sample of a batch)
show_row([img(batch["a"]), img(out["x_aa"]), img(out["x_ab"]), img(out["x_aba"]), img(batch["b"]), img(out["x_ba"])],
         ["$x_a = X^{n-1}$", "$x_{aa}$ (reconstruction)", "$x_{ab}$ (translation)", "$x_{aba}$ (cycle)",
          "$x_b$ (a painting)", "$x_{ba}$ (to photo)"])
show_row([img(a_next), tensor_to_image(second), tensor_to_image(warped_first), error_map(second - warped_first),
          flow_to_rgb(flow_a[i].permute(1, 2, 0).cpu().numpy())],
         ["$X^n$ (synthetic)", "$x_{ab}$ of $X^n$", "Warp($x_{ab}$ of $X^{n-1}$, $O$)", "|difference| ($L_t$)",
          "flow $O$"])

# %% [markdown]
# ## 4 · The temporal loss on toy maps
#
# $L_t$ asks the map $G$ to **commute with warping**: $G(\mathrm{Warp}(x, O)) = \mathrm{Warp}(G(x), O)$. A map that
# does the same thing at every pixel commutes: the identity exactly, a 1×1 convolution (a per-pixel linear map, which
# bilinear warping commutes with) up to float rounding. A map that depends on the *position* does not: adding a fixed
# horizontal ramp paints the ramp at the same place in both frames, while the warp moves the first frame's ramp. So
# does an untrained translator: its 3×3 and 7×7 convolutions, padding and per-frame normalisation are not exactly
# equivariant. Training pushes $G$ toward the first kind. (The same checks are in
# `tests/test_munit_video_model.py`.)

# %%
torch.manual_seed(SEED)
x = torch.rand(2, 3, 32, 32) * 2 - 1
_, O_toy = M.synthetic_next_frame(x, 4.0, (2, 4), 0.0)
x_toy_next = warp(x, O_toy)                                   # no noise: the second frame is exactly the warp
pointwise = nn.Conv2d(3, 5, 1)
ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32)
untrained = nets["G"].domains["b"].decoder, nets["G"].domains["a"].content_encoder
style = torch.randn(1, cfg.style_dim).expand(2, -1).to(DEVICE)
translate = lambda v: untrained[0](untrained[1](v.to(DEVICE)), style).cpu()   # noqa: E731
maps = {"identity": lambda v: v, "1x1 convolution (per-pixel linear)": pointwise,
        "x + horizontal ramp (position-dependent)": lambda v: v + ramp, "untrained G_b(E_a^c(x), s)": translate}
rows = []
with torch.no_grad():
    for name, g in maps.items():
        rows.append(f"| {name} | {float(M.temporal_loss(g(x), g(x_toy_next), O_toy)):.2e} |")
display(Markdown("| map G | L_t = mean ‖G(Warp(x, O)) − Warp(G(x), O)‖₁ |\n|---|---:|\n" + "\n".join(rows)))

# %% [markdown]
# ## 5 · Sharing the normalisation statistics across a clip
#
# Every instance norm, AdaIN and layer norm of MUNIT's generator normalises each frame with **its own** mean and
# standard deviation. Two frames of a video differ a little (things move, enter, leave), so their statistics
# differ a little, and the whole output frame shifts in colour and contrast: flicker that the temporal loss cannot
# remove, since in training both frames of a pair are normalised on their own too. Following ReReVST's sequence-level
# sharing, `M.shared_statistics` switches every `SequenceNorm2d` of G to *record*: one pass over
# `shared_sample_frames` frames sampled evenly from the clip pools the statistics over all of them (std floored at
# `shared_min_std`, and the per-channel range of the normalised values kept); after `freeze()` every frame is
# normalised with those same numbers (clamped to that range). `MunitVideoPipeline.generate(..., shared_norm=True)`
# does this; `shared_norm=False` is plain MUNIT.
#
# The measure is the one the model card uses (`spec.evaluate`): the **warp error** of the output under the *input*
# video's DIS optical flow, $|{\rm Warp}(y_{t-1}, f_t) - y_t|$ over the pixels a forward-backward check finds visible,
# here per pair of frames. The input clip's own warp error is the floor. The clip is held out: no training source.
# Without shipped weights this uses the untrained G, so it shows what the normalisation alone does (on a slow pan the
# frames' statistics change little, and so does the output); the card of the shipped weights (section 7) measures
# both settings for a trained G on several held-out clips.

# %%
CLIP_SIZE, CLIP_FRAMES = (64, 6) if TINY else (128, 12)
videos = paintings.heldout_videos(2, CLIP_SIZE, CLIP_FRAMES, seed=SEED, shared_data=SHARED_DATA)
if SHIPPED:
    pipe = registry.load("munit_video", device=str(DEVICE))
    PIPE_NOTE = f"shipped weights ({pipe.card.get('train', {}).get('steps', '?')} training steps)"
else:
    pipe = spec.build_pipeline(cfg, nets["G"].state_dict(), DEVICE, {"model": "munit_video", "variant": "untrained"})
    PIPE_NOTE = f"the untrained G of section 3 (preset {PRESET!r}): what normalisation alone does"
print("Model:", PIPE_NOTE)


def translate_both(pipeline, clip, seed=SEED):
    # The clip translated photo2painting with per-frame and with shared statistics, the same style code for both.
    return {"per-frame statistics": pipeline.generate(clip, "photo2painting", seed=seed, shared_norm=False),
            "shared statistics": pipeline.generate(clip, "photo2painting", seed=seed, shared_norm=True)}


def flicker(clips):
    # Warp error per frame pair under the first clip's (the input's) DIS flow, over visible pixels.
    clip = next(iter(clips.values()))
    forward = flow_to_tensor(dis_flow_video(clip))                                  # (T-1, 2, H, W)
    backward = flow_to_tensor(dis_flow_video(clip[::-1].copy())).flip(0)
    visible = occlusion_mask(forward, backward)                                      # (T-1, 1, H, W)
    curves = {name: [warp_error(frames_to_tensor(frames[t - 1:t + 1]), forward[t - 1:t][None], visible[t - 1:t][None])
                     for t in range(1, len(frames))] for name, frames in clips.items()}
    whole = {name: warp_error(frames_to_tensor(frames), forward[None], visible[None]) for name, frames in clips.items()}
    return curves, whole


clip_name, clip = videos[0]
t0 = time.perf_counter()
outputs = {"input": clip, **translate_both(pipe, clip)}
curves, whole = flicker(outputs)
print(f"{clip_name}: {len(clip)} frames of {CLIP_SIZE}x{CLIP_SIZE}, translated twice and measured in "
      f"{time.perf_counter() - t0:.1f} s")
shown = np.linspace(0, len(clip) - 1, min(6, len(clip))).round().astype(int)
show_grid([[frames[t] for t in shown] for frames in outputs.values()], row_titles=list(outputs),
          col_titles=[f"frame {t}" for t in shown], size=1.7)

# %%
fig = go.Figure()
for name, values in curves.items():
    fig.add_trace(go.Scatter(x=list(range(1, len(clip))), y=values, mode="lines+markers",
                             name=f"{name} (clip: {whole[name]:.4f})", line={"dash": "dot"} if name == "input" else {}))
fig.update_layout(title=f"Flicker per frame pair: warp error under the input's DIS flow ({PIPE_NOTE})",
                  xaxis_title="frame t (pair t-1 -> t)", yaxis_title="mean |Warp(y_(t-1), f_t) - y_t|", height=380,
                  template="plotly_white")
fig.show()
ratio = whole["shared statistics"] / whole["per-frame statistics"]
print(f"whole clip: per-frame {whole['per-frame statistics']:.4f}, shared {whole['shared statistics']:.4f} "
      f"(ratio {ratio:.2f}); input floor {whole['input']:.4f}")

# %% [markdown]
# ## 6 · A short training run
#
# `GANTrainer` is the project's one GAN loop: per step the G phase, then the D phase, each with its own Adam
# optimizer and only its own networks trainable, then an update of the EMA copy of G (the one that is shipped).
# The shipped weights are trained by the same code (`python -m train.train munit_video --preset demo ...`: plain
# MUNIT for 3000 steps, then 500 steps with each λ_t; the exact commands are in `weights/munit_video/README.md` and
# on each card). This run is far shorter: the reconstruction terms (weight 10) fall first; the translations stay far
# from paintings.

# %%
run_dir = Path(tempfile.mkdtemp(prefix="vsl_nb03_"))
train_phases, ema_nets = spec.build_objective(cfg)
torch.manual_seed(train_cfg.seed)
train_nets = spec.build_nets(cfg)
trainer = GANTrainer(train_nets, train_phases, ema_nets, data, train_cfg, run_dir, to_dict(cfg), "munit_video",
                     device=DEVICE)
t0 = time.perf_counter()
log_rows = trainer.fit(TRAIN_STEPS, progress=False)
print(f"{TRAIN_STEPS} steps in {time.perf_counter() - t0:.1f} s; logs in {run_dir}")
plot_losses(log_rows, ("G/total", "D/total", "G/image", "G/cycle", "G/temporal", "G/adv_a", "G/adv_b")).show()

# %% [markdown]
# ## 7 · The shipped weights
#
# `weights/munit_video/demo.safetensors` holds G (both domains' encoders and decoders, EMA), with a model card whose
# metrics `spec.evaluate` measured on held-out clips at export: the warp error with shared and with per-frame
# statistics (the input's own is the floor), and a Fréchet distance to held-out paintings on EfficientNet-Lite0
# features (a stand-in for FID, not comparable to published numbers). When the file is there (and not in tiny mode),
# this section translates a second held-out clip with it; otherwise the rest of the notebook uses the G just trained.

# %%
if SHIPPED:
    final = registry.load("munit_video", device=str(DEVICE))
    FINAL_NOTE = f"shipped weights ({final.card.get('train', {}).get('steps', '?')} training steps)"
    metrics = final.card.get("metrics", {})
    display(Markdown("| card metric | value |\n|---|---:|\n" + "\n".join(
        f"| {k} | {v} |" for k, v in metrics.items() if k != "protocol")))
    print(metrics.get("protocol", ""))
else:
    final = spec.build_pipeline(cfg, trainer.ema["G"].state_dict(), DEVICE, {"model": "munit_video",
                                                                               "variant": "notebook"})
    FINAL_NOTE = f"the G (EMA) trained in this notebook ({TRAIN_STEPS} steps, preset {PRESET!r})"
    display(Markdown(
        "**No `munit_video` weights are shipped yet**" + (" (and tiny mode never loads them)" if TINY else "") +
        ". Train and export them with\n\n"
        "    python -m train.train munit_video --preset demo\n"
        "    python -m train.export runs/munit_video-demo\n\n"
        "(`weights/munit_video/demo.safetensors` and its card `demo.json`). Until then: " + FINAL_NOTE + "."))
print("Model:", FINAL_NOTE)
clip_name, clip = videos[-1]
t0 = time.perf_counter()
result = {"input": clip, **translate_both(final, clip)}
curves, whole = flicker(result)
print(f"{clip_name}: {len(clip)} frames in {time.perf_counter() - t0:.1f} s; warp error per-frame "
      f"{whole['per-frame statistics']:.4f}, shared {whole['shared statistics']:.4f}, input {whole['input']:.4f}")
show_grid([[frames[t] for t in shown] for frames in result.values()], row_titles=list(result),
          col_titles=[f"frame {t}" for t in shown], size=1.7)

# %% [markdown]
# ## 8 · Frame by frame
#
# Drag the slider (the widget needs a live kernel): input | per-frame statistics | shared statistics. Flicker shows as
# colour and contrast jumping between neighbouring frames in the middle panel.

# %%
triples = [np.concatenate([result[k][t] for k in ("input", "per-frame statistics", "shared statistics")], axis=1)
           for t in range(len(clip))]
pngs = [png(t) for t in triples]
scrub = widgets.IntSlider(value=0, min=0, max=len(clip) - 1, description="frame")
view = widgets.Image(value=pngs[0], format="png", width=min(3 * CLIP_SIZE * 2, 900))
scrub.observe(lambda change: setattr(view, "value", pngs[change["new"]]), names="value")
display(widgets.VBox([scrub, view]))
print("Model:", FINAL_NOTE)

# %% [markdown]
# ## Where next
#
# * Train: `python -m train.train munit_video --preset demo` (`--preset paper` is MUNIT's published setting at 256 px;
#   the override `lambda_temporal=0` gives plain MUNIT), then `python -m train.export runs/munit_video-demo`: the card
#   records the warp errors and the Fréchet distance measured on held-out clips.
# * Your own unpaired data: the override `data_root=DIR`, with `DIR/trainA/*.jpg` (photos) and `DIR/trainB/*.jpg`
#   (paintings).
# * Read `demo_lib/models/munit_video.py` top to bottom: everything shown here is defined there.

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
# # 01 · Time-lapse from a single outdoor image
#
# **Paper:** Nam, Ma, Chai, Brendel, Xu, Kim, *End-to-End Time-Lapse Video Synthesis from a Single Outdoor Image*, CVPR 2019
# ([arXiv 1904.00680](https://arxiv.org/abs/1904.00680)).
#
# Given one photo of an outdoor place, the generator $G_B$ paints the same place at any requested hours
# $t_1..t_N$ of the day. All $N$ frames share one latent $z$ (the day's weather and mood), and the hour enters as
# $(\cos 2\pi t/24, \sin 2\pi t/24)$. Training mixes two imperfect domains: **A**, webcam archives (AMOS) that have
# timestamps but are noisy, and **B**, clean time-lapse videos (TLVDB) that have no timestamps. A mapper $G_A$ carries
# $G_B$'s clean frames into the webcam domain, where a *conditional set discriminator* checks that every frame looks
# like its stamped hour; at inference only $G_B$ is used, followed by *guided upsampling* onto the full-resolution photo.
#
# **This notebook** walks through the data of both domains, the networks, every loss term on one real batch
# (computed by the library's own objective), a short training run, guided upsampling, an interactive day slider and
# the timestamp-error evaluation. All the model and loss code lives in `demo_lib/models/timelapse.py`; the notebook
# only orchestrates it.
#
# Set `VSL_NOTEBOOK_TINY=1` for a smoke-test run (tiny preset, a handful of steps, well under a minute on a CPU);
# otherwise it uses the `demo` preset and trains for a few minutes (`VSL_NOTEBOOK_STEPS` changes the step count).

# %%
import os
import sys
import tempfile
import time
from pathlib import Path

# The notebook runs from notebooks/; the repository root (the folder holding demo_lib/) goes on sys.path.
ROOT = next(p for p in [Path.cwd().resolve(), *Path.cwd().resolve().parents] if (p / "demo_lib").is_dir())
sys.path.insert(0, str(ROOT))

import dataclasses

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from PIL import Image
from torch.utils.data import default_collate

from demo_lib import registry
from demo_lib.config import to_dict
from demo_lib.data import timelapse_data as tld
from demo_lib.data.outdoor import OutdoorScene, Weather, sample_layout, scene_seeds
from demo_lib.device import best_device
from demo_lib.models import timelapse as tl
from demo_lib.trainer import GANTrainer, StepState
from demo_lib.video import fold_time, resize_image, tensor_to_frames, tensor_to_image

from _display import loss_table, plot_losses, png, show_grid, show_row  # notebooks/_display.py: figure helpers shared by the notebooks

TINY = os.environ.get("VSL_NOTEBOOK_TINY") == "1"
DEVICE = best_device()                      # CUDA > MPS > CPU
torch.set_num_threads(min(4, os.cpu_count() or 1))
torch.manual_seed(0)

PRESET = "tiny" if TINY else "demo"
TRAIN_STEPS = int(os.environ.get("VSL_NOTEBOOK_STEPS", 6 if TINY else 60))
print(f"device={DEVICE}  TINY={TINY}  preset={PRESET}  training steps={TRAIN_STEPS}")


# %%
def hhmm(hour: float) -> str:
    hour = float(hour) % 24.0
    return f"{int(hour):02d}:{int(round((hour % 1) * 60)) % 60:02d}"


# %% [markdown]
# ## 2 · The data
#
# Neither AMOS nor TLVDB can be downloaded here, so `demo_lib/data/outdoor.py` builds the world they photograph: a
# seeded landscape (sky, hills, water, town, trees) that renders at any hour and weather, deterministically. The sun
# crosses from left (morning) to right (evening), dawn glows pink, dusk orange, night is navy with stars and lit
# windows. Because a scene can be re-rendered at any hour, generated frames can later be *dated against the truth*.
#
# One scene across the day:

# %%
SCENE_SEED = next(s for s in scene_seeds("example", 200)
                  if sample_layout(s).features["town"] and sample_layout(s).features["water"])
scene = OutdoorScene(SCENE_SEED, (96, 128))
print("scene", SCENE_SEED, sample_layout(SCENE_SEED).features,
      f"sunrise {scene.sunrise:.1f} h, sunset {scene.sunset:.1f} h")
day_hours = list(range(0, 24, 2))
renders = [scene.render(h) for h in day_hours]
show_grid([renders[:6], renders[6:]], col_titles=None, size=2.0)
print("hours, row by row:", [hhmm(h) for h in day_hours])

# %% [markdown]
# **Weather** is what the shared latent $z$ is meant to capture. `Weather(cloud_cover, haze, cloud_phase)`: cloud
# cover is the fraction of sky under cloud (overcast also turns direct sunlight into diffuse light), haze lowers
# contrast with depth and greys the sky. Same scene, 10:00:

# %%
covers, hazes = [0.0, 0.4, 0.8, 1.0], [0.0, 0.6]
show_grid([[scene.render(10.0, Weather(cloud_cover=c, haze=h)) for c in covers] for h in hazes],
          row_titles=[f"haze {h}" for h in hazes], col_titles=[f"cloud_cover {c}" for c in covers], size=2.2)

# %% [markdown]
# **Domain A (AMOS-like).** Many static webcams, frames *with timestamps*, low quality. `AmosLikeDataset` gives, per
# item, a clean `source` photo of one camera (the generator's input) and a `target` set of $N$ webcam frames of the
# same camera at random hours, with the stamps in `times`. The stamps are what the conditional set discriminator
# learns "what each hour looks like" from.

# %%
amos = tld.AmosLikeDataset(num_cameras=50, size=64, frames=6, seed=0)
for i in range(2):
    item = amos[i]
    order = torch.argsort(item["times"])               # sorted by hour only for display: the set has no order
    frames = tensor_to_frames(item["target"][:, order])
    show_row([tensor_to_image(item["source"]), *frames],
             [f"source {hhmm(item['source_hour'])}"] + [f"stamp {hhmm(t)}" for t in item["times"][order]],
             size=1.7)

# %% [markdown]
# The webcam defects (`webcam_defects`): sometimes a passer-by (a dark blob on the ground), camera jitter, sensor
# noise, JPEG at quality 30-90, and ~3% broken frames (black, a dropped colour channel, a band of garbage rows). Below:
# a clean render, four random defect draws, and a broken frame (found by trying seeds). The real-data loader
# `AmosFolderDataset` reads `root/<camera>/<YYYYMMDD_HHMMSS>.jpg` for users who have AMOS.

# %%
clean = OutdoorScene(SCENE_SEED, (64, 64)).render(15.0, Weather(cloud_cover=0.3))
draws = [tld.webcam_defects(clean, np.random.default_rng(k)) for k in range(100)]
is_broken = [np.abs(d.astype(float) - clean).mean() > 40 for d in draws]   # far from the clean render
broken = next(d for d, b in zip(draws, is_broken) if b)
draws = [d for d, b in zip(draws, is_broken) if not b][:4]
show_row([clean, *draws, broken], ["clean render", "webcam 1", "webcam 2", "webcam 3", "webcam 4", "broken frame"],
         size=1.9)

# %% [markdown]
# **Domain B (TLVDB-like).** Continuous, clean time-lapse clips *without timestamps*: `ProceduralClipDataset` renders
# a contiguous span of hours (0.5-2 h between frames) with clouds drifting. Only the unconditional discriminator $D_B$
# sees this domain, so it teaches $G_B$ what a clean frame looks like, not which hour it is.

# %%
clips = tld.ProceduralClipDataset(num_scenes=20, size=64, frames=6, seed=0)
for i in range(2):
    show_row(list(tensor_to_frames(clips[i]["clip"])), [f"frame {k}" for k in range(6)], size=1.7)

# %% [markdown]
# **Optional: real sky time-lapse clips.** If the 40 real sky clips (128×128, 32 frames, no timestamps) are present
# (`$VSL_SKY_TIMELAPSE` or `../shared/data/sky_timelapse`), `build_training_data` adds them to domain B with a minority
# weight. Nothing in this notebook needs them.

# %%
sky_root = tld.default_sky_timelapse_root()
if sky_root is None:
    print("No real sky time-lapse clips found: domain B is procedural only (that is fine).")
else:
    sky = tld.ClipFolderDataset(sky_root, size=128, frames=6, seed=0)
    print(f"{len(sky.clips)} real sky clips in {sky_root}")
    show_row(list(tensor_to_frames(sky[3]["clip"])), [f"frame {k}" for k in range(6)], size=1.9)

# %% [markdown]
# ## 3 · The model
#
# The registry holds the presets: `tiny` (tests), `demo` (the shipped weights) and `paper` (the published setting:
# 128 px, 8 frames per set, adversarial + reconstruction losses only). `spec.build_nets` builds every network that is
# trained; inference later needs only `G_B`.

# %%
spec = registry.get("timelapse")
cfg, train_cfg = spec.preset(PRESET, [f"steps={TRAIN_STEPS}", "ckpt_every=0", f"log_every={1 if TINY else 5}"])
nets = spec.build_nets(cfg).to(DEVICE)

roles = {"G_B": "generator: (photo, hours, z) -> N frames (used at inference)",
         "G_A": "domain mapper: G_B's clean frames -> webcam domain A",
         "D_B": "unconditional PatchGAN, domain B (real clips vs G_B)",
         "D_A": "unconditional PatchGAN, domain A (real webcam vs G_A(G_B))",
         "D_A_set": "conditional set discriminator on {(frame, hour)}, domain A"}
rows = [f"| `{n}` | `{type(m).__name__}` | {sum(p.numel() for p in m.parameters()):,} | {roles[n]} |"
        for n, m in nets.items()]
display(Markdown("| net | class | parameters | role |\n|---|---|---:|---|\n" + "\n".join(rows)))
print(f"preset {PRESET!r}: image_size={cfg.image_size}, frames N={cfg.frames}, z_dim={cfg.z_dim}, "
      f"gan_loss={cfg.gan_loss}, batch_size={train_cfg.batch_size}")

# %% [markdown]
# **The time encoding.** The hour enters as a point on a circle, $(\cos 2\pi t/24, \sin 2\pi t/24)$
# (`tl.time_features`), so 23:59 sits next to 00:00 and the network never sees a jump at midnight.

# %%
hours = torch.linspace(0, 24, 241)
feats = tl.time_features(hours)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3), gridspec_kw={"width_ratios": [2, 1]})
ax1.plot(hours, feats[:, 0], label="cos 2πt/24")
ax1.plot(hours, feats[:, 1], label="sin 2πt/24")
ax1.set_xlabel("hour of day"), ax1.set_xticks(range(0, 25, 3)), ax1.legend(), ax1.grid(alpha=0.3)
ax2.scatter(feats[:, 0], feats[:, 1], c=hours, cmap="twilight", s=6)
for h in (0, 6, 12, 18):
    x, y = tl.time_features(torch.tensor(float(h))).tolist()
    ax2.annotate(hhmm(h), (x, y), fontsize=8)
ax2.set_aspect("equal"), ax2.set_title("the hour on a circle", fontsize=9)
plt.tight_layout()
plt.show()
print("distance 23:59 <-> 00:00 in feature space:",
      float((tl.time_features(torch.tensor(23.99)) - tl.time_features(torch.tensor(0.0))).norm()))

# %% [markdown]
# **One $z$ for all frames.** `G_B(image, times (B, N), z (B, z_dim))` encodes the photo once and decodes each frame
# from $[E(I), t_n, z]$ tiled over space; $z$ is repeated, not redrawn, per frame. So two frames asked for the *same*
# hour in one call are identical (there is no per-frame noise), and a new $z$ changes *every* frame of the set at once.

# %%
data = tld.build_training_data(cfg.image_size, cfg.frames, train_cfg.seed, train_cfg.data_root,
                               num_cameras=40 if TINY else 400, num_clip_scenes=20 if TINY else 100)
print("training data:", data.describe())
batch = {k: v.to(DEVICE) for k, v in default_collate([data[i] for i in range(train_cfg.batch_size)]).items()}
print({k: tuple(v.shape) for k, v in batch.items()})

G_B = nets["G_B"]
times = torch.tensor([[9.0, 9.0, 21.0]], device=DEVICE)            # frames 0 and 1 at the same hour
z1, z2 = torch.randn(2, 1, cfg.z_dim, device=DEVICE)
with torch.no_grad():
    out1 = G_B(batch["source"][:1], times, z1)                      # (1, 3, N=3, H, W)
    out2 = G_B(batch["source"][:1], times, z2)
print("frames (B, C, N, H, W):", tuple(out1.shape))
print(f"same z, same hour  (09:00 vs 09:00): mean |diff| = {(out1[:, :, 0] - out1[:, :, 1]).abs().mean():.2e}")
print(f"same z, other hour (09:00 vs 21:00): mean |diff| = {(out1[:, :, 0] - out1[:, :, 2]).abs().mean():.2e}")
print(f"new z, per frame: mean |diff| = {[round(float((out1 - out2)[:, :, n].abs().mean()), 5) for n in range(3)]}")

# %% [markdown]
# ## 4 · Every loss term, on one real batch
#
# `TimelapseObjective.phases()` lists the phases in the paper's update order: **D** (updates $D_A$, $D_B$ and the set
# discriminator), then **G_A**, then **G_B**. Each phase is a function `loss(nets, batch, state) -> (total, logs)`;
# `state` (a `StepState`) holds what the step's phases share, made once by whichever phase asks first: here the D
# phase asks for `objective.sample` (it draws $z$ and generates the fakes without gradients), and the G_A and G_B
# phases reuse that sample. Below we call those functions on the batch above, exactly as the trainer
# does, with untrained networks, and show each term. GAN loss: LSGAN (`cfg.gan_loss`), so $D$'s real term is
# $(D(x)-1)^2$ and its fake term $D(G)^2$.

# %%
objective = tl.TimelapseObjective(cfg)
phases = objective.phases()
for p in phases:
    print(f"phase {p.name:4s} updates {p.nets}{'  (lr_d)' if p.discriminator else ''}")

torch.manual_seed(0)
state = StepState(step=0)
with torch.no_grad():                         # values only; the trainer runs the same calls with gradients
    results = {p.name: p.loss(nets, batch, state) for p in phases}
logs = {f"{name}/{k}": float(v) for name, (total, terms) in results.items() for k, v in terms.items()}
logs.update({f"{name}/total": float(total) for name, (total, _) in results.items()})
print("the step's sample:", {k: tuple(v.shape) for k, v in state["sample"].items()})

# %%
explain = {
    "D/adv_b": ("λ_adv_b", "D_B: real domain-B clip frames -> 1, G_B frames -> 0 (per frame, per patch)"),
    "D/adv_a": ("λ_adv_a", "D_A: real webcam frames -> 1, G_A(G_B) frames -> 0"),
    "D/set_real": ("λ_cond", "set D: real webcam set with its TRUE stamps -> real"),
    "D/set_fake": ("λ_cond/2", "set D: generated set G_A(G_B) with the requested stamps -> fake"),
    "D/set_mismatch": ("λ_cond/2", "set D: real webcam set with MISMATCHED stamps -> fake (teaches the hour)"),
    "G_A/adv_a": ("λ_adv_a", "G_A fools D_A: its webcam-style frames should pass as real webcam frames"),
    "G_A/cond": ("λ_cond", "G_A fools the set D with the requested stamps"),
    "G_A/rec": ("λ_rec", "L1 between G_A(G_B) and G_B: the mapping may add the webcam look, not change the hour"),
    "G_B/adv_b": ("λ_adv_b", "G_B fools D_B: frames look like clean time-lapse frames"),
    "G_B/adv_a": ("λ_adv_a", "through G_A, G_B's frames pass D_A"),
    "G_B/cond": ("λ_cond", "through G_A, each frame must look like its requested hour (the set D)"),
    "G_B/rec": ("λ_rec", "the same reconstruction term, now training G_B"),
    "G_B/anchor": ("λ_anchor", "OURS: pooled L1 to the same camera's webcam frames at those hours (0 in `paper`)"),
    "G_B/div": ("λ_div", "OURS: mode seeking, rewards frames that move with z (0 in `paper`)"),
}
weights = {"λ_adv_b": cfg.lambda_adv_b, "λ_adv_a": cfg.lambda_adv_a, "λ_cond": cfg.lambda_cond,
           "λ_cond/2": cfg.lambda_cond / 2, "λ_rec": cfg.lambda_rec, "λ_anchor": cfg.lambda_anchor,
           "λ_div": cfg.lambda_div}
display(Markdown(loss_table(logs, explain, weights, phases=("D", "G_A", "G_B"))))

# %% [markdown]
# ### The unconditional discriminators $D_B$ and $D_A$
#
# Both are per-frame PatchGANs: every frame of a set is judged on its own, each output pixel scoring one patch.
# $D_B$ compares real domain-B clip frames with $G_B$'s frames (so $G_B$'s output looks like clean time-lapse);
# $D_A$ compares real webcam frames with $G_A(G_B(\cdot))$ (so $G_A$ learns the webcam look). Neither sees a timestamp.

# %%
fake_b, fake_a = state["sample"]["fake_b"], state["sample"]["fake_a"]
with torch.no_grad():
    patch_b = nets["D_B"](fold_time(batch["clip"]))[-1]
print("D_B patch logits for the real clip frames:", tuple(patch_b.shape), "(B*N frames, 1, patches, patches)")
show_grid([list(tensor_to_frames(batch["clip"][0])), list(tensor_to_frames(fake_b[0])),
           list(tensor_to_frames(batch["target"][0])), list(tensor_to_frames(fake_a[0]))],
          row_titles=["real B clip", "G_B (fake B)", "real A webcam", "G_A(G_B) (fake A)"], size=1.7)

# %% [markdown]
# ### The conditional set discriminator and its three kinds of sets
#
# `D_A_set` scores a whole *set* $\{(x_n, t_n)\}$: a shared CNN encodes each (frame, hour) pair, the encodings are
# **max-pooled over the frames**, and a head scores the set. It is trained on three kinds of sets:
# 1. real webcam frames with their **true** stamps → real;
# 2. generated frames $G_A(G_B(I, t, z))$ with the requested stamps → fake;
# 3. the same real frames with **mismatched** stamps → fake. This is what forces it to read the hour: real-looking
#    frames are not enough, they must match their stamps.
#
# `tl.mismatched_times` moves every stamp by at least `cfg.mismatch_min_hours` (4 h by default) around the 24 h
# circle:

# %%
torch.manual_seed(1)
true_t = batch["times"]
wrong_t = tl.mismatched_times(true_t, cfg.mismatch_min_hours)
b = 0
rows = ["| frame | true stamp | mismatched stamp | shift on the 24 h circle |", "|---|---|---|---:|"]
for n in range(cfg.frames):
    shift = tl.circular_hours(wrong_t[b, n].item(), true_t[b, n].item())
    rows.append(f"| {n} | {hhmm(true_t[b, n])} | {hhmm(wrong_t[b, n])} | {shift:.1f} h |")
display(Markdown("\n".join(rows)))

set_d = nets["D_A_set"]
with torch.no_grad():
    s_real = set_d(batch["target"], true_t)
    s_fake = set_d(fake_a, true_t)
    s_mismatch = set_d(batch["target"], wrong_t)
print("set logits (B, 1), one per set; untrained, so they are all near 0:")
print("  real + true stamps      ", s_real.flatten().cpu().numpy().round(4))
print("  generated               ", s_fake.flatten().cpu().numpy().round(4))
print("  real + mismatched stamps", s_mismatch.flatten().cpu().numpy().round(4))
frames_b = tensor_to_frames(batch["target"][b])
show_row(list(frames_b), [f"true {hhmm(t)}\nshown as {hhmm(w)}" for t, w in zip(true_t[b], wrong_t[b])], size=1.8)

# %% [markdown]
# **Permutation invariance, checked numerically.** Because the pair encodings are max-pooled over the frames, the
# score depends on the *set* of (frame, hour) pairs, not on their order. Shuffling frames *and* stamps together must
# leave the score unchanged; shuffling the stamps alone breaks the pairs and changes it.

# %%
perm = torch.roll(torch.arange(cfg.frames), 1)         # a non-identity permutation of the N frames
with torch.no_grad():
    s0 = set_d(batch["target"], true_t)
    s_both = set_d(batch["target"][:, :, perm], true_t[:, perm])
    s_stamps = set_d(batch["target"], true_t[:, perm])
d_both, d_stamps = (s_both - s0).abs().max().item(), (s_stamps - s0).abs().max().item()
print(f"permutation {perm.tolist()}")
print(f"shuffle frames + stamps together: max |score change| = {d_both:.2e}   (invariant)")
print(f"shuffle stamps only:              max |score change| = {d_stamps:.2e}   (pairs broken)")
assert d_both < 1e-5 and d_stamps > 10 * max(d_both, 1e-7)

# %% [markdown]
# ### Reconstruction, anchor and diversity
#
# * **Reconstruction** $\lambda_{rec}\,|G_A(G_B(\cdot)) - G_B(\cdot)|_1$ ties the two domains: $G_A$ may add the
#   webcam look but must not change what the hour looks like. $G_A$ starts as the identity (its last conv is
#   zero-initialised), so this term starts at ~0 and only grows if $G_A$ drifts.
# * **Anchor** and **diversity** are **this project's additions**, not the paper's: the anchor is an L1 between
#   $G_B$'s frames and the same camera's webcam frames at the requested hours after `anchor_pool`× average pooling
#   (colour layout only), which makes short CPU runs converge; diversity is a mode-seeking term (MSGAN) so $z$ is not
#   ignored. Both are 0 in the `paper` preset, and then the G_B phase logs neither:

# %%
rec_map = (fake_a - fake_b).abs().mean(dim=1)[0]       # (N, H, W), for display
print(f"G_A/rec = {logs['G_A/rec']:.2e}   (max per-pixel |G_A(G_B) - G_B| = {rec_map.max():.2e})")

paper_cfg, _ = spec.preset("paper")
print(f"paper preset: lambda_anchor={paper_cfg.lambda_anchor}, lambda_div={paper_cfg.lambda_div};   "
      f"{PRESET} preset: lambda_anchor={cfg.lambda_anchor}, lambda_div={cfg.lambda_div}")
paper_like = tl.TimelapseObjective(dataclasses.replace(cfg, lambda_anchor=0.0, lambda_div=0.0))
torch.manual_seed(0)
with torch.no_grad():
    st = StepState(step=0)
    paper_phases = paper_like.phases()
    paper_phases[0].loss(nets, batch, st)
    _, g_logs = paper_phases[2].loss(nets, batch, st)
print("G_B terms with the paper's weights:", sorted(g_logs))
print("G_B terms with this preset:        ",
      sorted(k.split("/")[1] for k in logs if k.startswith("G_B/") and k != "G_B/total"))

# %% [markdown]
# ## 5 · A short training run
#
# `GANTrainer` is the project's one GAN loop: per step it runs the phases in order (D, then G_A, then G_B), each with
# its own Adam optimizer and only its own networks trainable, then updates the EMA copies of $G_B$ and $G_A$. The run
# writes `config.json` and `log.jsonl` to a temporary folder. The shipped `demo` weights come from the same code with
# `python -m train.train timelapse --preset demo` (3000 steps). This run is far shorter: the losses start to move
# (the anchor term, which pulls each frame's coarse colours toward the webcam frame at that hour, falls first), but
# the frames will at best begin to show the global light of the day.

# %%
run_dir = Path(tempfile.mkdtemp(prefix="vsl_nb01_"))
train_phases, ema_nets = spec.build_objective(cfg)
torch.manual_seed(train_cfg.seed)
nets = spec.build_nets(cfg)                            # fresh networks for training
trainer = GANTrainer(nets, train_phases, ema_nets, data, train_cfg, run_dir, to_dict(cfg), "timelapse", device=DEVICE)

t0, last_print = time.perf_counter(), [0]


def on_log(step, row):                                 # called for every logged row; print about five of them
    if step - last_print[0] >= TRAIN_STEPS / 5 or step == TRAIN_STEPS:
        last_print[0] = step
        print(f"step {step:4d}  {time.perf_counter() - t0:6.1f} s  " +
              "  ".join(f"{k}={row[k]:.3f}" for k in ("D/total", "G_A/total", "G_B/total", "G_B/anchor") if k in row))


log_rows = trainer.fit(TRAIN_STEPS, progress=False, on_log=on_log)
print(f"{TRAIN_STEPS} steps in {time.perf_counter() - t0:.1f} s; logs in {run_dir}")

# %%
plot_losses(log_rows, ("D/total", "G_A/total", "G_B/total", "G_B/anchor")).show()

# %% [markdown]
# ## 6 · Guided upsampling
#
# From here on we use one inference pipeline: the shipped weights (`weights/timelapse/demo.safetensors`, via
# `registry.load`) when they exist, else the $G_B$ (EMA) just trained above. The cell says which.

# %%
if registry.weights_path("timelapse").is_file():
    pipe = registry.load("timelapse", device=str(DEVICE))
    MODEL_NOTE = (f"shipped weights {registry.weights_path('timelapse').name} "
                  f"({pipe.card.get('steps', '?')} training steps)")
else:
    pipe = spec.build_pipeline(cfg, trainer.ema["G_B"].state_dict(), DEVICE,
                               {"model": "timelapse", "variant": "notebook"})
    MODEL_NOTE = f"no shipped weights found: the G_B trained in this notebook ({TRAIN_STEPS} steps, preset {PRESET!r})"
print("Model:", MODEL_NOTE)

# %% [markdown]
# The generator runs at low resolution (`work_size`, the longest side; by default the resolution it was trained at, as
# the app does: run larger, a generator trained at 64 px draws the hour less faithfully and with more artefacts).
# Upsampling its output bilinearly gives a blurry picture. `tl.guided_upsample` instead fits, in every small window of the *low-resolution* input, a local affine
# colour model (output = A · input + b, a colour guided filter), upsamples the smooth coefficients A, b and applies them
# to the *full-resolution* photo: the output keeps the photo's detail and takes the generated colours. A real photo
# (scikit-image's `rocket`):

# %%
import skimage.data

photo = skimage.data.rocket()                                   # (427, 640, 3) uint8, a real photo
if TINY:
    photo = resize_image(photo, (214, 320))
H, W = photo.shape[:2]
WORK = 64                                                        # the generator's resolution (longest side)
low_hw = (round(H * WORK / max(H, W)), round(W * WORK / max(H, W)))
HOUR = 19.0
low_out = pipe.generate(resize_image(photo, low_hw), [HOUR], seed=0)[0]          # what G_B itself produces
bilinear = pipe.generate(photo, [HOUR], seed=0, guided=False, work_size=WORK)[0]
guided = pipe.generate(photo, [HOUR], seed=0, guided=True, work_size=WORK)[0]
print(f"photo {W}x{H}, generator at {low_hw[1]}x{low_hw[0]}, hour {hhmm(HOUR)}")

low_big = np.asarray(Image.fromarray(low_out).resize((W, H), Image.NEAREST))      # to compare crops pixel for pixel
show_row([photo, low_big, bilinear, guided], ["input photo", f"G_B output ({low_hw[1]}x{low_hw[0]})",
                                               "bilinear upsampling", "guided upsampling"], size=3.2)
y0, x0, s = int(0.25 * H), int(0.42 * W), int(0.35 * H)         # a crop around the rocket
show_row([im[y0:y0 + s, x0:x0 + s] for im in (photo, low_big, bilinear, guided)],
         ["crop: input", "crop: low-res output", "crop: bilinear", "crop: guided"], size=3.2)

# %% [markdown]
# ## 7 · A day from one photo
#
# 24 frames, one per hour, for the real photo, all with the same $z$ (seed 0). Move the slider (the widget needs a
# live kernel); the filmstrip below shows the same frames statically.

# %%
print("Model:", MODEL_NOTE)
day = np.arange(24, dtype=float)
t0 = time.perf_counter()
frames = pipe.generate(photo, day.tolist(), seed=0)            # G_B at its training resolution
print(f"24 frames of {frames.shape[2]}x{frames.shape[1]} in {time.perf_counter() - t0:.1f} s")


pngs = [png(f) for f in frames]
slider = widgets.IntSlider(value=12, min=0, max=23, step=1, description="hour")
label = widgets.Label(value=hhmm(12))
view = widgets.Image(value=pngs[12], format="png", width=min(W, 480))


def on_hour(change):
    view.value = pngs[change["new"]]
    label.value = hhmm(change["new"])


slider.observe(on_hour, names="value")
display(widgets.VBox([widgets.HBox([slider, label]), view]))

# %%
strip = list(range(0, 24, 2))
show_grid([[frames[h] for h in strip[:6]], [frames[h] for h in strip[6:]]], size=2.4)
print("hours, row by row:", [hhmm(h) for h in strip])

# %% [markdown]
# **Resampling $z$.** A new seed draws a new $z$ shared by the new day's frames: same photo, same hours, a different
# weather and colour mood. (With the short training runs here, and even in the shipped `demo` model, $z$ varies the
# weather only mildly; the model card says so.)

# %%
z_hours = [7.0, 12.0, 17.5, 21.0]
seeds = [0, 1, 2]
small = resize_image(photo, (H // 2, W // 2))
rows_z = [list(pipe.generate(small, z_hours, seed=s)) for s in seeds]
show_grid(rows_z, row_titles=[f"seed {s}" for s in seeds], col_titles=[hhmm(h) for h in z_hours], size=2.4)

# %% [markdown]
# ## 8 · Timestamp error on held-out scenes
#
# **Protocol** (`spec.evaluate`, the same code that writes the model card's metrics): each held-out procedural scene
# (never used in training) is photographed at a random hour and given to the model, which is asked for hours
# 0, 2, ..., 22. Each generated frame is then dated *independently of any model* by `tl.HourEstimator`: the hour of the
# nearest of the scene's own ground-truth renders (every 15 min, in 9 weathers, compared as 8×8 log-intensity
# thumbnails). Some hours look exactly the same even in the ground truth (a place without lit windows is the same
# picture all night), so a frame counts as right when the hour asked for is among the hours its nearest render looks
# like. The score is the mean circular error in hours (0 is perfect; a uniform random guess gives 6 h).
#
# Read it next to two references: **ground truth in random weather** is the estimator's own floor (weather can look
# like a different hour), and the **time-blind** models (the photo
# unchanged, or the model asked for noon every time) show what ignoring time scores.

# %%
N_SCENES, EVAL_SIZE = (2, 64) if TINY else (10, 128)
t0 = time.perf_counter()
metrics = spec.evaluate(pipe, N_SCENES)
print(f"evaluated {N_SCENES} held-out scenes in {time.perf_counter() - t0:.1f} s; model: {MODEL_NOTE}")
rows = [(k.removesuffix("_hours").replace("_", " "), v, metrics["standard_errors"][k])
        for k, v in metrics.items() if k.endswith("_hours")]
display(Markdown("| | mean error (h) | standard error over scenes (h) |\n|---|---:|---:|\n"
                 + "\n".join(f"| {k} | {v:.2f} | {se:.2f} |" for k, v, se in rows)))
if TINY and not registry.weights_path("timelapse").is_file():
    print("(tiny mode, a few training steps: these numbers only show that the evaluation runs)")
scenes = tld.heldout_scenes(N_SCENES, (EVAL_SIZE, EVAL_SIZE))

# %%
sc = scenes[0]
rng = np.random.default_rng(0)                      # the same draw timestamp_error made for scene 0
photo0 = sc.render(float(rng.uniform(0, 24)))
eval_hours = [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]
show_grid([[photo0] + [sc.render(h) for h in eval_hours],
           [photo0] + list(pipe.generate(photo0, eval_hours, seed=0, guided=False))],
          row_titles=["ground truth", "generated"], col_titles=["input"] + [hhmm(h) for h in eval_hours], size=1.9)

# %% [markdown]
# ## Where next
#
# * Train the real thing: `python -m train.train timelapse --preset demo` (add `--key=value` overrides; `torchrun`
#   for several GPUs), then `python -m train.export` to write `weights/timelapse/demo.safetensors` with its card.
# * Try it interactively: `python app.py`, tab *Time-lapse from one photo*.
# * Read `demo_lib/models/timelapse.py` top to bottom: everything shown here is defined there.

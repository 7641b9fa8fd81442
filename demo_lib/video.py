"""Video conventions and file I/O: the one place where uint8 frames become tensors and back.

Inside models, images are float tensors (B, C, H, W) and videos (B, C, T, H, W) in [-1, 1]. At the edges (the app,
files, the public `generate()` functions) frames are uint8 arrays (T, H, W, 3) in RGB. Every conversion between
the two lives here, as does reading and writing MP4 (PyAV, bundled FFmpeg with libx264) and GIF (Pillow).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse absurd inputs before decoding them (a decompression bomb or a 100-megapixel photo would stall the CPU).
MAX_IMAGE_PIXELS = 40_000_000
MAX_VIDEO_FRAMES = 2_000


class MediaError(ValueError):
    """A file or array that cannot be used as an image or a video; the message is meant for the user."""


# ---------------------------------------------------------------------------------------------------------------
# uint8 <-> tensors


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [-1, 1]."""
    # numpy does the layout change and scaling: for small arrays it is several times faster than torch ops on a
    # permuted view (this runs for every training item).
    return torch.from_numpy(np.transpose(image, (2, 0, 1)).astype(np.float32) / 127.5 - 1.0)[None]


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) or (3, H, W) in [-1, 1] -> uint8 (H, W, 3)."""
    return to_uint8(x[0] if x.dim() == 4 else x, channel_dim=0)


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (1, 3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(np.transpose(frames, (3, 0, 1, 2)).astype(np.float32) / 127.5 - 1.0)[None]


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """float (1, 3, T, H, W) or (3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3)."""
    return to_uint8(x[0] if x.dim() == 5 else x, channel_dim=0)


def to_uint8(x: torch.Tensor, channel_dim: int, out: np.ndarray | None = None,
             overwrite_input: bool = False) -> np.ndarray:
    """float in [-1, 1] -> uint8 in [0, 255] with the channel axis moved last, written into `out` when given.

    Few passes over the data and at most one allocation: a full-resolution day cycle is ~50 M values, and a chain
    of clamp/add/mul/round/byte, each allocating, costs several times more. `overwrite_input` (x is a float32
    scratch tensor of the caller's) saves even that allocation.
    """
    y = x.detach().float()
    y = y.mul_(127.5) if overwrite_input else y.mul(127.5)
    y = y.add_(128.0).clamp_(0.0, 255.0)                                  # the cast truncates: +0.5 makes it round
    y = y.movedim(channel_dim, -1)
    if y.device.type != "cpu":
        y = y.to(torch.uint8).cpu()                                        # cast on the device, move a quarter
    if out is None:
        return y.to(torch.uint8).numpy()
    torch.from_numpy(out).copy_(y)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Videos as batches of frames, for per-frame networks


def fold_time(video: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, H, W): frame t of clip b at index b*T + t (clip-major). Values, dtype and device
    are unchanged; the result is a copy unless the layout allows a view."""
    return video.transpose(1, 2).flatten(0, 1)


def unfold_time(frames: torch.Tensor, batch: int) -> torch.Tensor:
    """(B*T, C, H, W) with B = `batch` -> (B, C, T, H, W): the inverse of `fold_time` (a view, not a copy)."""
    return frames.unflatten(0, (batch, -1)).transpose(1, 2)


# ---------------------------------------------------------------------------------------------------------------
# Validation of user input: every path from the outside world goes through one of these.


# Pictures are converted in strips of about this many pixels: a 40-megapixel RGBA upload then costs its decoded
# copy and the uint8 result, not gigabytes of full-size float32 temporaries (issue 28 measured 1.7 GB).
_STRIP_PIXELS = 1 << 18
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """uint8 (..., 4) -> uint8 (..., 3): alpha over white, rounded, in integers.

    (rgb * a + 255 * (255 - a)) / 255 needs at most 255 * 255 + 127 < 2**16, so uint16 holds it exactly; the
    result is the float formula's, rounded (x / 255 is never exactly halfway for an integer x).
    """
    alpha = rgba[..., 3:4].astype(np.uint16)
    blended = rgba[..., :3] * alpha                                       # in place from here: few temporaries
    blended += 255 * (255 - alpha)
    blended += 127
    blended //= 255
    return blended.astype(np.uint8)


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """Integers in [0, 65535] -> uint8, 65535 -> 255 (rounded), as a 16-bit PNG or TIFF is meant to be shown."""
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _pil_to_rgb_uint8(image: Image.Image, what: str) -> np.ndarray:
    """A Pillow image of any mode -> uint8 RGB (H, W, 3), converted strip by strip (see _STRIP_PIXELS).

    Alpha (RGBA, LA, PA, palette transparency) is composited on white. 16-bit greyscale (I;16*) is scaled to
    8 bits: Pillow's own convert() clips it, so a 16-bit PNG came out white. Mode I has no bit depth of its own
    (Pillow uses it for 16-bit data from some writers, and for 32-bit integers): values up to 255 are taken as
    8-bit, up to 65535 as 16-bit, anything else is refused. Mode F (floats) follows as_rgb_uint8's rule for
    float arrays: [0, 1] is scaled to 255, otherwise values are clipped to [0, 255].
    """
    mode = image.mode
    to_rgb: Callable[[Image.Image], np.ndarray]
    if mode == "RGB":
        def to_rgb(strip):
            return np.asarray(strip)
    elif mode == "L":
        def to_rgb(strip):
            return np.repeat(np.asarray(strip)[..., None], 3, axis=-1)
    elif mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and image.has_transparency_data):
        def to_rgb(strip):
            return _composite_on_white(np.asarray(strip.convert("RGBA")))
    elif mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        low, high = image.getextrema()
        if mode == "I" and (low < 0 or high > 65535):
            raise MediaError(f"The {what} has 32-bit pixel values ({low} to {high}); save it as an 8- or 16-bit "
                             f"picture.")
        if mode == "F" and not (np.isfinite(low) and np.isfinite(high)):
            raise MediaError(f"The {what} has non-numeric or non-finite pixel values.")

        def to_gray(strip: Image.Image) -> np.ndarray:
            values = np.asarray(strip)
            if mode == "F":
                return np.clip(values * 255.0 if high <= 1.0 else values, 0, 255).round().astype(np.uint8)
            return _sixteen_to_eight(values) if mode != "I" or high > 255 else values.astype(np.uint8)

        def to_rgb(strip):
            return np.repeat(to_gray(strip)[..., None], 3, axis=-1)
    else:  # 1, P without transparency, CMYK, YCbCr, LAB, HSV: Pillow's own conversion is exact enough
        def to_rgb(strip):
            return np.asarray(strip.convert("RGB"))
    w, h = image.size
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, _STRIP_PIXELS // max(w, 1))
    for y0 in range(0, h, rows):
        out[y0:y0 + rows] = to_rgb(image.crop((0, y0, w, min(h, y0 + rows))))
    return out


def _check_size(h: int, w: int, min_side: int, what: str) -> None:
    """MediaError if a picture of h x w pixels is under `min_side` per side or over MAX_IMAGE_PIXELS."""
    if min(h, w) < min_side:
        raise MediaError(f"The {what} is too small ({w}x{h} pixels); it needs at least {min_side} pixels per side.")
    if h * w > MAX_IMAGE_PIXELS:
        raise MediaError(
            f"The {what} is too large ({w}x{h} = {h * w / 1e6:.0f} megapixels); the limit is "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels. Please downscale it first."
        )


def as_rgb_uint8(image: np.ndarray | Image.Image, min_side: int = 8, what: str = "image") -> np.ndarray:
    """Coerce a user image to uint8 RGB (H, W, 3), or raise MediaError with a readable reason.

    Grayscale is expanded to 3 channels and alpha is composited on white, since both are common and harmless;
    16-bit values (uint16 arrays, 16-bit Pillow modes) are scaled to 8 bits; tiny, empty, huge or non-numeric
    inputs are refused. A Pillow image is checked for size before it is converted, and converted in strips.
    """
    if isinstance(image, Image.Image):
        w, h = image.size
        if w * h == 0:
            raise MediaError(f"The {what} is empty.")
        _check_size(h, w, min_side, what)
        return _pil_to_rgb_uint8(image, what)
    if not isinstance(image, np.ndarray):
        raise MediaError(f"The {what} could not be read (got {type(image).__name__}).")
    if image.size == 0:
        raise MediaError(f"The {what} is empty.")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise MediaError(f"The {what} must be an RGB picture; got an array of shape {tuple(image.shape)}.")
    if image.dtype == np.uint16:
        image = _sixteen_to_eight(image)
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating) and np.isfinite(image).all() and image.max() <= 1.0:
            image = image * 255.0
        if not np.issubdtype(image.dtype, np.number) or not np.isfinite(image).all():
            raise MediaError(f"The {what} has non-numeric or non-finite pixel values.")
        image = np.clip(image, 0, 255).astype(np.uint8)
    h, w = image.shape[:2]
    _check_size(h, w, min_side, what)
    if image.shape[2] == 4:  # composite alpha over white, a strip of rows at a time (uint16 temporaries)
        rgba, image = image, np.empty((h, w, 3), np.uint8)
        rows = max(1, _STRIP_PIXELS // w)
        for y0 in range(0, h, rows):
            image[y0:y0 + rows] = _composite_on_white(rgba[y0:y0 + rows])
    return np.ascontiguousarray(image)


def read_image(path: str | Path, min_side: int = 8, what: str = "image") -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3), upright; MediaError if it is not a readable, sane image.

    Upright: a phone stores a portrait photo as the sensor saw it, with an EXIF Orientation tag saying how to turn
    it; every viewer applies the tag, so a picture read without it would look sideways to the user. Sides under
    `min_side` are refused (see as_rgb_uint8); `what` names the picture in messages.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"No such image file: {path.name}")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).")
    too_large = (f"The {what} is too large ({{}}); the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels. "
                 f"Please downscale it first.")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns (or raises) by pixel count; the size check below says it more plainly.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise MediaError(too_large.format(f"{w}x{h}"))
                im.load()
                _upright(im)
                return as_rgb_uint8(im, min_side=min_side, what=what)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise MediaError(too_large.format(f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "")) from exc
    except UnidentifiedImageError as exc:
        raise MediaError(f"{path.name} is not an image this app can read.") from exc
    except OSError as exc:
        raise MediaError(f"{path.name} could not be decoded as an image (the file may be corrupt): {exc}") from exc


def _upright(im: Image.Image) -> None:
    """Apply the EXIF Orientation tag in place (a rotation and/or a mirror; nothing when there is no tag).

    A malformed EXIF block is only metadata: the picture is kept as stored rather than refused.
    """
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except (ValueError, TypeError, KeyError, IndexError, SyntaxError, struct.error) as exc:
        warnings.warn(f"EXIF orientation ignored (unreadable EXIF: {exc})", stacklevel=3)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 (H, W, 3) to size = (H, W) with area averaging when shrinking (Pillow, antialiased)."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC if w > image.shape[1] else Image.BOX))


def fitted_shape(h: int, w: int, max_side: int) -> tuple[int, int]:
    """(h, w) scaled so that the longest side is at most `max_side`, rounded (never upscaled)."""
    scale = min(1.0, max_side / max(h, w))
    return round(h * scale), round(w * scale)


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale uint8 (H, W, 3) so that its longest side is at most `max_side` (never upscales; sides >= 8)."""
    image = as_rgb_uint8(image)
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    small_h, small_w = fitted_shape(h, w, max_side)
    return resize_image(image, (max(8, small_h), max(8, small_w)))


def package_file(package: str, relative: str) -> Path | None:
    """A data file shipped inside an installed package (scikit-image's photos, say), found without importing the
    package (scikit-image takes seconds to import); None if the package or the file is absent."""
    spec = importlib.util.find_spec(package)
    for root in (spec.submodule_search_locations or []) if spec else []:
        if (Path(root) / relative).is_file():
            return Path(root) / relative
    return None


# ---------------------------------------------------------------------------------------------------------------
# Files


def read_video(path: str | Path, max_frames: int = MAX_VIDEO_FRAMES) -> tuple[np.ndarray, float]:
    """Decode a video file to uint8 (T, H, W, 3), upright, and its frame rate; MediaError on empty or unreadable
    files.

    Reads at most `max_frames` frames (the rest are dropped, not an error). Upright: a phone records a portrait
    video as sideways frames plus a rotation in the container (a display matrix), which every player applies;
    see `_upright_frame`.
    """
    import av  # imported here: PyAV is heavy and only needed for files

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"No such video file: {path.name}")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams:  # e.g. an MP4 cut before its index, or one whose track never got a frame
                raise MediaError(f"{path.name} contains no video that can be read (the file may be cut short or "
                                 f"corrupt).")
            if not container.streams.video:
                raise MediaError(f"{path.name} has no video stream.")
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else 25.0
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_IMAGE_PIXELS:
                    raise MediaError(f"{path.name}: frames of {frame.width}x{frame.height} are too large.")
                # FFmpeg copies the stream's display matrix onto every decoded frame as side data.
                matrix = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
                rgb = _upright_frame(frame.to_ndarray(format="rgb24"),
                                     None if matrix is None else np.frombuffer(bytes(matrix), np.int32))
                if frames and rgb.shape != frames[0].shape:
                    raise MediaError(f"{path.name} changes frame size mid-stream ({frames[0].shape[1]}x"
                                     f"{frames[0].shape[0]}, then {rgb.shape[1]}x{rgb.shape[0]}); this app needs "
                                     f"one size throughout.")
                frames.append(rgb)
                if len(frames) >= max_frames:
                    break
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise MediaError(f"{path.name} could not be decoded as a video (the file may be cut short or corrupt).") from exc
    if not frames:
        raise MediaError(f"{path.name} contains no frames.")
    return np.stack(frames), fps


def _upright_frame(rgb: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """A decoded frame uint8 (H, W, 3) -> as players show it, given its display matrix (FFmpeg's 3x3 int32 layout,
    None when there is none).

    Follows FFmpeg's own command-line tools (fftools' autorotate) case by case: a quarter turn either way, a half
    turn, each possibly mirrored. Other angles are left alone, as a tilted rectangle is not a frame. The result
    may be a view (np.stack copies it).
    """
    if matrix is None:
        return rgb
    a, b, c, d = (float(matrix[i]) / 65536 for i in (0, 1, 3, 4))       # 16.16 fixed point
    scale_x, scale_y = np.hypot(a, c), np.hypot(b, d)
    if scale_x == 0 or scale_y == 0:
        return rgb
    # fftools' get_rotation: -av_display_rotation_get(), rounded, brought into [0, 360) (359.5 counts as 0).
    theta = float(np.round(np.degrees(np.arctan2(b / scale_y, a / scale_x))))
    theta -= 360 * np.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return rgb.transpose(1, 0, 2) if c > 0 else np.rot90(rgb, -1)   # transpose / a quarter turn clockwise
    if abs(theta - 270) < 1:
        # the anti-diagonal transpose / a quarter turn counter-clockwise
        return np.rot90(rgb, 2).transpose(1, 0, 2) if c < 0 else np.rot90(rgb, 1)
    if abs(theta - 180) < 1:
        return rgb[::-1 if d < 0 else 1, ::-1 if a < 0 else 1]
    if abs(theta) < 1 and d < 0:
        return rgb[::-1]                                                 # mirrored top to bottom
    return rgb


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise MediaError(f"expected uint8 frames (T, H, W, 3) with T > 0, got {frames.dtype} {frames.shape}")
    return frames


def write_mp4(frames: np.ndarray, path: str | Path, fps: float = 12.0, crf: int = 18) -> Path:
    """Write uint8 (T, H, W, 3) frames to an H.264 MP4 that browsers play (yuv420p, even sizes)."""
    import av

    frames = _check_frames(frames)
    # yuv420p needs even width and height: pad by edge replication rather than crop away a row of the picture.
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_gif(frames: np.ndarray, path: str | Path, fps: float = 12.0) -> Path:
    """Write uint8 (T, H, W, 3) frames to a looping GIF."""
    frames = _check_frames(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


@dataclasses.dataclass(frozen=True)
class CropBox:
    """The part of an input image the model saw, in the input's pixels: rows y0:y1, columns x0:x1."""

    x0: int
    y0: int
    x1: int
    y1: int


def center_square(image: np.ndarray, size: int) -> tuple[np.ndarray, CropBox]:
    """uint8 (H, W, 3) -> the largest centred square, resized to (size, size), and where that square was."""
    h, w = image.shape[:2]
    side = min(h, w)
    box = CropBox((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    crop = np.ascontiguousarray(image[box.y0:box.y1, box.x0:box.x1])
    return resize_image(crop, (size, size)), box

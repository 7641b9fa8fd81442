"""Figure helpers shared by the teaching notebooks: a row or a grid of images with titles, and PNG bytes for widgets.

Display plumbing only (matplotlib and PIL); what a notebook teaches stays in its own cells. The notebooks run with
notebooks/ as their working directory and import it as `from _display import png, show_grid, show_row`.

Images are uint8 (H, W, 3) RGB arrays, or 2-D arrays shown in grey: uint8 ones on the full 0..255 scale (white =
255, so an error map keeps its stated full scale), other dtypes stretched to their own range.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

_TITLE_LINE = 0.22  # inches of figure height per line of a title


def _draw(ax, image) -> None:
    image = np.asarray(image)
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", **({"vmin": 0, "vmax": 255} if image.dtype == np.uint8 else {}))
    else:
        ax.imshow(image)


def _title_lines(titles) -> int:
    return max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0


def show_row(images, titles=None, size=2.0):
    """Show images side by side, each `size` inches wide (height from the first image's shape), with optional titles."""
    h, w = np.shape(images[0])[:2]
    height = size * h / w + _TITLE_LINE * _title_lines(titles) + 0.15
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), height), squeeze=False)
    for i, (ax, image) in enumerate(zip(axes[0], images, strict=True)):
        _draw(ax, image)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    plt.tight_layout()
    plt.show()


def show_grid(rows, row_titles=None, col_titles=None, size=1.8):
    """Show a grid of images, rows[r][c] (rows may differ in length), with optional row labels and column titles.

    Each cell is `size` inches wide, its height from the first image's shape; row titles go on the left as y labels,
    column titles above the first row.
    """
    n_r, n_c = len(rows), max(len(r) for r in rows)
    h, w = np.shape(rows[0][0])[:2]
    height = n_r * size * h / w + _TITLE_LINE * _title_lines(col_titles) + 0.15
    fig, axes = plt.subplots(n_r, n_c, figsize=(size * n_c, height), squeeze=False)
    for r in range(n_r):
        for c in range(n_c):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= len(rows[r]):
                ax.set_axis_off()
                continue
            _draw(ax, rows[r][c])
            if col_titles is not None and r == 0:
                ax.set_title(col_titles[c], fontsize=9)
            if row_titles is not None and c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
    plt.tight_layout()
    plt.show()


def png(image: np.ndarray) -> bytes:
    """Encode a uint8 image (H, W, 3) or (H, W) as PNG bytes, e.g. for `ipywidgets.Image(value=..., format="png")`."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="png")
    return buf.getvalue()


def plot_losses(log_rows: list[dict], keys, title: str = "Training losses"):
    """An interactive plot of the trainer's logged losses (`GANTrainer.fit`'s rows) against the step; keys that a
    run did not log are skipped. Returns the plotly figure (shown when it is a cell's last value, or `.show()`)."""
    import plotly.graph_objects as go

    steps = [r["step"] for r in log_rows]
    fig = go.Figure()
    for key in keys:
        if key in log_rows[0]:
            fig.add_trace(go.Scatter(x=steps, y=[r[key] for r in log_rows], mode="lines+markers", name=key))
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="loss", height=380, template="plotly_white")
    return fig


def loss_table(logs: dict[str, float], explain: dict[str, tuple[str, str]], weights: dict[str, float],
               phases, extra: dict[str, dict[str, float]] | None = None) -> str:
    """A markdown table of one training step's loss terms: for each `explain` entry logged ("phase/term": (weight
    name, what it asks)) its value, any `extra` columns ({column: {term: value}}, e.g. the same term computed by
    hand), its weight (the name and, where `weights` knows it, the value), then each phase's weighted total."""
    extra = extra or {}
    head = ["term", "value", *extra, "weight", "what it asks"]
    table = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (1 + len(extra)) + "---|---|"]
    for key, (w, text) in explain.items():
        if key in logs:
            weight = f"{w} = {weights[w]:g}" if w in weights else w
            columns = "".join(f" {float(values[key]):.4f} |" for values in extra.values())
            table.append(f"| `{key}` | {logs[key]:.4f} |{columns} {weight} | {text} |")
    for name in phases:
        blanks = " |" * len(extra)
        table.append(f"| **`{name}/total`** | **{logs[f'{name}/total']:.4f}** |{blanks} | the weighted sum the "
                     f"{name} phase minimises |")
    return "\n".join(table)

"""A picture of an episode's belief, drawn with numpy alone (``render_mode="rgb_array"``).

One column per component of the task (an arm, a face, or the single parameter): a blue bar up
to the posterior mean, a light band of plus and minus one posterior standard deviation, and a
red line at the true (latent) value. A green strip at the bottom shows the elapsed fraction of
the episode. The vertical axis spans ``model.prior_range()``.

:func:`tile_frames` lays several such pictures out in one (the native vector env's
``render_tiled``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bayes.models import ConjugateModel

__all__ = ["render_belief", "tile_frames"]

WHITE = np.array([255, 255, 255], dtype=np.uint8)
BAR = np.array([70, 110, 200], dtype=np.uint8)
BAND = np.array([190, 205, 240], dtype=np.uint8)
TRUTH = np.array([220, 40, 40], dtype=np.uint8)
CLOCK = np.array([60, 170, 90], dtype=np.uint8)
GAP = np.array([128, 128, 128], dtype=np.uint8)


def render_belief(
    model: ConjugateModel, task: np.ndarray, stats: np.ndarray, elapsed: float, size: int = 256
) -> np.ndarray:
    """An ``(size, W, 3)`` uint8 image of one episode's posterior and task (``W = size`` unless
    there are more than ``size / 3`` components, then 3 pixels per component).

    ``task`` has ``model.task_shape``, ``stats`` ``model.stats_shape`` (one episode, no batch
    axis); ``elapsed`` is ``t / horizon`` in [0, 1].
    """
    mean, std = (m[0].reshape(-1) for m in model.posterior_moments(stats[None]))
    truth = np.asarray(task, dtype=np.float64).reshape(-1)
    low, high = model.prior_range()
    plot_h = size - 16

    def row(value: np.ndarray) -> np.ndarray:  # value -> pixel row (0 at the top)
        frac = np.clip((value - low) / (high - low), 0.0, 1.0)
        return (plot_h - 1 - np.round(frac * (plot_h - 1))).astype(int)

    n = truth.size
    width = max(size // n, 3)  # at least 3 pixels a component: many arms widen the picture
    image = np.empty((size, max(size, n * width), 3), dtype=np.uint8)
    image[:] = WHITE
    for k in range(n):
        left, right = k * width + width // 6, (k + 1) * width - width // 6
        top_band, bottom_band = row(mean[k] + std[k]), row(mean[k] - std[k])
        image[top_band : bottom_band + 1, left:right] = BAND
        image[row(mean[k]) : plot_h, left + width // 8 : right - width // 8] = BAR
        r = row(truth[k])
        image[max(r - 1, 0) : r + 2, left - width // 8 : right + width // 8] = TRUTH
    image[size - 12 : size - 4, : round(float(np.clip(elapsed, 0.0, 1.0)) * image.shape[1])] = CLOCK
    return image


def tile_frames(frames: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """``frames`` (uint8, all of one shape ``(H, W, 3)``) in one picture: a grid of
    ``ceil(sqrt(n))`` columns filled row by row, the frames ``gap`` grey pixels apart, empty
    cells white. One frame is returned as it is (a copy)."""
    if len(frames) == 0:
        raise ValueError("tile_frames needs at least one frame")
    shape = frames[0].shape
    if any(frame.shape != shape for frame in frames):
        raise ValueError(f"frames must all have one shape, got {sorted({f.shape for f in frames})}")
    h, w, c = shape
    cols = math.ceil(math.sqrt(len(frames)))
    rows = math.ceil(len(frames) / cols)
    image = np.empty((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, c), dtype=np.uint8)
    image[:] = GAP
    for k, frame in enumerate(frames):
        top, left = (k // cols) * (h + gap), (k % cols) * (w + gap)
        image[top : top + h, left : left + w] = frame
    for k in range(len(frames), rows * cols):  # the empty cells of the last row
        top, left = (k // cols) * (h + gap), (k % cols) * (w + gap)
        image[top : top + h, left : left + w] = WHITE
    return image

"""Pictures of the simulation analysis and of predictions over time (matplotlib, PNG, headless).

- :func:`simulation_panel`: the 2x2 panel of the seed text. Top left: the states of agent A
  (the Bayes agent), bottom right: those of agent B (the learned agent), each projected on its
  own first two principal components; top right: A's states mapped into B's state space by the
  fitted regressor (B's projection); bottom left: B's states mapped into A's (A's projection).
  Each dot is one time step of one held-out episode, coloured by the output there (off the
  diagonal: the output of the simulating machine stepped from the mapped state); a few
  episodes are drawn as lines.
- :func:`prediction_plot`: a few episodes, the learned predictor against the Bayes predictor
  at every step, with the outcomes; for a three-sided die the predictions move on the 2-D
  probability simplex.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bayes.simulation import SimulationResult

__all__ = ["colour_values", "pca", "prediction_plot", "pyplot", "save_figure", "simulation_panel"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parent folders made) and release it."""
    plt = pyplot()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def pca(states: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, components (dims, d))`` of the rows of ``states (N, d)``; constant data gives zeros."""
    states = np.asarray(states, dtype=np.float64)
    mean = states.mean(axis=0)
    centred = states - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = np.zeros((dims, states.shape[1]))
    components[: min(dims, len(vt))] = vt[:dims]
    return mean, components


def colour_values(outputs: np.ndarray) -> np.ndarray:
    """One colour per output row: RGB of three probabilities (a three-sided die), else the first
    parameter (P(heads), P(arm 0), the predictive mean or shape) as a scalar for a colour map."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[-1] == 3 and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-6):
        return np.clip(outputs, 0.0, 1.0)
    return outputs[..., 0]


def _scatter(ax, points: np.ndarray, colours: np.ndarray, lines: np.ndarray, title: str, vmin: float,
             vmax: float) -> None:
    flat = points.reshape(-1, 2)
    c = colours.reshape(-1, colours.shape[-1]) if colours.ndim == 3 else colours.reshape(-1)
    kwargs = {} if c.ndim == 2 else {"cmap": "viridis", "vmin": vmin, "vmax": vmax}
    ax.scatter(flat[:, 0], flat[:, 1], c=c, s=6, alpha=0.7, linewidths=0, **kwargs)
    for episode in lines:
        ax.plot(episode[:, 0], episode[:, 1], color="white", lw=1.2, alpha=0.9)
        ax.plot(episode[:, 0], episode[:, 1], color="black", lw=0.4, alpha=0.9)
    ax.set_title(title, fontsize=9)
    ax.set_facecolor("#dddddd")
    ax.set_xticks([])
    ax.set_yticks([])


def simulation_panel(result: SimulationResult, path: str | os.PathLike[str], names: Sequence[str] = ("Bayes", "agent"),
                     n_lines: int = 3, max_episodes: int = 300) -> Path:
    """Write the 2x2 panel of ``result`` (from :func:`bayes.simulation.simulation_analysis`) to ``path``."""
    if result.states_a is None or result.b_simulates_a.mapped_states is None:
        raise ValueError("the result holds no states: run simulation_analysis to get one")
    plt = pyplot()
    test = result.test[:max_episodes]
    keep = slice(0, len(test))
    a_states, b_states = result.states_a[1:, test], result.states_b[1:, test]  # after each input
    a_out, b_out = result.outputs_a[:, test], result.outputs_b[:, test]
    a_in_b = result.b_simulates_a.mapped_states[1:, keep]  # phi(a_t) in B's space
    b_in_a = result.a_simulates_b.mapped_states[1:, keep]
    a_in_b_out = result.b_simulates_a.mapped_outputs[:, keep]  # B's output from the mapped states
    b_in_a_out = result.a_simulates_b.mapped_outputs[:, keep]
    mean_a, comp_a = pca(a_states.reshape(-1, a_states.shape[-1]))
    mean_b, comp_b = pca(b_states.reshape(-1, b_states.shape[-1]))
    project_a = lambda s: (s - mean_a) @ comp_a.T  # noqa: E731
    project_b = lambda s: (s - mean_b) @ comp_b.T  # noqa: E731
    colours = [colour_values(o) for o in (a_out, a_in_b_out, b_in_a_out, b_out)]
    scalars = [c for c in colours if c.ndim == 2]
    vmin = min((float(c.min()) for c in scalars), default=0.0)
    vmax = max((float(c.max()) for c in scalars), default=1.0)
    fig, axes = plt.subplots(2, 2, figsize=(8, 8))
    name_a, name_b = names
    a_in_b_title = f"{name_a} states mapped into {name_b}\n({name_b} simulates {name_a})"
    b_in_a_title = f"{name_b} states mapped into {name_a}\n({name_a} simulates {name_b})"
    panels = [
        (axes[0, 0], project_a(a_states), colours[0], f"{name_a} states"),
        (axes[0, 1], project_b(a_in_b), colours[1], a_in_b_title),
        (axes[1, 0], project_a(b_in_a), colours[2], b_in_a_title),
        (axes[1, 1], project_b(b_states), colours[3], f"{name_b} states"),
    ]
    for ax, points, colour, title in panels:
        _scatter(ax, points, colour, points[:, :n_lines].swapaxes(0, 1), title, vmin, vmax)
    axes[0, 0].set_ylabel(f"PCA of {name_a}'s states")
    axes[1, 0].set_ylabel(f"PCA of {name_a}'s states")
    fig.suptitle(f"Simulation: {name_a} (top left) and {name_b} (bottom right), each dot one time step", fontsize=10)
    return save_figure(fig, path)


def _simplex(p: np.ndarray) -> np.ndarray:
    """Points on the 2-D probability simplex (an equilateral triangle) for probabilities ``(..., 3)``."""
    return np.stack([p[..., 1] + 0.5 * p[..., 2], np.sqrt(3) / 2 * p[..., 2]], axis=-1)


def prediction_plot(bayes_outputs: np.ndarray, agent_outputs: np.ndarray, observations: np.ndarray,
                    path: str | os.PathLike[str], title: str = "", n_episodes: int = 3,
                    names: Sequence[str] = ("Bayes", "agent")) -> Path:
    """Predictions over time of a few episodes, the learned agent against the Bayes agent.

    ``bayes_outputs``, ``agent_outputs``: ``(T, N, P)`` predictive parameters;
    ``observations``: ``(T, N, obs_dim)`` the inputs (outcomes). Three probabilities (a die) are
    drawn on the probability simplex, anything else as the first parameter against time.
    """
    plt = pyplot()
    bayes_outputs, agent_outputs = np.asarray(bayes_outputs), np.asarray(agent_outputs)
    n = min(n_episodes, bayes_outputs.shape[1])
    die = bayes_outputs.shape[-1] == 3
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.6), squeeze=False)
    for e, ax in enumerate(axes[0]):
        if die:
            corners = _simplex(np.eye(3))
            ax.plot(*np.vstack([corners, corners[:1]]).T, color="grey", lw=0.8)
            for k, label in enumerate(("face 0", "face 1", "face 2")):
                ax.annotate(label, corners[k], fontsize=8, ha="center", va="top" if k < 2 else "bottom")
            for outputs, style, name in ((bayes_outputs, "-", names[0]), (agent_outputs, "--", names[1])):
                xy = _simplex(outputs[:, e])
                ax.plot(xy[:, 0], xy[:, 1], style, marker=".", ms=4, lw=1, label=name)
            ax.set_aspect("equal")
            ax.axis("off")
        else:
            t = np.arange(bayes_outputs.shape[0])
            ax.plot(t, bayes_outputs[:, e, 0], "-", marker=".", label=names[0])
            ax.plot(t, agent_outputs[:, e, 0], "--", marker=".", label=names[1])
            seen = observations[1:, e, 1] > 0 if observations.shape[-1] == 3 else None
            if seen is not None:
                ax.scatter(t[:-1][seen], observations[1:, e, 0][seen], s=8, color="black", label="outcome", zorder=3)
            ax.set_xlabel("time step")
            ax.set_ylabel("first predictive parameter")
        ax.set_title(f"episode {e}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)

"""``meta-bayes progression``: a run's behaviour and its simulation of the Bayes agent over training.

Usage::

    meta-bayes progression RUN_DIR [--episodes N] [--out FIGDIR] [--seed S] [--json]
    python -m benchmarks.progression RUN_DIR ...

``RUN_DIR`` is a run trained with ``--snapshots N`` (``meta-bayes train ... --snapshots 10``),
whose folder keeps the weights at ``N`` log-spaced points of training (``RUN_DIR/snapshots/``;
:mod:`agents.training` says which). For every snapshot, at progress ``p`` (gradient steps for a
predictor, env steps for a bandit agent), the agent of that snapshot is loaded as the final one
is (:func:`agents.runs.load_run`) and measured against the Bayes agent of its env on ``N``
episodes (seed ``S``):

- **behaviour**: for a predictor the mean KL per step from the Bayes predictive to the agent's,
  ``mean_t E[KL(p_bayes(. | x_<t) || q(. | x_<t))]`` (:func:`agents.evaluation.predictor_summary`);
  for a bandit agent the paired Bayes gap ``-mean(R_agent - R_bayes) / (V_bayes - V_random)``
  on the same episodes (:func:`agents.evaluation.bandit_summary`; 0: Bayes-optimal, 1: random),
  or, where the reference is not the Bayes-optimal policy (Gaussian arms), the paired return
  below that reference. At the last snapshot these are the figures of ``meta-bayes evaluate``
  with the same episodes and seed.
- **both simulation directions** (:func:`benchmarks.simulate.simulate_agent`, the analysis of
  ``meta-bayes simulate``): "Bayes in agent", the Bayes agent's states mapped into the agent's
  memory (the agent simulates Bayes), and "agent in Bayes", the reverse; each with its state
  dissimilarity (0: a perfect match, 1: no better than the mean state) and output
  dissimilarity, with standard errors over held-out episodes.

The figure ``progression.png`` (in ``--out``, default ``RUN_DIR/figures``) plots the behaviour
(left axis) and the two state dissimilarities (right axis) against training progress on a log
scale, which answers the question: does the agent's memory come to simulate the Bayes agent
before, with, or after its behaviour converges? ``"settled_at"`` puts it in numbers: for each
curve, the first snapshot from which it stays within the last 10% of its range (on the
figure's scale) above its final value.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bayes.files import check_folder, make_folder
from bayes.validation import MAX_NUM_ENVS, MAX_VECTOR_ELEMENTS

__all__ = ["behaviour_of", "main", "print_progression", "progression_figure", "run_progression", "settled_at"]

#: The two simulation directions: the key in a row, and the label on the figure.
DIRECTIONS = (("bayes_in_agent", "Bayes in agent"), ("agent_in_bayes", "agent in Bayes"))


def behaviour_of(machine: Any, config: Any, episodes: int, seed: int) -> dict[str, Any]:
    """The behaviour of ``machine`` (a run's agent with its ``config``) on ``episodes`` episodes
    (seed ``seed``): ``{"behaviour", "behaviour_stderr", "measure", ...}``, the figure plotted
    (smaller is closer to Bayes) and the summary's own figures beside it: for a predictor
    ``mean_kl`` (nats per step), ``mean_kl_stderr``, ``log_loss``, ``bayes_log_loss``; for a
    bandit agent ``mean_return``, ``stderr``, ``bayes_gap``, ``paired`` and ``paired_gap``."""
    from agents.bandit_eval import BANDIT_ENVS
    from agents.evaluation import bandit_summary, predictor_summary
    from benchmarks.sweep_results import paired_gap

    if config.env_id not in BANDIT_ENVS:
        summary = predictor_summary(machine, config, episodes, None, seed)
        return {"behaviour": summary["mean_kl"], "behaviour_stderr": summary["mean_kl_stderr"],
                "measure": "mean KL to Bayes (nats per step)",
                **{k: summary[k] for k in ("mean_kl", "mean_kl_stderr", "log_loss", "bayes_log_loss")}}
    summary = bandit_summary(machine, config, episodes, None, seed, references=False)
    gap, gap_stderr, _ = paired_gap(summary)  # None where the reference is not the Bayes-optimal policy
    row = {k: summary[k] for k in ("mean_return", "stderr", "bayes_gap")}
    row.update(paired=summary["paired"], paired_gap=gap)
    if gap is not None:
        return {"behaviour": gap, "behaviour_stderr": gap_stderr,
                "measure": "paired Bayes gap (0: Bayes-optimal, 1: random)", **row}
    paired = summary["paired"]
    return {"behaviour": -paired["mean_difference"], "behaviour_stderr": paired["stderr"],
            "measure": f"return below {paired['reference']} (paired)", **row}


def _log_scale(values: Sequence[float]) -> bool:
    """Whether a curve reads better on a log scale: all positive and spanning over a factor of 10."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) > 10 * min(finite)


def settled_at(progress: Sequence[int], values: Sequence[float | None]) -> int | None:
    """The first progress from which ``values`` (one per snapshot, smaller is better) stay
    within the last 10% of their range above the final value: ``v <= final + 0.1 (max -
    final)``, on a log scale where :func:`_log_scale` says the curve is plotted so. None where a
    value is missing."""
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return None
    scaled = [math.log(v) for v in values] if _log_scale(values) else list(values)
    final = scaled[-1]
    bound = final + 0.1 * (max(scaled) - final)
    index = len(scaled) - 1
    while index > 0 and scaled[index - 1] <= bound:
        index -= 1
    return int(progress[index])


def _compact(value: float) -> str:
    """A tick label of a progress value: 5, 1,200, 35k, 2.5M, 1.2G."""
    for threshold, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:,.0f}"


def progression_figure(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the figure of a :func:`run_progression` result to ``path``: x, training progress
    (log scale); left axis, the behaviour with its standard error; right axis, the state
    dissimilarity of both simulation directions ("Bayes in agent", "agent in Bayes") with theirs."""
    from benchmarks.figures import pyplot, save_figure

    plt = pyplot()
    rows = result["snapshots"]
    x = [row["progress"] for row in rows]
    fig, left = plt.subplots(figsize=(8, 5.4))
    right = left.twinx()
    behaviour = [row["behaviour"] for row in rows]
    left.errorbar(x, behaviour, yerr=[row["behaviour_stderr"] for row in rows], color="black", marker="o",
                  lw=1.8, capsize=3, label=f"behaviour: {result['behaviour_measure']}")
    left.set_xscale("log")
    if _log_scale(behaviour):
        left.set_yscale("log")
    left.set_xlabel(f"training progress ({result['unit']}, log scale)")
    left.set_ylabel(result["behaviour_measure"])
    dissimilarities = []
    for (key, label), colour, marker in zip(DIRECTIONS, ("tab:blue", "tab:orange"), ("s", "^"), strict=True):
        values = [row[key]["state_dissimilarity"] for row in rows]
        dissimilarities += values
        right.errorbar(x, values, yerr=[row[key]["state_stderr"] for row in rows], color=colour, marker=marker,
                       lw=1.4, ls="--", capsize=3, label=f"{label}: state dissimilarity")
    if _log_scale(dissimilarities):
        right.set_yscale("log")
    right.set_ylabel("simulation: state dissimilarity (0: exact, 1: none)")
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    left.xaxis.set_major_locator(FixedLocator(x))  # a tick at every snapshot
    left.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _compact(value)))
    left.xaxis.set_minor_locator(NullLocator())
    if len(x) > 8:
        left.tick_params(axis="x", labelrotation=35)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    left.grid(True, which="major", alpha=0.3)
    left.set_title(f"{result['env_id']} ({result['algo']}): behaviour and simulation of {result['reference']} "
                   f"over {len(rows)} snapshots", fontsize=10)
    return save_figure(fig, path)


def run_progression(run_dir: str | os.PathLike[str], episodes: int = 1000, out: str | os.PathLike[str] | None = None,
                    seed: int = 0, log: Any = None) -> dict[str, Any]:
    """Measure every snapshot of the run in ``run_dir`` (see the module docstring) and write
    ``progression.png`` to ``out`` (default ``RUN_DIR/figures``).

    Returns plain JSON data: the run (``env_id``, ``env_kwargs``, ``algo``), the Bayes agent
    (``reference``), ``unit`` of the progress, ``behaviour_measure``,
    ``output_dissimilarity_measure``, ``episodes``, ``seed``, ``snapshots`` (one row per
    snapshot, by increasing progress: ``progress``, ``train_seconds``, the figures of
    :func:`behaviour_of`, and ``bayes_in_agent`` and ``agent_in_bayes``, each direction's
    figures as ``meta-bayes simulate`` gives them), ``settled_at`` (:func:`settled_at` of the
    behaviour and of each direction's state dissimilarity), ``figure`` and ``seconds``.

    A run with more snapshots on disk than it keeps (stopped early while time-limited) is
    measured at ``config.snapshots`` of them (:func:`agents.training.select_snapshots`).
    ``ValueError``, before any work, for fewer than 8 episodes (or more than a vector env or an
    evaluation holds), a folder without a readable run or without snapshots (saying how to make them),
    or an unusable ``out``.
    """
    from agents.runs import list_snapshots, load_checkpoint, load_run, read_config, run_algo
    from agents.training import select_snapshots
    from benchmarks.simulate import simulate_agent

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 8:
        raise ValueError(f"--episodes must be an int >= 8 (half train the regressors, half measure), got {episodes!r}")
    if episodes > MAX_NUM_ENVS:
        raise ValueError(f"--episodes must be at most {MAX_NUM_ENVS:,} (the simulation's input episodes are played "
                         f"as one vector env), got {episodes:,}")
    algo = run_algo(run_dir)
    figdir = check_folder(out if out is not None else Path(run_dir) / "figures", "--out")
    found = list_snapshots(run_dir)
    if not found:
        env_id = read_config(Path(run_dir) / "config.json").get("env_id", "ENV_ID")
        raise ValueError(f"{run_dir} holds no snapshots ({Path(run_dir) / 'snapshots'} is missing or empty): train a "
                         f"run that keeps them, e.g. meta-bayes train {env_id} --algo {algo} --snapshots 10 --out "
                         "NEW_DIR (a run's snapshots are set when it starts, so train into a new folder)")
    say = log or (lambda _m: None)
    start = time.perf_counter()
    _, config = load_run(run_dir, checkpoint=found[-1][1])  # the config, checked, and the last snapshot readable
    steps = episodes * int(config.make_env().horizon)
    if steps > MAX_VECTOR_ELEMENTS:
        raise ValueError(f"--episodes x the horizon = {steps:,} steps, more than the {MAX_VECTOR_ELEMENTS:,} an "
                         "evaluation holds in memory: use fewer episodes")
    if len(found) > config.snapshots > 0:
        keep = set(select_snapshots(config.snapshots, [p for p, _ in found], config.update_size()))
        found = [(p, path) for p, path in found if p in keep]
    rows: list[dict[str, Any]] = []
    reference, unit = "Bayes", "env steps"
    for index, (progress, path) in enumerate(found, 1):
        began = time.perf_counter()
        machine, config = load_run(run_dir, checkpoint=path)
        saved = load_checkpoint(path, config)
        unit = "gradient steps" if "step" in saved else "env steps"
        row: dict[str, Any] = {"progress": progress, "train_seconds": saved.get("seconds")}
        row.update(behaviour_of(machine, config, episodes, seed))
        result, _, reference = simulate_agent(machine, config, episodes, seed)
        row.update(bayes_in_agent=result.b_simulates_a.as_dict(), agent_in_bayes=result.a_simulates_b.as_dict(),
                   seconds=time.perf_counter() - began)
        rows.append(row)
        say(f"snapshot {index}/{len(found)} at {progress} {unit}: behaviour {row['behaviour']:.5f}; state "
            f"dissimilarity Bayes in agent {row['bayes_in_agent']['state_dissimilarity']:.4f}, agent in Bayes "
            f"{row['agent_in_bayes']['state_dissimilarity']:.4f} ({row['seconds']:.1f} s)")
    measure = rows[0].pop("measure")
    for row in rows[1:]:
        row.pop("measure")
    x = [row["progress"] for row in rows]
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "env_id": config.env_id,
        "env_kwargs": config.env_kwargs,
        "algo": config.algo,
        "reference": reference,
        "unit": unit,
        "behaviour_measure": measure,
        "output_dissimilarity_measure": ("total variation" if "paired" in rows[0]
                                         else "KL(reference || simulating machine)"),
        "episodes": episodes,
        "seed": seed,
        "snapshots": rows,
        "settled_at": {
            "behaviour": settled_at(x, [row["behaviour"] for row in rows]),
            **{key: settled_at(x, [row[key]["state_dissimilarity"] for row in rows]) for key, _ in DIRECTIONS},
        },
    }
    make_folder(figdir, "--out")
    summary["figure"] = str(progression_figure(summary, figdir / "progression.png"))
    summary["seconds"] = time.perf_counter() - start
    say(f"wrote {summary['figure']}")
    return summary


def print_progression(summary: dict[str, Any]) -> None:
    """The result of :func:`run_progression` as a table, one line per snapshot."""
    print(f"{summary['env_id']} ({summary['algo']}) against {summary['reference']}, {len(summary['snapshots'])} "
          f"snapshots, {summary['episodes']} episodes each; behaviour: {summary['behaviour_measure']}; state "
          "dissimilarity of each simulation direction (0: exact)")
    print(f"  {summary['unit']:>14}  {'behaviour':>21}  {'Bayes in agent':>17}  {'agent in Bayes':>17}")
    for row in summary["snapshots"]:
        a, b = row["bayes_in_agent"], row["agent_in_bayes"]
        print(f"  {row['progress']:>14}  {row['behaviour']:>10.5f} ± {row['behaviour_stderr']:<8.5f}  "
              f"{a['state_dissimilarity']:>8.4f} ± {a['state_stderr']:<6.4f}  "
              f"{b['state_dissimilarity']:>8.4f} ± {b['state_stderr']:<6.4f}")
    settled = summary["settled_at"]
    print(f"  settled (within 10% of its range of the final value) at: behaviour {settled['behaviour']}, Bayes in "
          f"agent {settled['bayes_in_agent']}, agent in Bayes {settled['agent_in_bayes']} ({summary['unit']})")
    print(f"  figure: {summary['figure']}")


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.simulate import run_dir_main

    return run_dir_main(argv, __doc__, run_progression, print_progression)


if __name__ == "__main__":
    raise SystemExit(main())

"""What every trainer shares: its base config, the session around its loop, and Ctrl-C.

A trainer (:mod:`agents.predictor`, :mod:`agents.recurrent_ppo`, :mod:`agents.rl2`) is its
algorithm and its config; everything else comes from here and from :mod:`agents.runs`:

- :class:`TrainerConfig`: the fields every run has (env, ``algo``, seed, evaluation schedule,
  time limit) and their checks; :class:`ActorCriticConfig` adds the fields the two
  actor-critic bandit trainers share (budget, PPO coefficients, schedules, head sizes).
- :func:`preset_config`: a trainer's tuned settings for an env, with overrides and a budget.
- :class:`Session`: one training session of a run folder: prepares or resumes the folder
  (:func:`agents.runs.prepare_run`), keeps the clock across sessions, the evaluation schedule
  and history, TensorBoard, and the one Ctrl-C policy:

  * the first Ctrl-C (SIGINT) is noted, the unit of work in flight (a batch, a gradient step,
    an env step) finishes, the checkpoint is written, a line says so, and ``KeyboardInterrupt``
    is raised; the ``meta-bayes`` command then exits 130 and the same command resumes the run;
  * a second Ctrl-C interrupts at once, without a checkpoint (the last one stays).

- :func:`run_loop`: the loop of a trainer that owns it (:mod:`agents.rl2`,
  :mod:`agents.predictor`): step until the budget or the time limit is spent, evaluate and
  checkpoint every ``eval_every``, stop when a callback says so or on Ctrl-C.
- Snapshots (``TrainerConfig.snapshots = N``, ``meta-bayes train --snapshots N``): the weights
  at ``N`` log-spaced points of training, kept in ``RUN_DIR/snapshots/<progress>.pt``
  (:func:`agents.runs.snapshot_path`) for ``meta-bayes progression``. The :class:`Session`
  writes them for every trainer: :func:`run_loop` calls :meth:`Session.snapshot` after every
  update and :meth:`Session.finish` when training ends; RecurrentPPO calls the same two from
  its callbacks. When, in updates (a gradient step, a batch, a rollout):

  * a run with a budget only (``max_seconds`` None) writes one at each of the ``N`` update
    numbers of :func:`snapshot_schedule` over its budget ``U`` (``config.updates()``): from
    the first update to the last, geometric, the last always among them;
  * a time-limited run (``max_seconds``) cannot know where it will stop, so a schedule over
    its nominal budget would put most snapshots beyond what it reaches. It writes one on a
    dense geometric ladder (:func:`snapshot_ladder`: ``2 N`` rungs a decade, every update
    while rungs are closer than one) and the schedule's points; when training ends it writes
    the last step's and keeps ``N`` log-spaced among those written, the last always among
    them (:func:`select_snapshots`; the schedule itself where the run reached its budget);
  * training ends at the budget or the time limit (:meth:`Session.finish`). A run stopped
    early (Ctrl-C, a callback) keeps the snapshots written so far and writes no extra one;
    resumed, it takes the plan up where it stopped (a snapshot beyond the checkpoint it
    resumes from, left by a second Ctrl-C, is removed and written again), so an interrupted
    and resumed run ends with the snapshots of a run that never stopped. Where a resumed run
    got a larger budget, the new schedule's points beyond the old end are added and ``N`` of
    all kept at the end.

  A snapshot holds the weights of the trainer's torch modules under the checkpoint's keys
  (``network``, ``policy``), the progress and the training seconds: the trainer's own loader
  reads it (:func:`agents.runs.load_run` with ``checkpoint=``), and the one at the last step
  holds the weights of the final checkpoint.
- :func:`bandit_evaluator` and :func:`predictor_evaluator`: the evaluation during training
  (the Bayes gap on paired held-out episodes; the KL to the Bayes predictive), logged the same
  way by every trainer.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from agents.bandit_eval import BANDIT_ENVS
from agents.devices import DEVICES, resolve_device
from agents.runs import (
    REMEDY,
    SNAPSHOTS,
    config_from_dict,
    list_snapshots,
    load_checkpoint,
    prepare_run,
    save_checkpoint,
    snapshot_path,
)
from bayes.validation import (
    MAX_HIDDEN_SIZE,
    MAX_NUM_ENVS,
    MAX_VECTOR_ELEMENTS,
    available_cores,
    check_int,
    check_number,
)

__all__ = [
    "TORCH_RNG",
    "ActorCriticConfig",
    "Evaluation",
    "Session",
    "TrainerConfig",
    "bandit_evaluator",
    "deferred_interrupt",
    "linear_interpolation",
    "linear_schedule",
    "predictor_evaluator",
    "preset_config",
    "run_loop",
    "select_snapshots",
    "snapshot_ladder",
    "snapshot_schedule",
]


#: Upper bounds of the trainers' integer fields (any trainer that has the field), checked by
#: :meth:`TrainerConfig.validate` before anything is allocated; docs/architecture.md lists them.
FIELD_LIMITS: dict[str, int] = {
    "hidden_size": MAX_HIDDEN_SIZE,
    "lstm_hidden_size": MAX_HIDDEN_SIZE,
    "num_layers": 16,
    "num_envs": MAX_NUM_ENVS,
    "batch_size": MAX_NUM_ENVS,
    "minibatches": MAX_NUM_ENVS,
    "n_epochs": 1_000,
    "eval_episodes": 1_000_000,
    "snapshots": 10_000,
}


@dataclass
class TrainerConfig:
    """The fields of every training run (saved in ``config.json`` with the trainer's own).

    A subclass names its ``algo`` (which tells :func:`agents.runs.load_run` what a folder
    holds), the envs it trains (``ENVS``), a ``LABEL`` for messages, the fields a resumed run
    may change (``RESUMABLE``), and checks its own fields in :meth:`check`. For ``snapshots``
    it says how many updates its budget holds (:meth:`updates`) and how much progress one
    update makes (:meth:`update_size`).
    """

    ALGO: ClassVar[str] = ""
    LABEL: ClassVar[str] = ""
    ENVS: ClassVar[tuple[str, ...]] = ()
    TRAINS: ClassVar[str] = ""  #: what it trains, for messages ("bandit agents", "predictors")
    RESUMABLE: ClassVar[tuple[str, ...]] = ("max_seconds",)
    POSITIVE_INTS: ClassVar[tuple[str, ...]] = ()  #: the trainer's fields that are ints >= 1
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}  #: the trainer's fields that take one of a few names
    FLAGS: ClassVar[tuple[str, ...]] = ()  #: the trainer's fields that are true or false
    UPDATES: ClassVar[str] = "updates"  #: what one update is, in the plural, for messages ("rollouts")

    env_id: str = ""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = ""  #: tells ``agents.runs.load_run`` what kind of run a folder holds
    seed: int = 0
    eval_every: int = 1  #: progress (env steps, or gradient steps) between evaluations and checkpoints
    eval_episodes: int = 1000
    max_seconds: float | None = None  #: stop (with a checkpoint) once training has taken this long
    #: where the network trains (:mod:`agents.devices`): cpu (the same numbers on every machine),
    #: cuda, or auto (CUDA where torch sees one); checked when training starts, so runs load anywhere
    device: str = "cpu"
    #: keep this many snapshots of the weights, log-spaced over training (0: none; see the module docstring)
    snapshots: int = 0

    def validate(self) -> None:
        """``ValueError`` naming the first field out of range."""
        if self.algo != self.ALGO:
            raise ValueError(f"a {type(self).__name__}'s algo is {self.ALGO!r}, got {self.algo!r}")
        if self.env_id not in self.ENVS:
            raise ValueError(f"{self.ALGO} trains {self.TRAINS}: env_id must be one of {self.ENVS}, "
                             f"got {self.env_id!r}")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict, got {self.env_kwargs!r}")
        check_int(self.seed, "seed", 0)
        for name in ("eval_every", "eval_episodes"):
            check_int(getattr(self, name), name, 1)
        if self.max_seconds is not None:
            check_number(self.max_seconds, "max_seconds", 0.0)
        check_int(self.snapshots, "snapshots", 0)
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        self.check_shared()
        for name, choices in self.CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        for name in self.POSITIVE_INTS:
            check_int(getattr(self, name), name, 1)
        for name in self.FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name, maximum in FIELD_LIMITS.items():
            value = getattr(self, name, None)
            if isinstance(value, int) and value > maximum:
                raise ValueError(f"{name} must be at most {maximum:,}, got {value:,}")
        for name in ("net_arch", "critic_arch"):
            sizes = getattr(self, name, None)
            if isinstance(sizes, list) and (len(sizes) > 16 or any(isinstance(n, int) and n > MAX_HIDDEN_SIZE
                                                                   for n in sizes)):
                raise ValueError(f"{name} must have at most 16 layers of at most {MAX_HIDDEN_SIZE:,} units, "
                                 f"got {sizes!r}")
        self.check()
        numbers = self.batch_numbers()
        if numbers is not None and numbers > MAX_VECTOR_ELEMENTS:
            raise ValueError(f"a batch of this config holds about {numbers:,} numbers (episodes x horizon x hidden "
                             f"units x layers), more than {MAX_VECTOR_ELEMENTS:,}: use fewer episodes per batch or "
                             "a smaller network")
        if self.snapshots:
            updates = self.updates()
            if updates is None:
                raise ValueError(f"{self.ALGO} does not count the updates of its budget, so it cannot keep snapshots: "
                                 "use snapshots=0")
            if self.snapshots > updates:
                raise ValueError(f"snapshots must be at most the run's number of updates, {updates:,} "
                                 f"{self.UPDATES}, got {self.snapshots:,}: ask for fewer snapshots or a larger "
                                 "budget")

    def updates(self) -> int | None:
        """How many updates (a gradient step, a batch, a rollout: what :func:`run_loop`'s ``step``
        does once) the budget holds; None where the trainer does not say (the default), which
        rules out ``snapshots``."""
        return None

    def update_size(self) -> int:
        """The progress one update makes, in the trainer's count (env steps, or gradient steps):
        1 by default (the count is of updates)."""
        return 1

    def batch_numbers(self) -> int | None:
        """About how many numbers one training batch holds (episodes x steps x hidden units x
        layers), for the check against :data:`~bayes.validation.MAX_VECTOR_ELEMENTS`; None
        where the trainer does not say (the default)."""
        return None

    def check_shared(self) -> None:
        """The checks of the fields a family of trainers shares (:class:`ActorCriticConfig`'s)."""

    def check(self) -> None:
        """The trainer's own checks beyond ``POSITIVE_INTS``, ``CHOICES`` and ``FLAGS``
        (``ValueError`` naming the field); they run last."""

    def make_env(self) -> Any:
        """The unwrapped single env of the run (``gym.make`` checks its arguments)."""
        from agents.bandit_eval import base_env

        return base_env(self.env_id, self.env_kwargs)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        """From ``config.json`` or a preset; ``ValueError`` naming unknown keys."""
        return config_from_dict(cls, values, cls.LABEL)

    @classmethod
    def with_budget(cls, values: dict[str, Any], timesteps: int) -> dict[str, Any]:
        """``values`` with a budget of ``timesteps`` env steps in place of the preset's (and of
        its time limit), ``eval_every`` brought within it."""
        return {**values, "timesteps": timesteps, "max_seconds": None,
                "eval_every": min(values.get("eval_every", cls.eval_every), timesteps)}


@dataclass
class ActorCriticConfig(TrainerConfig):
    """The fields both actor-critic bandit trainers share: a budget of env steps, the PPO
    coefficients and their schedules (:func:`linear_schedule`), the heads after the core."""

    ENVS: ClassVar[tuple[str, ...]] = BANDIT_ENVS
    TRAINS: ClassVar[str] = "bandit agents"
    RESUMABLE: ClassVar[tuple[str, ...]] = ("timesteps", "max_seconds", "torch_threads")

    env_id: str = "MetaBandit-v0"
    timesteps: int = 10_000_000  #: env steps to train on
    num_envs: int = 512  #: episodes stepped together
    n_epochs: int = 4
    learning_rate: float = 1e-3
    learning_rate_final: float = 1e-4  #: linear decay to this at the end of the budget
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01  #: entropy bonus at the start
    ent_coef_final: float = 0.0
    ent_anneal_fraction: float = 0.5  #: fraction of the budget over which the bonus falls
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: list[int] = field(default_factory=lambda: [64])  #: MLP of each head after the core
    eval_every: int = 1_000_000
    eval_episodes: int = 4000
    torch_threads: int = 2

    def check_shared(self) -> None:
        """Budget, batch, PPO coefficients in range, schedules in [0, 1], heads of positive sizes."""
        for name in ("timesteps", "num_envs", "n_epochs", "torch_threads"):
            check_int(getattr(self, name), name, 1)
        for name in ("learning_rate", "learning_rate_final"):
            check_number(getattr(self, name), name, 0.0, 1.0)
        for name in ("gamma", "gae_lambda", "ent_anneal_fraction"):
            value = check_number(getattr(self, name), name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        for name in ("clip_range", "ent_coef", "ent_coef_final", "vf_coef", "max_grad_norm"):
            value = check_number(getattr(self, name), name)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not isinstance(self.net_arch, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.net_arch
        ):
            raise ValueError(f"net_arch must be a list of positive ints, got {self.net_arch!r}")

    def schedule(self, timesteps: int) -> tuple[float, float]:
        """``(learning_rate, ent_coef)`` after ``timesteps`` env steps: the learning rate decays
        linearly over the budget, the entropy bonus over ``ent_anneal_fraction`` of it."""
        lr = linear_schedule(self.learning_rate, self.learning_rate_final, 1.0, self.timesteps, timesteps)
        return lr, linear_schedule(self.ent_coef, self.ent_coef_final, self.ent_anneal_fraction, self.timesteps,
                                   timesteps)


def linear_schedule(start: float, end: float, fraction: float, total: int, timesteps: int) -> float:
    """A value going linearly from ``start`` to ``end`` over the first ``fraction`` of ``total`` steps,
    then staying at ``end``: ``end + (start - end) * max(0, 1 - timesteps / (fraction * total))``
    (``fraction <= 0``: ``end`` throughout)."""
    if fraction <= 0:
        return end
    return linear_interpolation(start, end, 1.0 - timesteps / (fraction * total))


def linear_interpolation(start: float, end: float, remaining: float) -> float:
    """``end + (start - end) * max(0, remaining)``: ``start`` when ``remaining = 1``, ``end`` from 0 on.
    As a function of SB3's ``progress_remaining`` it is :func:`linear_schedule` over the whole budget."""
    return end + (start - end) * max(0.0, remaining)


def preset_config(cls: type[TrainerConfig], presets: dict[str, dict[str, Any]], preset: str, env_id: str,
                  env_kwargs: dict[str, Any] | None, seed: int, timesteps: int | None,
                  overrides: dict[str, Any]) -> Any:
    """The validated config ``cls`` of ``presets[preset]`` for ``env_id``, with ``overrides`` of its
    fields; ``timesteps`` (None: the preset's own budget) replaces the budget
    (:meth:`TrainerConfig.with_budget`)."""
    if preset not in presets:
        if len(presets) == 1:
            raise ValueError(f"algo {cls.ALGO} has one preset, {next(iter(presets))!r}; got {preset!r}")
        raise ValueError(f"unknown {cls.LABEL} preset {preset!r}; known: {sorted(presets)}")
    values = {**presets[preset], **overrides, "env_id": env_id, "env_kwargs": dict(env_kwargs or {}), "seed": seed}
    if timesteps is not None:
        values = cls.with_budget(values, timesteps)
        if "max_seconds" in overrides:  # a time limit asked for beside the budget stays
            values["max_seconds"] = overrides["max_seconds"]
    config = cls.from_dict(values)
    config.validate()
    return config


# ---------------------------------------------------------------------------- snapshots


def snapshot_schedule(count: int, updates: int) -> list[int]:
    """``count`` distinct update numbers in ``[1, updates]``, log-spaced from the first update to
    the last, which is always included: ``round(updates ** (k / (count - 1)))`` for ``k = 0 ..
    count - 1`` (``[updates]`` for ``count = 1``), each pushed one past the one before where
    rounding makes them equal (at the start, where the geometric points lie closer than one),
    and back below the next where that overshoots; strictly increasing.

    ``ValueError`` unless ``1 <= count <= updates``."""
    if not 1 <= count <= updates:
        raise ValueError(f"snapshots must be in [1, {updates:,}] (the run's updates), got {count:,}")
    if count == 1:
        return [updates]
    points = [round(math.exp(math.log(updates) * k / (count - 1))) for k in range(count)]
    points[0] = 1
    for k in range(1, count):
        points[k] = max(points[k], points[k - 1] + 1)
    points[-1] = updates
    for k in range(count - 2, -1, -1):
        points[k] = min(points[k], points[k + 1] - 1)
    return points


def snapshot_ladder(count: int, updates: int) -> list[int]:
    """The update numbers at which a time-limited run writes a snapshot, up to ``updates``: the
    rungs ``round(r ** j)``, ``r = 10 ** (1 / (2 count))`` (``2 count`` a decade; every update
    while rungs lie closer than one), and the points of :func:`snapshot_schedule`. Whatever
    step the time limit stops at, ``count`` of them lie near a geometric progression up to it
    (within ``10 ** (1 / (4 count))``, a factor of 1.06 for 10 snapshots)."""
    ratio = 10 ** (1 / (2 * count))
    rungs, value = set(snapshot_schedule(count, updates)), 1.0
    while value <= updates + 0.5:
        rungs.add(min(updates, round(value)))
        value *= ratio
    return sorted(rungs)


def select_snapshots(count: int, saved: Sequence[int], size: int = 1) -> list[int]:
    """The ``count`` of the snapshot progress values ``saved`` to keep (sorted; all of them if
    there are no more than ``count``), the last always among them.

    ``size``: the progress one update makes. Where the last lies on a whole update ``U`` and
    the points of :func:`snapshot_schedule` ``(count, U)`` were all saved (a run that reached its
    budget), they are kept: the same as a run without a time limit. Otherwise, going down from
    the last, each of the ``count - 1`` geometric targets ``lo (hi / lo) ** (k / (count - 1))``
    between the first saved value ``lo`` and the last ``hi`` takes the saved value nearest to it
    on a log scale that is not taken yet."""
    values = sorted({int(v) for v in saved if v > 0})
    if len(values) <= count:
        return values
    last = values[-1]
    if last % size == 0 and count <= last // size:
        ideal = [u * size for u in snapshot_schedule(count, last // size)]
        if set(ideal) <= set(values):
            return ideal
    if count == 1:
        return [last]
    low, high = math.log(values[0]), math.log(last)
    pool, chosen = values[:-1], [last]
    for k in range(count - 2, -1, -1):
        target = low + (high - low) * k / (count - 1)
        best = min(pool, key=lambda v: abs(math.log(v) - target))
        pool.remove(best)
        chosen.append(best)
    return sorted(chosen)


# ---------------------------------------------------------------------------- Ctrl-C


@contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Note Ctrl-C (SIGINT) instead of raising; yields ``interrupted()``. A second Ctrl-C raises
    ``KeyboardInterrupt`` at once. Outside the main thread (no signal handlers there) it notes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits: list[int] = []
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------- evaluation during training


@dataclass
class Evaluation:
    """One evaluation during training: what goes in the history, in TensorBoard, and in the log line."""

    record: dict[str, Any]  #: the history entry (plain JSON data)
    scalars: dict[str, float]  #: TensorBoard tags and values
    line: str  #: the log line, without the step


def bandit_evaluator(config: Any) -> Callable[[Any], Evaluation]:
    """``evaluate(machine)``: the bandit agent on fixed held-out episodes (seed
    ``EVAL_SEED + seed``), paired with the reference policy
    (:func:`agents.bandit_eval.reference_policy`) on the same ones.

    Every evaluation replays the same episodes, so successive figures differ by the policy
    only. The paired difference removes the luck of those episodes: with the Bayes-optimal
    reference, ``paired_gap = -mean(R_agent - R_bayes) / (V_bayes - V_random)`` is the Bayes
    gap with a standard error several times smaller than the plain
    ``bayes_gap = (V_bayes - R) / (V_bayes - V_random)`` (Bernoulli arms only). The
    reference is evaluated once, on the first call.
    """
    from agents.bandit_eval import EVAL_SEED, evaluate_bandit_agent, reference_policy
    from bayes.evaluate import PairedComparison, normalised_gap

    seed = EVAL_SEED + config.seed
    reference: list[Any] = []

    def evaluate(machine: Any) -> Evaluation:
        result = evaluate_bandit_agent(machine, config.env_id, config.env_kwargs, config.eval_episodes, seed=seed)
        if not reference:
            name, policy = reference_policy(config.env_id, config.env_kwargs)
            reference.extend([name, evaluate_bandit_agent(policy, config.env_id, config.env_kwargs,
                                                          config.eval_episodes, seed=seed)])
        name, baseline = reference
        pair = PairedComparison.of(result, baseline)
        record: dict[str, Any] = {"mean_return": result.mean_return, "stderr": result.stderr,
                                  "bayes_gap": result.bayes_gap, "reference": name,
                                  "paired_difference": pair.mean_difference, "paired_stderr": pair.stderr}
        scalars = {"eval/mean_return": result.mean_return, "eval/regret": result.bayes_regret,
                   "eval/paired_difference": pair.mean_difference}
        line = f"return {result.mean_return:.4f} ± {result.stderr:.4f}"
        if result.bayes_gap is not None:
            scalars["eval/bayes_gap"] = result.bayes_gap
            line += f", Bayes gap {result.bayes_gap:.4f}"
        if name == "bayes-optimal" and result.bayes_optimal_return is not None:
            # None where every policy is Bayes-optimal (one arm, one pull): no gap to measure
            record["paired_gap"] = normalised_gap(-pair.mean_difference, result.bayes_optimal_return,
                                                  result.random_return)
            if record["paired_gap"] is None:
                line += " (paired n/a)"
            else:
                scalars["eval/paired_gap"] = record["paired_gap"]
                line += f" (paired {record['paired_gap']:.4f})"
        line += f"; minus {name}: {pair.mean_difference:+.4f} ± {pair.stderr:.4f}"
        return Evaluation(record, scalars, line)

    return evaluate


def predictor_evaluator(config: Any, model: Any, horizon: int) -> Callable[[Any, int, float], Evaluation]:
    """``evaluate(machine, step, loss)``: the mean KL per step from the Bayes predictive of
    ``model`` to the predictor's, ``mean_t E[KL(p_bayes(· | x_<t) || q(· | x_<t))]``, on
    ``config.eval_episodes`` fresh episodes (seed ``10_000 + step``), beside the last training loss."""
    from bayes.evaluate import evaluate_predictor

    def evaluate(machine: Any, step: int, loss: float) -> Evaluation:
        result = evaluate_predictor(machine, model, horizon, config.eval_episodes, seed=10_000 + step)
        return Evaluation({"loss": loss, "mean_kl": result.mean_kl},
                          {"train/log_loss": loss, "eval/mean_kl": result.mean_kl},
                          f"log-loss {loss:.4f}, mean KL to Bayes {result.mean_kl:.5f}")

    return evaluate


# ---------------------------------------------------------------------------- the session


class _GlobalTorchRNG:
    """torch's global generator, with the ``get_state``/``set_state`` of a ``torch.Generator``."""

    def get_state(self) -> Any:
        import torch

        return torch.get_rng_state()

    def set_state(self, state: Any) -> None:
        import torch

        torch.set_rng_state(state)


TORCH_RNG = _GlobalTorchRNG()  #: torch's global generator, for :meth:`Session.resume`'s ``tracked``


def _capture(obj: Any) -> Any:
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    if hasattr(obj, "get_state"):
        return obj.get_state()
    return json.dumps(obj.bit_generator.state)  # a numpy Generator


def _restore(obj: Any, value: Any) -> None:
    if hasattr(obj, "load_state_dict"):
        obj.load_state_dict(value)
    elif hasattr(obj, "set_state"):
        obj.set_state(value)
    else:
        obj.bit_generator.state = json.loads(value)


def check_threads(config: Any) -> None:
    """Refuse a config's ``torch_threads`` above this machine's cores (more threads than cores
    made training 170 times slower on 2 cores). Checked when training starts, not when a run
    is loaded, so a run trained on a larger machine still loads here."""
    threads = getattr(config, "torch_threads", None)
    cores = available_cores()
    if isinstance(threads, int) and threads > cores:
        raise ValueError(f"torch_threads={threads} is more than the {cores} cores this process may use "
                         f"(more threads than cores slows training many times over): use --hp torch_threads={cores} "
                         "or fewer")


class Session:
    """One training session of a run folder: the folder, the clock, the history, TensorBoard, threads.

    ``Session(config, out_dir, log)`` prepares the folder (:func:`agents.runs.prepare_run`:
    config and env checks, a folder of another configuration refused, ``config.json``
    written) and sets torch's threads to ``config.torch_threads`` where the config has them
    (restored by :meth:`close`; ``with Session(...) as session`` closes it). The trainer then
    builds its network and calls :meth:`resume`. ``progress`` counts what the budget counts
    (``unit``: env steps, or gradient steps), under the checkpoint key ``key``; ``seconds`` is
    training time over all sessions of the run. With ``config.snapshots``, :meth:`snapshot`
    after every update and :meth:`finish` when training ends keep the run's snapshots (see the
    module docstring).
    """

    def __init__(self, config: TrainerConfig, out_dir: str | os.PathLike[str], log: Callable[[str], Any] = print,
                 unit: str = "env steps", key: str = "timesteps") -> None:
        self.config, self.log, self.unit, self.key = config, log, unit, key
        check_threads(config)
        self.device = resolve_device(config.device)  # cuda where torch sees none: refused before any work
        self.out: Path = prepare_run(config, out_dir, (*config.RESUMABLE, "device"))
        self.checkpoint = self.out / "checkpoint.pt"
        self.progress, self.history, self.seconds_before = 0, [], 0.0
        self.tracked: dict[str, Any] = {}
        self.also_save: Callable[[], None] | None = None
        self.snapshot_targets: list[int] = []  #: the progress values still to snapshot at, increasing
        self.started = time.perf_counter()
        self.next_eval = self._after(0)
        self.writer: Any = None
        self.threads = None
        if hasattr(config, "torch_threads"):
            import torch

            self.threads = torch.get_num_threads()
            torch.set_num_threads(config.torch_threads)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def resume(self, tracked: dict[str, Any], enabled: bool = True,
               after_restore: Callable[[dict[str, Any]], None] | None = None,
               also_save: Callable[[], None] | None = None) -> None:
        """Name what the checkpoint holds and, with ``enabled`` and a checkpoint in the folder,
        restore it, then take up its progress, history and seconds.

        ``tracked`` maps checkpoint keys to the trainer's objects: torch modules and optimizers
        (``state_dict``), torch generators (``get_state``; :data:`TORCH_RNG` for torch's global
        one) and numpy generators (their bit generator's state, as JSON). ``after_restore(saved)``
        runs after a restore; ``also_save()`` after every checkpoint (a second format of the same
        weights, say)."""
        self.tracked, self.also_save = tracked, also_save
        if enabled and self.checkpoint.exists():
            saved = load_checkpoint(self.checkpoint, self.config)
            try:
                for key, obj in tracked.items():
                    _restore(obj, saved[key])
                if after_restore is not None:
                    after_restore(saved)
                self.progress = int(saved[self.key])
                self.history = json.loads(saved["history"])
                self.seconds_before = float(saved.get("seconds", 0.0))
            except (KeyError, ValueError, TypeError, RuntimeError, AttributeError) as exc:
                what = f"it lacks {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
                raise ValueError(f"{self.checkpoint} is corrupt or of another network ({what}); {REMEDY}") from None
            self.next_eval = self._after(self.progress)
            self.log(f"resumed {self.out} at {self.progress_text()}")
        self._plan_snapshots()
        self.started = time.perf_counter()

    def _plan_snapshots(self) -> None:
        """The progress values still to snapshot at, beyond the progress the session starts from
        (see the module docstring); snapshots beyond it (left by a second Ctrl-C, which keeps no
        checkpoint, or by a run restarted without ``resume``) are removed: training writes them
        again."""
        for progress, path in list_snapshots(self.out):
            if progress > self.progress:
                path.unlink()
        count = self.config.snapshots
        if not count:
            self.snapshot_targets = []
            return
        size, updates = self.config.update_size(), self.config.updates()
        plan = (snapshot_ladder if self.config.max_seconds is not None else snapshot_schedule)(count, updates)
        self.snapshot_targets = [u * size for u in plan if u * size > self.progress]

    def snapshot(self) -> None:
        """After an update: write a snapshot if the progress has reached the next one planned
        (named by the progress reached: an update can pass a planned value only after a resume
        from a checkpoint written between updates, by Ctrl-C during a RecurrentPPO rollout)."""
        if not self.snapshot_targets or self.progress < self.snapshot_targets[0]:
            return
        while self.snapshot_targets and self.snapshot_targets[0] <= self.progress:
            self.snapshot_targets.pop(0)
        self._write_snapshot()

    def _write_snapshot(self) -> None:
        """``snapshots/<progress>.pt``: the tracked torch modules' weights (``state_dict``), the
        progress and the training seconds, written atomically (:func:`agents.runs.save_checkpoint`)."""
        import torch

        weights = {key: obj.state_dict() for key, obj in self.tracked.items() if isinstance(obj, torch.nn.Module)}
        save_checkpoint({**weights, self.key: self.progress, "seconds": self.elapsed()},
                        snapshot_path(self.out, self.progress), self.config, update_config=False)

    def finish(self) -> None:
        """Training has ended (the budget or the time limit is spent): write the snapshot of the
        last step (if it is not there yet, and unless nothing was trained) and keep
        ``config.snapshots`` of those written (:func:`select_snapshots`), with a line saying so.
        Call it after the last checkpoint, so the last snapshot holds its weights."""
        count = self.config.snapshots
        if not count or self.progress <= 0:
            return
        if not snapshot_path(self.out, self.progress).exists():
            self._write_snapshot()
        written = list_snapshots(self.out)
        keep = set(select_snapshots(count, [p for p, _ in written], self.config.update_size()))
        for progress, path in written:
            if progress not in keep:
                path.unlink()
        kept = sorted(keep)
        self.log(f"{len(kept)} snapshots ({self.unit} {kept[0]} to {kept[-1]}, log-spaced) are in "
                 f"{self.out / SNAPSHOTS}")

    def progress_text(self) -> str:
        return f"step {self.progress}" if self.unit == "steps" else f"{self.progress} {self.unit}"

    def _after(self, progress: int) -> int:
        every = self.config.eval_every
        return (progress // every + 1) * every

    def elapsed(self) -> float:
        """Training seconds over every session of the run so far."""
        return self.seconds_before + time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        return self.config.max_seconds is not None and self.elapsed() >= self.config.max_seconds

    def scalars(self, values: dict[str, float], progress: int | None = None) -> None:
        """Write ``values`` to the run's TensorBoard log (``tb/``) at ``progress`` (default: now)."""
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tb"))
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, self.progress if progress is None else progress)

    def save(self) -> None:
        """Write the checkpoint (atomic): the trainer's state, progress, history and seconds."""
        payload = {**{key: _capture(obj) for key, obj in self.tracked.items()}, self.key: self.progress,
                   "history": json.dumps(self.history), "seconds": self.elapsed()}
        save_checkpoint(payload, self.checkpoint, self.config)
        if self.also_save is not None:
            self.also_save()

    def record(self, evaluation: Evaluation, write_scalars: Callable[[dict[str, float]], None] | None = None) -> None:
        """Append an evaluation to the history, log it (TensorBoard and one line), then checkpoint."""
        self.next_eval = self._after(self.progress)
        entry = {self.key: self.progress, "seconds": self.elapsed(), **evaluation.record}
        self.history.append(entry)
        (write_scalars or self.scalars)(evaluation.scalars)
        self.save()
        self.log(f"{self.progress_text()} ({entry['seconds']:.0f} s): {evaluation.line}")

    def stop(self, reason: str) -> None:
        """Checkpoint and say why training stopped early."""
        self.save()
        self.log(f"{reason} at {self.progress_text()}: checkpoint written to {self.checkpoint}")

    def close(self) -> None:
        """Close TensorBoard and give torch back its threads."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
            self.threads = None

    def result(self) -> dict[str, Any]:
        """``{"history", "seconds", key: progress}``: what a trainer returns."""
        return {"history": self.history, "seconds": self.elapsed(), self.key: self.progress}


def run_loop(session: Session, total: int, step: Callable[[], tuple[int, dict[str, Any]]],
             evaluate: Callable[[], Evaluation], progress_bar: bool = False,
             callback: Callable[[dict[str, Any]], bool | None] | None = None) -> None:
    """Train until ``session.progress`` reaches ``total`` or the time limit is spent.

    ``step()`` does one unit of work (a batch, a gradient step: an update) and returns
    ``(progress made, info)``. After each: a snapshot where one is planned
    (:meth:`Session.snapshot`); an evaluation and a checkpoint once ``eval_every`` more progress
    was made, and when training ends (budget or time; a session that starts out of time only
    checkpoints); then ``callback({progress, "seconds", **info})``, where ``False`` stops
    training with a checkpoint, as SB3's callbacks do; then Ctrl-C (see the module docstring).
    When the budget or the time is spent, :meth:`Session.finish` keeps the snapshots.
    """
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=min(session.progress, total), unit="step", unit_scale=True,
                   dynamic_ncols=True)
    try:
        with deferred_interrupt() as interrupted:
            while session.progress < total:
                if session.out_of_time():  # before any step of this session: nothing new to evaluate
                    session.stop("out of time (max_seconds)")
                    session.finish()
                    return
                made, info = step()
                session.progress += made
                session.snapshot()
                if bar is not None:
                    bar.update(made)
                if session.progress >= min(session.next_eval, total) or session.out_of_time():
                    session.record(evaluate())
                if callback is not None and callback({session.key: session.progress, "seconds": session.elapsed(),
                                                      **info}) is False:
                    session.stop("stopped by the callback")
                    return
                if interrupted():
                    session.stop("interrupted")
                    raise KeyboardInterrupt
            session.finish()
    finally:
        if bar is not None:
            bar.close()

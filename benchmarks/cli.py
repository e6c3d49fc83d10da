"""The ``meta-bayes`` command line: a thin layer over the Python API.

Subcommands::

    meta-bayes envs [--json]                       the registered environments and their defaults
    meta-bayes demo [ENV_ID] [--seed S] [--policy bayes|greedy|random] [--set KEY=VALUE ...]
                                                   one episode, step by step, with the posterior
    meta-bayes train ENV_ID --algo supervised|recurrent-ppo|rl2 --out DIR [--timesteps N] [--seed S]
                     [--preset NAME] [--hp KEY=VALUE ...] [--set KEY=VALUE ...] [--snapshots N] [--progress]
                                                   meta-train an LSTM predictor (prediction envs),
                                                   a RecurrentPPO agent or an RL² agent of the fast
                                                   batched trainer (bandit envs); --snapshots keeps
                                                   N log-spaced snapshots of the weights
    meta-bayes evaluate DIR [--episodes N] [--horizon T] [--seed S] [--reference best] [--json]
                                                   the trained agent against the Bayes-optimal one
                                                   on the same episodes: return, Bayes gap (bandits),
                                                   KL per step and log-loss (predictors);
                                                   --reference best: past the exact DP, against
                                                   the best index policy

    meta-bayes simulate DIR [--episodes N] [--out FIGDIR] [--seed S] [--json]
                                                   the simulation analysis between the trained
                                                   agent and the Bayes agent, with its pictures
    meta-bayes progression DIR [--episodes N] [--out FIGDIR] [--seed S] [--json]
                                                   every snapshot of a run trained with --snapshots:
                                                   its behaviour and both simulation directions
                                                   against training progress (progression.png)
    meta-bayes reproduce [--preset quick|full] [--out DIR] [--seeds N] [--tasks NAME ...]
                         [--algo rl2|recurrent-ppo|both] [--backend local|ray|serial] [--workers N] [--address ADDR]
                                                   the whole study and its report (DIR/report.md)
    meta-bayes sweep SPEC --out DIR [--backend local|ray|serial] [--address ADDR] [--workers N] [--report]
                     [--dry-run]                   a grid of tasks, algorithms, seeds, hyperparameters
                                                   and budgets (a YAML or TOML SPEC) on a process pool
                                                   or a Ray cluster; means and 95% intervals across seeds
    meta-bayes report DIR                          the report (DIR/report.md, figures) of a finished
                                                   study or sweep
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import meta_envs
from agents.bandit_eval import REFERENCES
from agents.registry import ALGOS, TRAINERS
from bayes.validation import MAX_EPISODES, MAX_HORIZON

__all__ = ["build_parser", "main"]


def _print_envs(as_json: bool) -> None:
    from meta_envs.catalog import env_table

    rows = env_table()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        defaults = ", ".join(f"{k}={v!r}" for k, v in row["defaults"].items())
        print(f"{row['id']}\n    defaults:    {defaults}")
        print(f"    action:      {row['action_space']}\n    observation: {row['observation_space']}")
        info = ", ".join(f"{k} {tuple(v)}" for k, v in row["info"].items())
        print(f"    info:        {info}")


def _parse_set(items: Sequence[str], flag: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are Python literals (numbers, tuples, strings)."""
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        if len(text) > 10_000:
            raise ValueError(f"{flag} {key}: the value is {len(text):,} characters long; at most 10,000 are read")
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            kwargs[key] = text
    return kwargs


def _count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an int in ``[minimum, maximum]``; argparse names the flag in its error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:,}]"
            raise argparse.ArgumentTypeError(f"expected an int {bounds}, got {text}")
        return value

    parse.__name__ = "int"  # what argparse calls the type in its own messages
    return parse


#: Seeds are stored as 32-bit numbers by some of the libraries underneath (numpy's legacy seeding, SB3).
_SEED = _count(0, 2**32 - 1)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``meta-bayes <command>: error: ...`` and where to read the
    usage, instead of the usage block followed by the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (usage: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="meta-bayes", description="Meta-learning through a Bayesian lens: environments, Bayes agents, studies."
    )
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show Python's traceback too (for a bug report)")
    sub = parser.add_subparsers(dest="command", required=True)
    envs = sub.add_parser("envs", help="list the registered environments and their defaults")
    envs.add_argument("--json", action="store_true", help="print JSON instead of text")
    demo = sub.add_parser("demo", help="play one episode and print the posterior at every step")
    demo.add_argument("env_id", nargs="?", default="MetaBandit-v0", choices=meta_envs.ENV_IDS)
    demo.add_argument("--seed", type=_SEED, default=0)
    demo.add_argument("--policy", choices=("bayes", "greedy", "random"), default="bayes")
    demo.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                      help="an environment argument, e.g. --set n_arms=3 --set 'prior=(2, 2)'")
    train = sub.add_parser("train", help="meta-train an agent on an env and write it to a folder")
    train.add_argument("env_id", choices=meta_envs.ENV_IDS)
    train.add_argument("--algo", choices=ALGOS, required=True,
                       help="; ".join(f"{t.algo}: {t.summary}" for t in TRAINERS.values()))
    train.add_argument("--preset", default=None,
                       help="hyperparameters; default: the env's own tuned preset "
                            "(agents.recurrent_ppo.PRESETS, agents.rl2.PRESETS)")
    train.add_argument("--hp", dest="hyperparameters", action="append", default=[], metavar="KEY=VALUE",
                       help="a hyperparameter over the preset's (recurrent-ppo, rl2), e.g. --hp core=gru "
                            "--hp hidden_size=32")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="a progress bar (default: when stderr is a terminal)")
    train.add_argument("--timesteps", type=_count(1), default=None,
                       help="env steps (predictions) to train on; default: the preset's own budget")
    train.add_argument("--seed", type=_SEED, default=0)
    train.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                       help="where the network trains: cpu (the default: the same numbers on every machine), "
                            "cuda, or auto (CUDA where torch sees one); the envs step on the CPU either way")
    train.add_argument("--out", required=True, help="the run's folder (config, checkpoint, TensorBoard logs)")
    train.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                       help="an environment argument, as for demo")
    train.add_argument("--snapshots", type=_count(1), default=None, metavar="N",
                       help="keep N snapshots of the weights, log-spaced over training, in DIR/snapshots "
                            "(for meta-bayes progression); at most the run's number of updates")
    evaluate = sub.add_parser("evaluate", help="evaluate a trained agent against the Bayes-optimal one")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--episodes", type=_count(2, MAX_EPISODES), default=20_000)
    evaluate.add_argument("--horizon", type=_count(1, MAX_HORIZON), default=None,
                          help="default: the trained horizon (or the one --set gives)")
    evaluate.add_argument("--seed", type=_SEED, default=0)
    evaluate.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                          help="evaluate under a shifted task distribution: an env argument other than the trained "
                               "one (a prior, a noise level, a hazard, a horizon; not one that changes the spaces), "
                               "compared with Bayes under the training prior and under this one")
    evaluate.add_argument("--reference", choices=REFERENCES, default="default",
                          help="bandits whose exact DP does not fit: pair the agent with Thompson sampling (default) "
                               "or with the best of the index policies on the same episodes (best: finite-horizon "
                               "Gittins, Gittins, Bayes-UCB, Thompson sampling)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate = sub.add_parser("simulate", help="does the trained agent simulate the Bayes agent, and vice versa?")
    simulate.add_argument("run_dir")
    simulate.add_argument("--episodes", type=_count(8, MAX_EPISODES), default=1000,
                          help="input episodes (half train the regressors)")
    simulate.add_argument("--out", default=None, help="folder of the pictures (default: RUN_DIR/figures)")
    simulate.add_argument("--seed", type=_SEED, default=0)
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    progression = sub.add_parser("progression",
                                 help="the snapshots of a run: behaviour and both simulation directions over training")
    progression.add_argument("run_dir", help="a run trained with --snapshots N")
    progression.add_argument("--episodes", type=_count(8, MAX_EPISODES), default=1000,
                             help="episodes per snapshot, for the behaviour and the simulation inputs (half of "
                                  "these train the regressors)")
    progression.add_argument("--out", default=None, help="folder of the figure (default: RUN_DIR/figures)")
    progression.add_argument("--seed", type=_SEED, default=0)
    progression.add_argument("--json", action="store_true", help="print one JSON object")
    from benchmarks.reproduce import add_arguments

    reproduce = sub.add_parser("reproduce", help="the whole study: train, evaluate, simulate, write a report")
    add_arguments(reproduce)
    sweep = sub.add_parser("sweep", help="a grid of train + evaluate (+ simulate) jobs, on a process pool or Ray")
    sweep.add_argument("spec", help="the grid: a YAML or TOML file (see benchmarks/sweep_spec.py)")
    sweep.add_argument("--out", required=True, help="the sweep's folder (a rerun resumes it)")
    sweep.add_argument("--backend", choices=("local", "ray", "serial"), default="local",
                       help="local: a process pool on this machine (default); ray: a Ray cluster (--address) or a "
                            "Ray instance started here; serial: one after another in this process")
    sweep.add_argument("--address", default=None,
                       help="the Ray cluster: host:port, ray://host:port or auto (default: start Ray here)")
    sweep.add_argument("--workers", type=_count(1, 1024), default=None,
                       help="cells at a time (default: local, the cores over the SPEC's threads; ray, as many as "
                            "the cluster has CPUs for)")
    sweep.add_argument("--report", action="store_true",
                       help="also write DIR/report.md with the study's figures (regret curves take a while)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="check the SPEC and the folder, list the cells and which are finished; run nothing")
    report = sub.add_parser("report", help="write the report of a finished study or sweep folder")
    report.add_argument("folder")
    return parser


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _train(args: argparse.Namespace, progress: bool) -> None:
    """``meta-bayes train``: the trainer's preset for the env (``--preset``, default the env's own),
    ``--hp`` over it, a budget of ``--timesteps`` env steps (default the preset's)."""
    from agents.registry import train, training_config

    if args.timesteps is not None and args.timesteps < 1:
        raise ValueError(f"--timesteps must be >= 1, got {args.timesteps}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    hyperparameters = _parse_set(args.hyperparameters, "--hp")
    fixed = sorted(set(hyperparameters) & {"env_id", "env_kwargs", "algo", "seed", "timesteps", "snapshots",
                                           "device"})
    if fixed:
        raise ValueError(f"--hp cannot set {fixed}: use the argument of the same name (--set for env_kwargs)")
    if args.algo == "supervised" and hyperparameters:
        raise ValueError(f"--hp applies to recurrent-ppo and rl2, not to supervised (got {sorted(hyperparameters)})")
    if args.snapshots is not None:
        hyperparameters["snapshots"] = args.snapshots
    if args.device is not None:
        from agents.devices import check_device

        hyperparameters["device"] = check_device(args.device, "--device")  # cuda without CUDA: refused now
    config = training_config(args.algo, args.env_id, _parse_set(args.settings), args.seed, args.preset,
                             args.timesteps, hyperparameters, flag="--algo")
    result = train(config, args.out, progress_bar=progress, log=_log)
    _log(f"trained {args.env_id} for {result['train_steps']} env steps in {result['train_seconds']:.1f} s; "
         f"the run is in {args.out}")


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; returns its exit status."""
    if args.command == "envs":
        _print_envs(args.json)
    elif args.command == "demo":
        from benchmarks.demo import run_demo

        run_demo(args.env_id, seed=args.seed, policy=args.policy, **_parse_set(args.settings))
    elif args.command == "train":
        _train(args, sys.stderr.isatty() if args.progress is None else args.progress)
    elif args.command == "evaluate":
        from agents.evaluation import evaluate_run, summary_line

        summary = evaluate_run(args.run_dir, args.episodes, args.horizon, args.seed,
                               settings=_parse_set(args.settings), reference=args.reference)
        print(json.dumps(summary) if args.json else summary_line(summary))
    elif args.command == "reproduce":
        from benchmarks.reproduce import run_from_arguments

        if run_from_arguments(args, log=_log)["failed"]:
            return 1
    elif args.command == "sweep":
        from benchmarks.sweep import sweep

        results = sweep(args.spec, args.out, args.backend, args.address, args.workers, log=_log,
                        report=args.report, dry_run=args.dry_run)
        if args.dry_run:
            return 0
        print((Path(args.out) / "table.md").read_text())
        if results["failed"]:
            return 1
    elif args.command == "report":
        from benchmarks.report import report_folder

        print(report_folder(args.folder, log=_log))
    elif args.command in ("simulate", "progression"):
        from benchmarks.progression import print_progression, run_progression
        from benchmarks.simulate import print_summary, report_run, run_simulation

        run, show = ((run_simulation, print_summary) if args.command == "simulate"
                     else (run_progression, print_progression))
        report_run(args, run, show, _log)
    return 0


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (a long one cut at 2,000 characters)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 2000 else text[:2000] + " ..."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meta-bayes`` console script.

    Exit status: 0 done; 2 a usage or input error (argparse's own, or a ``ValueError``,
    ``TypeError`` or ``ConnectionError`` raised before or while checking the input); 1 a run
    that failed (a cell of a study or sweep, an ``OSError`` such as a full disk, running out of
    memory, or a bug); 130 interrupted (Ctrl-C), with the last checkpoint kept. Every error is
    one line, ``meta-bayes <command>: error: ...``; ``meta-bayes --debug <command>`` also shows
    the traceback.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage error (2) or the help (0)
        return exc.code if isinstance(exc.code, int) else 2
    prefix = f"meta-bayes {args.command}: error:"
    try:
        return _run(args)
    except KeyboardInterrupt:
        where = ""
        if args.command == "train":
            where = f"; its last checkpoint is in {args.out}: run the same command to resume"
        elif args.command in ("sweep", "reproduce"):
            where = f"; finished steps and checkpoints are in {args.out}: run the same command to resume"
        print(f"meta-bayes {args.command}: interrupted{where}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `meta-bayes envs | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as exc:  # one line, never a traceback unless asked for
        if args.debug:
            raise
        if isinstance(exc, (ValueError, TypeError, ConnectionError)):
            print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, MemoryError):
            print(f"{prefix} out of memory ({_one_line(exc)}); ask for less (fewer episodes or envs, a smaller "
                  "network)", file=sys.stderr)
        elif isinstance(exc, OSError):
            print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        else:
            print(f"{prefix} {type(exc).__name__}: {_one_line(exc)} (a bug: please report it with the output of "
                  f"meta-bayes --debug {args.command} ...)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

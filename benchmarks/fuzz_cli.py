"""A fuzzer of bad ``meta-bayes`` command lines: every one must be refused cleanly and quickly.

Usage::

    python -m benchmarks.fuzz_cli [--count N] [--seed S] [--workers W] [--timeout SECONDS] [--json]
                                  [--memory-gb GB] [--repo DIR] [--keep] [--quiet]

It draws ``--count`` (default 500) command lines from a numpy Generator seeded by ``--seed``
(the same seed gives the same command lines) across every subcommand of ``meta-bayes`` (envs,
demo, train, evaluate, simulate, progression, reproduce, sweep, report) and a few with no valid
subcommand at all: one of each subcommand first, then a catalogue of every kind of mistake alone (each of
its values, for those that today's code may accept), in a random order, then random command
lines of one to three mistakes. Each is something a user gets wrong: an unknown or misspelled
flag, a missing argument, a value of the wrong type or out of range (``--seed -1``,
``--episodes 0``, ``10**12``, ``nan``),
``--set``/``--hp`` garbage (``noequals``, ``n_arms=0``, ``num_envs=1000000000``), an unknown env
id, an ``--out`` that is an existing file, under a file or unwritable, a run folder that is
missing, empty or holds a broken ``config.json`` or ``checkpoint.pt``, a sweep SPEC that is
missing, empty, does not parse, is a YAML alias bomb or asks for 100,000,000 seeds, a study
folder whose ``results.json`` is garbage. A mutation that might be valid and expensive (a huge
``--timesteps``) only comes with a part that is surely refused, so that no command line starts
a legitimate long run.

The files the command lines name are made in a temporary folder (removed at the end unless
``--keep``), with a real, tiny training run (``train MetaCoin-v0 --algo supervised --timesteps
1``) as the base of the broken run folders. Every command runs as ``python -m benchmarks ...``
in that folder, in its own session, with ``OMP_NUM_THREADS=1``, at most ``--memory-gb`` of
address space (4 GiB) and ``--timeout`` seconds (20); ``--workers`` (2) run at once.

A *failure* is a command whose output holds a Python traceback, that exits with a status other
than 0, 1, 2 or 130 (killed by a signal included), or that runs past its timeout; also one that
says it met a bug (``meta-bayes`` prints an unexpected exception on one line, "... (a bug: please
report it ...)", and hides its traceback unless ``--debug``). The summary
counts the command lines per subcommand and per exit status, lists every failure (the command
line, its exit status, the last lines of its stderr), groups them by kind, and lists the bad
command lines that exited with 0 (not failures, but inputs nobody refused); ``--json`` prints one
JSON object instead (a line per command still goes to stderr unless ``--quiet``). ``--repo``
fuzzes another source tree (e.g. a clean checkout) than the one holding this file. The exit
status is 0 when no command failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SUBCOMMANDS", "Case", "Result", "generate_commands", "main", "run_fuzzer"]

SUBCOMMANDS = ("envs", "demo", "train", "evaluate", "simulate", "progression", "reproduce", "sweep", "report")
TOP_LEVEL = "(top-level)"  #: command lines without a valid subcommand
ALLOWED_EXIT_CODES = (0, 1, 2, 130)
TRACEBACK = "Traceback (most recent call last)"
#: how ``meta-bayes`` reports an unexpected exception when it hides the traceback (one line; ``--debug`` shows it)
BUG_MARKER = "(a bug: please report it"
REPO = Path(__file__).resolve().parent.parent

HARD, SOFT, NEUTRAL = "hard", "soft", "neutral"
"""Kinds of mutation: *hard* is surely refused before any work; *soft* is bad but may be accepted
by today's code (that is what the fuzzer looks for); *neutral* is valid (it may even be long),
and only joins a command line that holds a hard part."""

BANDIT_ENVS = ("MetaBandit-v0", "MetaGaussianBandit-v0")
PREDICTION_ENVS = ("MetaCoin-v0", "MetaDie-v0", "MetaGaussian-v0", "MetaExponential-v0", "MetaSwitchingCoin-v0")
ENV_IDS = BANDIT_ENVS + PREDICTION_ENVS
BAD_ENV_IDS = ("MetaBandit-v1", "metabandit-v0", "MetaBandit", "CartPole-v1", "", "MetaBandit-v0 ", "MetaBändit-v0",
               "../MetaBandit-v0")
NOT_INTS = ("abc", "nan", "inf", "-inf", "1.5", "", " ", "1e3", "0x10", "10**12", "one")
NON_POSITIVE = ("0", "-1", "-5")
HUGE = (str(10**12), str(2**63), str(10**30))
UNKNOWN_FLAGS = ("--sed", "--epsiodes", "--outt", "--jsn", "--verbose", "-z", "--SEED", "---seed", "--seed_",
                 "--dryrun", "--timestpes", "--algorithm", "--env")
SET_GARBAGE = ("noequals", "=1", "=", "", "==", " = ", "n_arms")
#: env arguments that no env takes (an env's own argument with a bad value, or another env's argument)
BAD_ENV_KWARGS = ("n_arms=0", "n_arms=-1", "n_arms=2.5", "n_arms='x'", "n_arms=True", "n_arms=None", "prior=(-1,2)",
                  'prior="x"', "prior=(1e308,1e308)", "prior=(1,)", "prior=()", "prior=(0,0)", "prior=(1,-2)",
                  "prior=(1e999,1)", "prior=(nan,1)", "prior=[[1]]", "horizon=0", "horizon=-1", "horizon=10**9",
                  "horizon=2.5", "horizon='20'", "noise_std=0", "noise_std=-1", "log_prob_floor=1", "n_outcomes=0",
                  "unknown_key=1", "N_ARMS=2", "render_mode='nope'", "max_episode_steps=-1")
#: bad only on these envs (a Gaussian prior is (mean, std): a mean of -1 is fine)
ENV_ONLY = {"prior=(-1,2)": ("MetaBandit-v0", "MetaExponential-v0", "MetaCoin-v0")}
HUGE_ENV_KWARGS = ("n_arms=1000000000", "horizon=1000000000", "n_outcomes=1000000000")
BAD_HP = ("max_seconds=-1", "hidden_size=0", "hidden_size=-1", "hidden_size=2.5", "hidden_size=True",
          "hidden_size='x'", "learning_rate=-1", "learning_rate=1e999", "learning_rate=nan", "gamma=2.0",
          "clip_range=-1", "n_epochs=0", "core='transformer'", "critic='nope'", "net_arch=[0]", "net_arch=[-4]",
          "torch_threads=0", "eval_every=0", "update='nope'", "num_envs=0", "num_envs=-4", "ent_coef=inf",
          "batch_size=0", "minibatches=0", "lstm_hidden_size=-3")
HUGE_HP = ("hidden_size=10000000", "num_envs=1000000000", "torch_threads=1000", "num_layers=100000",
           "net_arch=[10000000]", "minibatches=1000000", "eval_episodes=1000000000000", "batch_size=1000000000",
           "lstm_hidden_size=10000000")
#: the trainer that has a hyperparameter (the others refuse it as unknown)
ALGO_OF_HP = {"hidden_size": "rl2", "num_layers": "rl2", "core": "rl2", "critic": "rl2", "update": "rl2",
              "minibatches": "rl2", "lstm_hidden_size": "recurrent-ppo", "batch_size": "recurrent-ppo"}
UNKNOWN_HP = ("hiden_size=32", "unknown_hp=1", "HIDDEN_SIZE=32", "lr=0.1", "n_arms=3")
FIXED_HP = ("timesteps=5", "seed=1", "env_id='MetaCoin-v0'", "algo='rl2'", "env_kwargs={}")
OTHER_SEED = 987_654  #: the seed of a run folder that no command line trains again (no resume)
#: not writable even by root (never "/": a command that is not refused would write there)
UNWRITABLE = ("/proc/meta-bayes-fuzz", "/proc/meta-bayes-fuzz/sub", "/dev/null", "/dev/null/sub",
              "/sys/meta-bayes-fuzz")


# ----------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class RunFolder:
    """A run folder to make: ``config`` is a dict merged over the valid run's config (a value of
    ``DELETE`` removes the key), raw bytes written as ``config.json``, or None (no config.json);
    ``checkpoint`` is ``valid``, ``missing``, ``truncated``, ``dir``, or raw bytes."""

    config: dict[str, Any] | bytes | None = field(default_factory=dict)
    checkpoint: str | bytes = "valid"
    results: bytes | None = None  #: a ``results.json`` to write into the folder


DELETE = "<delete>"


@dataclass
class Case:
    """One command line (``argv`` after ``meta-bayes``) and the files it needs, relative to the workspace."""

    index: int
    subcommand: str
    argv: list[str]
    labels: list[str]
    kinds: list[str] = field(default_factory=list)  #: of each label: hard, soft or neutral
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    runs: dict[str, RunFolder] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return shlex.join(["meta-bayes", *self.argv])


class SlotConflictError(Exception):
    """A mutation of a slot that an earlier mutation of the same command line changed."""


@dataclass
class Draft:
    """A command line under construction: named slots of tokens, files, and the labels of its mutations."""

    index: int
    subcommand: str
    positional: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    extra: list[list[str]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    runs: dict[str, RunFolder] = field(default_factory=dict)
    touched: dict[str, int] = field(default_factory=dict)  #: slot -> the mutation that changed it
    names: Counter[str] = field(default_factory=Counter)  #: the paths made so far, per stem

    def _touch(self, slot: str) -> None:
        """Two mutations of one slot: the second would undo the first (maybe the part that is surely refused)."""
        if self.touched.setdefault(slot, len(self.labels)) != len(self.labels):
            raise SlotConflictError(slot)

    def put(self, slot: str, tokens: Sequence[str]) -> None:
        self._touch(slot)
        (self.positional if slot in self.positional else self.options)[slot] = list(tokens)

    def drop(self, slot: str) -> None:
        self._touch(slot)
        if slot in self.positional:
            self.positional[slot] = []  # kept, empty: its place among the positional arguments stays
        self.options.pop(slot, None)

    def path(self, stem: str) -> str:
        """A new name of this case's own in the workspace: ``stem-INDEX``, then ``stem-INDEX.1``, ..."""
        count = self.names[stem]
        self.names[stem] += 1
        return f"{stem}-{self.index}" + (f".{count}" if count else "")

    def finish(self, rng: np.random.Generator) -> Case:
        """The command line: the positional arguments, then the options in a random order."""
        groups = [tokens for tokens in self.options.values()] + self.extra
        order = rng.permutation(len(groups)) if groups else []
        argv = [self.subcommand] if self.subcommand != TOP_LEVEL else []
        argv += [t for tokens in self.positional.values() for t in tokens]
        argv += [t for i in order for t in groups[int(i)]] + self.tail
        return Case(self.index, self.subcommand, argv, self.labels, self.kinds, self.files, self.dirs, self.runs)




class Picker:
    """The choices of a mutation: drawn from ``rng``; in the catalogue (``k`` given) the ``k``-th value
    of its list of ``width`` values (the longest it chooses from), so that each value runs once."""

    def __init__(self, rng: np.random.Generator, k: int | None = None, width: int = 0) -> None:
        self.rng, self.k, self.width = rng, k, width
        self.widths: list[int] = []  #: the length of each list chosen from

    def choice(self, values: Sequence[Any]) -> Any:
        self.widths.append(len(values))
        if self.k is not None and len(values) == self.width:
            return values[self.k]
        return values[int(self.rng.integers(len(values)))]

    def bytes(self, size: int) -> bytes:
        return self.rng.bytes(size)

    def random(self) -> float:
        return float(self.rng.random())


Apply = Callable[[Draft, Picker], str]
Mutation = tuple[str, str, Apply]  #: (label, kind, apply: changes the draft, returns what it chose)


def _option(slot: str, flag: str, values: Sequence[str]) -> Apply:
    """Set ``slot`` to ``flag VALUE``, a value of ``values``."""

    def apply(draft: Draft, pick: Picker) -> str:
        value = pick.choice(values)
        draft.put(slot, [flag, value])
        return value

    return apply


def _positional(slot: str, values: Sequence[str]) -> Apply:
    """Set the positional ``slot`` to a value of ``values``."""

    def apply(draft: Draft, pick: Picker) -> str:
        value = pick.choice(values)
        draft.put(slot, [value])
        return repr(value)

    return apply


def _flag(slot: str, *tokens: str) -> Apply:
    """Set ``slot`` to ``tokens``."""

    def apply(draft: Draft, pick: Picker) -> str:
        draft.put(slot, tokens)
        return ""

    return apply


def _repeated(flag: str, values: Sequence[str]) -> Apply:
    """Add ``flag VALUE`` (a flag that may repeat), a value of ``values``."""

    def apply(draft: Draft, pick: Picker) -> str:
        value = pick.choice(values)
        draft.extra.append([flag, value])
        return value

    return apply


def _drop(slot: str) -> Apply:
    """Leave ``slot`` out (a required argument missing)."""

    def apply(draft: Draft, pick: Picker) -> str:
        draft.drop(slot)
        return ""

    return apply


def _unknown_flag(draft: Draft, pick: Picker) -> str:
    """Add a flag that the subcommand does not know (nor takes as an abbreviation of one it knows)."""
    flag = pick.choice(UNKNOWN_FLAGS)
    draft.extra.append([flag, "1"] if pick.random() < 0.5 else [flag])
    return flag


def _extra_positional(draft: Draft, pick: Picker) -> str:
    """Add a positional argument too many."""
    draft.extra.append([pick.choice(("extra-arg", "1", "-", "x y"))])
    return draft.extra[-1][0]


def _env_kwarg(values: Sequence[str]) -> Apply:
    """``--set`` with a value of ``values``, on an env it is bad for (:data:`ENV_ONLY`)."""

    def apply(draft: Draft, pick: Picker) -> str:
        value = pick.choice(values)
        if value in ENV_ONLY:
            env = pick.choice(ENV_ONLY[value])
            draft.put("env", [env])
            if "algo" in draft.options:
                draft.put("algo", ["--algo", "rl2" if env in BANDIT_ENVS else "supervised"])
        draft.extra.append(["--set", value])
        return value

    return apply


def _dangling(flag: str) -> Apply:
    """``flag`` at the very end, without its value."""

    def apply(draft: Draft, pick: Picker) -> str:
        draft.tail = [flag]
        return ""

    return apply


COMMON: list[Mutation] = [("unknown flag", HARD, _unknown_flag), ("extra positional argument", HARD, _extra_positional)]


# --------------------------------------------------------------------------- out folders


def _out_target(draft: Draft, pick: Picker) -> tuple[str, str]:
    """A bad ``--out``: (its path, what it is)."""
    what = pick.choice(("existing file", "under a file", "unwritable", "empty string", "name too long",
                       "run folder with garbage config", "folder holding another run"))
    if what == "existing file":
        path = draft.path("file") + ".txt"
        draft.files[path] = b"not a folder\n"
    elif what == "under a file":
        file = draft.path("file") + ".txt"
        draft.files[file] = b"not a folder\n"
        path = f"{file}/sub"
    elif what == "unwritable":
        path = pick.choice(UNWRITABLE)
        what = f"unwritable {path}"
    elif what == "empty string":
        path = ""
    elif what == "name too long":
        path = "x" * 300
    elif what == "run folder with garbage config":
        path = draft.path("run")
        draft.runs[path] = RunFolder(config=pick.bytes(48))
    else:
        path = draft.path("run")
        draft.runs[path] = RunFolder(config={"seed": OTHER_SEED})
    return path, what


def _bad_out(slot: str = "out", flag: str = "--out") -> Apply:
    """Set ``--out`` to a path that cannot be an output folder."""

    def apply(draft: Draft, pick: Picker) -> str:
        path, what = _out_target(draft, pick)
        draft.put(slot, [flag, path])
        return what

    return apply


# ---------------------------------------------------------------------------- run folders


CONFIG_BYTES = {"list": b"[1, 2, 3]", "[]": b"[]", "{}": b"{}", "empty file": b"", "null": b"null",
                "a string": b'"rl2"', "truncated JSON": b'{"env_id": "MetaCoin-v0", "algo": "superv',
                "deeply nested JSON": b"[" * 100_000 + b"]" * 100_000}
CONFIG_PATCHES: dict[str, dict[str, Any]] = {
    "unknown algo": {"algo": "dqn"}, "algo of another trainer": {"algo": "rl2"}, "no algo": {"algo": DELETE},
    "algo a number": {"algo": 5}, "unknown env id": {"env_id": "Nope-v0"}, "no env_id": {"env_id": DELETE},
    "env_kwargs a string": {"env_kwargs": "x"}, "env_kwargs null": {"env_kwargs": None},
    "env_kwargs unknown key": {"env_kwargs": {"bogus": 1}}, "env_kwargs horizon 0": {"env_kwargs": {"horizon": 0}},
    "hidden_size other than the checkpoint's": {"hidden_size": 128}, "hidden_size -1": {"hidden_size": -1},
    "hidden_size a string": {"hidden_size": "64"}, "unknown key": {"bogus": 1}, "steps -1": {"steps": -1},
    "seed a string": {"seed": "abc"},
}
SOFT_CONFIG_PATCHES: dict[str, dict[str, Any]] = {
    "env_kwargs horizon 10**9": {"env_kwargs": {"horizon": 10**9}},
    "env_kwargs prior (1e308, 1e308)": {"env_kwargs": {"prior": [1e308, 1e308]}},
    "env_kwargs prior (-1, 2)": {"env_kwargs": {"prior": [-1, 2]}},
    "env_kwargs log_prob_floor 1": {"env_kwargs": {"log_prob_floor": 1.0}},
    "hidden_size 10**7": {"hidden_size": 10**7},
}
CHECKPOINTS = ("missing", "empty", "truncated", "random bytes", "text", "a folder", "a JSON file")


def _bad_run(draft: Draft, pick: Picker, soft: bool) -> tuple[str, str]:
    """A run folder of this case that cannot be evaluated: (its path, what is wrong with it)."""
    path = draft.path("run")
    if soft:
        what = pick.choice(sorted(SOFT_CONFIG_PATCHES))
        draft.runs[path] = RunFolder(config=SOFT_CONFIG_PATCHES[what])
        return path, f"config.json {what}"
    kind = pick.choice(("no folder", "empty folder", "a file", "config bytes", "config patch", "checkpoint",
                       "config.json a folder", "a system folder"))
    if kind == "no folder":
        return path, "no such folder"
    if kind == "empty folder":
        draft.dirs.append(path)
        return path, "empty folder"
    if kind == "a file":
        draft.files[path] = b"a file, not a run folder\n"
        return path, "a file"
    if kind == "a system folder":
        system = pick.choice(("/", "/proc", "/proc/self", "/dev"))
        return system, f"system folder {system}"
    if kind == "config.json a folder":
        draft.runs[path] = RunFolder(config=None)
        draft.dirs.append(f"{path}/config.json")
        return path, "config.json a folder"
    if kind == "config bytes":
        what = pick.choice((*sorted(CONFIG_BYTES), "garbage bytes"))
        content = pick.bytes(64) if what == "garbage bytes" else CONFIG_BYTES[what]
        draft.runs[path] = RunFolder(config=content)
        return path, f"config.json {what}"
    if kind == "config patch":
        what = pick.choice(sorted(CONFIG_PATCHES))
        draft.runs[path] = RunFolder(config=CONFIG_PATCHES[what])
        return path, f"config.json {what}"
    what = pick.choice(CHECKPOINTS)
    contents: dict[str, str | bytes] = {"random bytes": pick.bytes(256), "text": b"hello\n", "empty": b"",
                                        "a JSON file": b"{}", "a folder": "dir"}
    checkpoint = contents.get(what, what)
    draft.runs[path] = RunFolder(checkpoint=checkpoint)
    return path, f"checkpoint.pt {what}"


def _run_dir(slot: str, soft: bool) -> Apply:
    """Set the run folder argument to a broken run folder (``soft``: a readable one with bad settings)."""

    def apply(draft: Draft, pick: Picker) -> str:
        path, what = _bad_run(draft, pick, soft)
        draft.put(slot, [path])
        return what

    return apply


def _valid_run(draft: Draft) -> str:
    """A copy of the valid run, this case's own."""
    path = draft.path("run")
    draft.runs[path] = RunFolder()
    return path


# --------------------------------------------------------------------------- subcommands


def _base_envs(draft: Draft, pick: Picker) -> None:
    return None


ENVS: list[Mutation] = [
    *COMMON,
    ("--json with a value", HARD, _flag("json", "--json=1")),
    ("short flag -j", HARD, _flag("json", "-j")),
]
ENVS_NEUTRAL: list[Mutation] = [("--json", NEUTRAL, _flag("json", "--json"))]


def _base_demo(draft: Draft, pick: Picker) -> None:
    draft.positional["env"] = [pick.choice(ENV_IDS)]


DEMO: list[Mutation] = [
    *COMMON,
    ("unknown env id", HARD, _positional("env", BAD_ENV_IDS)),
    ("--seed not an int", HARD, _option("seed", "--seed", NOT_INTS)),
    ("--seed negative", SOFT, _option("seed", "--seed", ("-1", "-5"))),
    ("--seed huge", SOFT, _option("seed", "--seed", (str(2**64), str(10**30)))),
    ("--policy unknown", HARD, _option("policy", "--policy", ("bayesian", "", "BAYES", "optimal"))),
    ("--set garbage", HARD, _repeated("--set", SET_GARBAGE)),
    ("--set bad env argument", SOFT, _env_kwarg(BAD_ENV_KWARGS)),
    ("--set huge env argument", SOFT, _env_kwarg(HUGE_ENV_KWARGS)),
    ("--seed without a value", HARD, _dangling("--seed")),
]
DEMO_NEUTRAL: list[Mutation] = [
    ("--seed", NEUTRAL, _option("seed", "--seed", ("3", "12"))),
    ("--policy", NEUTRAL, _option("policy", "--policy", ("greedy", "random"))),
    ("--set horizon", NEUTRAL, _repeated("--set", ("horizon=5", "horizon=3"))),
]


def _base_train(draft: Draft, pick: Picker) -> None:
    env = pick.choice(ENV_IDS)
    draft.positional["env"] = [env]
    draft.options["algo"] = ["--algo", pick.choice(("rl2", "recurrent-ppo") if env in BANDIT_ENVS else ("supervised",))]
    draft.options["out"] = ["--out", draft.path("out")]


def _bandit_hp(values: Sequence[str]) -> Apply:
    """``--hp`` with a value of ``values``, on a bandit env with rl2 or recurrent-ppo (which take ``--hp``)."""

    def apply(draft: Draft, pick: Picker) -> str:
        value = pick.choice(values)
        draft.put("env", [pick.choice(BANDIT_ENVS)])
        algo = ALGO_OF_HP.get(value.partition("=")[0]) or pick.choice(("rl2", "recurrent-ppo"))
        draft.put("algo", ["--algo", algo])
        draft.extra.append(["--hp", value])
        return value

    return apply


def _supervised_hp(draft: Draft, pick: Picker) -> str:
    draft.put("env", [pick.choice(PREDICTION_ENVS)])
    draft.put("algo", ["--algo", "supervised"])
    draft.extra.append(["--hp", "hidden_size=32"])
    return ""


def _mismatched_algo(draft: Draft, pick: Picker) -> str:
    env = pick.choice(ENV_IDS)
    algo = "supervised" if env in BANDIT_ENVS else pick.choice(("rl2", "recurrent-ppo"))
    draft.put("env", [env])
    draft.put("algo", ["--algo", algo])
    return f"{algo} on {'a bandit' if env in BANDIT_ENVS else 'a prediction env'}"


def _train_into_other_run(draft: Draft, pick: Picker) -> str:
    """``--out`` a folder holding the valid run (MetaCoin-v0, supervised) while training a bandit."""
    path = draft.path("run")
    draft.runs[path] = RunFolder(config={"seed": OTHER_SEED})
    draft.put("env", [pick.choice(BANDIT_ENVS)])
    draft.put("algo", ["--algo", "rl2"])
    draft.put("out", ["--out", path])
    return ""


TRAIN: list[Mutation] = [
    *COMMON,
    ("unknown env id", HARD, _positional("env", BAD_ENV_IDS)),
    ("no env id", HARD, _drop("env")),
    ("no --algo", HARD, _drop("algo")),
    ("--algo unknown", HARD, _option("algo", "--algo", ("dqn", "RL2", "ppo", "", "both"))),
    ("no --out", HARD, _drop("out")),
    ("--out without a value", HARD, _dangling("--out")),
    ("--seed not an int", HARD, _option("seed", "--seed", NOT_INTS)),
    ("--seed negative", HARD, _option("seed", "--seed", ("-1", "-5"))),
    ("--timesteps not an int", HARD, _option("timesteps", "--timesteps", NOT_INTS)),
    ("--timesteps < 1", HARD, _option("timesteps", "--timesteps", NON_POSITIVE)),
    ("--preset unknown", HARD, _option("preset", "--preset", ("nope", "QUICK", "fast"))),
    ("--hp garbage", HARD, _bandit_hp(SET_GARBAGE)),
    ("--hp fixed key", HARD, _bandit_hp(FIXED_HP)),
    ("--hp unknown key", HARD, _bandit_hp(UNKNOWN_HP)),
    ("--hp on supervised", HARD, _supervised_hp),
    ("--set garbage", HARD, _repeated("--set", SET_GARBAGE)),
    ("--progress with a value", HARD, _flag("progress", "--progress=yes")),
    ("--algo of the other kind of env", SOFT, _mismatched_algo),
    ("--hp bad value", SOFT, _bandit_hp(BAD_HP)),
    ("--hp huge value", SOFT, _bandit_hp(HUGE_HP)),
    ("--set bad env argument", SOFT, _env_kwarg(BAD_ENV_KWARGS)),
    ("--set huge env argument", SOFT, _env_kwarg(HUGE_ENV_KWARGS)),
    ("--out", SOFT, _bad_out()),
    ("--out a folder holding another run", SOFT, _train_into_other_run),
    ("--seed huge", SOFT, _option("seed", "--seed", (str(2**64), str(10**30)))),
]
TRAIN_NEUTRAL: list[Mutation] = [
    ("--timesteps", NEUTRAL, _option("timesteps", "--timesteps", ("1000", *HUGE))),
    ("--seed", NEUTRAL, _option("seed", "--seed", ("3", str(10**12)))),
    ("--progress", NEUTRAL, _flag("progress", "--progress")),
    ("--no-progress", NEUTRAL, _flag("progress", "--no-progress")),
    ("--set horizon", NEUTRAL, _repeated("--set", ("horizon=5",))),
]


def _base_evaluate(draft: Draft, pick: Picker) -> None:
    draft.positional["run"] = [_valid_run(draft)]


RUN_COMMON: list[Mutation] = [
    *COMMON,
    ("bad run folder", HARD, _run_dir("run", soft=False)),
    ("run folder with bad settings", SOFT, _run_dir("run", soft=True)),
    ("no run folder", HARD, _drop("run")),
    ("--seed not an int", HARD, _option("seed", "--seed", NOT_INTS)),
    ("--seed negative", SOFT, _option("seed", "--seed", ("-1", "-5"))),
    ("--seed huge", SOFT, _option("seed", "--seed", (str(2**64), str(10**30)))),
    ("--episodes not an int", HARD, _option("episodes", "--episodes", NOT_INTS)),
    ("--episodes huge", SOFT, _option("episodes", "--episodes", HUGE)),
    ("--json with a value", HARD, _flag("json", "--json=1")),
]
EVALUATE: list[Mutation] = [
    *RUN_COMMON,
    ("--episodes < 2", HARD, _option("episodes", "--episodes", ("1", *NON_POSITIVE))),
    ("--horizon < 1", HARD, _option("horizon", "--horizon", NON_POSITIVE)),
    ("--horizon not an int", HARD, _option("horizon", "--horizon", NOT_INTS)),
    ("--horizon huge", SOFT, _option("horizon", "--horizon", (str(10**9), *HUGE))),
    ("--set not KEY=VALUE", HARD, _option("set", "--set", ("prior", "=3", "", "=", " =1"))),
    ("--set of an unknown key", HARD, _option("set", "--set", ("n_flips=3", "render_mode=ansi", "max_episode_steps=5",
                                                                "seed=1", "PRIOR=bent"))),
    ("--set of a bad or space-changing value", SOFT, _option("set", "--set", (
        "prior=-1", "prior=(0, 0)", "prior=nan", "prior=(1e308, 1e308)", "horizon=0", f"horizon={10**12}",
        "hazard=2", "n_outcomes=4", "n_arms=7", "noise_std=-1", "prior=[[1, 1]] * 100000", "log_prob_floor=1"))),
]
EVALUATE_NEUTRAL: list[Mutation] = [
    ("--episodes", NEUTRAL, _option("episodes", "--episodes", ("100", "50"))),
    ("--json", NEUTRAL, _flag("json", "--json")),
    ("--horizon", NEUTRAL, _option("horizon", "--horizon", ("5",))),
    ("--set", NEUTRAL, _option("set", "--set", ("horizon=10",))),
]


def _base_simulate(draft: Draft, pick: Picker) -> None:
    draft.positional["run"] = [_valid_run(draft)]
    draft.options["episodes"] = ["--episodes", "100"]


SIMULATE: list[Mutation] = [
    *RUN_COMMON,
    ("--episodes < 8", HARD, _option("episodes", "--episodes", ("7", "1", *NON_POSITIVE))),
    ("--out", SOFT, _bad_out()),
]
SIMULATE_NEUTRAL: list[Mutation] = [
    ("--json", NEUTRAL, _flag("json", "--json")),
    ("--seed", NEUTRAL, _option("seed", "--seed", ("4",))),
]


#: every fuzzed run folder has no snapshots, so ``progression`` refuses even the valid base line
PROGRESSION: list[Mutation] = [
    *RUN_COMMON,
    ("--episodes < 8", HARD, _option("episodes", "--episodes", ("7", "1", *NON_POSITIVE))),
    ("--out", SOFT, _bad_out()),
]


def _base_report(draft: Draft, pick: Picker) -> None:
    draft.positional["folder"] = [draft.path("study")]


RESULTS_BAD = {"{}": b"{}", "garbage bytes": None, "empty file": b"", "no results": b'{"kind": "sweep"}',
               "empty results": b'{"results": []}'}
RESULTS_SOFT = {"a list": b"[1, 2]", "[]": b"[]", "null": b"null", "a number": b"5", "a string": b'"x"',
                "results [1]": b'{"results": [1]}', "results [{}]": b'{"results": [{}]}',
                "results a string": b'{"results": "abc"}', "results a mapping": b'{"results": {"a": 1}}',
                "results [null]": b'{"results": [null]}',
                "sweep results of garbage": b'{"kind": "sweep", "name": "x", "results": [{"cell": "x", "config": 1}]}',
                "study results of garbage": b'{"kind": "study", "results": [{"cell": {}}], "configs": 5}',
                "deeply nested": b'{"results": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"}


def _report_folder(soft: bool) -> Apply:
    """A study folder whose ``results.json`` is unreadable (``soft``: readable, of the wrong shape)."""

    def apply(draft: Draft, pick: Picker) -> str:
        path = draft.path("study")
        table = RESULTS_SOFT if soft else RESULTS_BAD
        what = pick.choice(sorted(table))
        content = table[what] if table[what] is not None else pick.bytes(64)
        draft.runs[path] = RunFolder(config=None, checkpoint="missing", results=content)
        draft.put("folder", [path])
        return f"results.json {what}"

    return apply


def _report_elsewhere(draft: Draft, pick: Picker) -> str:
    what = pick.choice(("no folder", "empty folder", "a file", "a run folder", "results.json a folder", "/proc"))
    path = draft.path("study")
    if what == "empty folder":
        draft.dirs.append(path)
    elif what == "a file":
        draft.files[path] = b"a file\n"
    elif what == "a run folder":
        draft.runs[path] = RunFolder()
    elif what == "results.json a folder":
        draft.dirs.append(f"{path}/results.json")
    elif what == "/proc":
        path = "/proc"
    draft.put("folder", [path])
    return what


REPORT: list[Mutation] = [
    *COMMON,
    ("no folder argument", HARD, _drop("folder")),
    ("folder without results", HARD, _report_elsewhere),
    ("bad results.json", HARD, _report_folder(soft=False)),
    ("results.json of the wrong shape", SOFT, _report_folder(soft=True)),
]


def _base_reproduce(draft: Draft, pick: Picker) -> None:
    draft.options["out"] = ["--out", draft.path("out")]


def _bad_study_folder(draft: Draft, pick: Picker) -> str:
    """``--out`` a folder that is not a study: it holds a run, or a garbage ``study.json``."""
    path = draft.path("study")
    what = pick.choice(("non-empty folder without study.json", "study.json garbage", "study.json a list"))
    study = {"study.json garbage": pick.bytes(32), "study.json a list": b"[1]"}.get(what)
    if study is None:
        draft.runs[path] = RunFolder()
    else:
        draft.files[f"{path}/study.json"] = study
    draft.put("out", ["--out", path])
    return what


def _tasks(values: Sequence[str]) -> Apply:
    """``--tasks`` with the names of a value of ``values`` (split at spaces)."""

    def apply(draft: Draft, pick: Picker) -> str:
        value = pick.choice(values)
        draft.put("tasks", ["--tasks", *(value.split(" ") if value else [value])])
        return repr(value)

    return apply


REPRODUCE: list[Mutation] = [
    *COMMON,
    ("--seeds < 1", HARD, _option("seeds", "--seeds", NON_POSITIVE)),
    ("--seeds not an int", HARD, _option("seeds", "--seeds", NOT_INTS)),
    ("--workers < 1", HARD, _option("workers", "--workers", NON_POSITIVE)),
    ("--workers not an int", HARD, _option("workers", "--workers", NOT_INTS)),
    ("--tasks unknown", HARD, _tasks(("nope", "bandit-2arm nope", "", "Coin-Fair", "bandit"))),
    ("--tasks without a name", HARD, _dangling("--tasks")),
    ("--backend unknown", HARD, _option("backend", "--backend", ("nope", "", "LOCAL", "threads"))),
    ("--preset unknown", HARD, _option("preset", "--preset", ("nope", "QUICK", "", "medium"))),
    ("--algo unknown", HARD, _option("algo", "--algo", ("dqn", "supervised", "", "all"))),
    ("--address without --backend ray", HARD, _option("address", "--address", ("127.0.0.1:6379", "auto"))),
    ("--out a folder that is not a study", HARD, _bad_study_folder),
    ("--out", SOFT, _bad_out()),
    ("--seeds huge", SOFT, _option("seeds", "--seeds", HUGE)),
]
REPRODUCE_NEUTRAL: list[Mutation] = [
    ("--preset", NEUTRAL, _option("preset", "--preset", ("quick", "full"))),
    ("--algo", NEUTRAL, _option("algo", "--algo", ("both", "recurrent-ppo"))),
    ("--tasks", NEUTRAL, _tasks(("coin-fair", "die", "coin-fair die"))),
    ("--seeds", NEUTRAL, _option("seeds", "--seeds", ("2", "3"))),
    ("--backend", NEUTRAL, _option("backend", "--backend", ("serial", "ray"))),
    ("--workers", NEUTRAL, _option("workers", "--workers", ("1", "8"))),
]


# ----------------------------------------------------------------------------- sweep SPECs


BASE_SPEC: dict[str, Any] = {"name": "fuzz", "seeds": 1, "tasks": ["bandit-2arm"], "timesteps": 1000,
                             "evaluation": {"episodes": 100}, "simulation": False}
BASE_TOML = ('name = "fuzz"\nseeds = 1\ntimesteps = 1000\nsimulation = false\ntasks = ["bandit-2arm"]\n'
             "[evaluation]\nepisodes = 100\n")
ALIAS_BOMB = "".join(f"{chr(97 + n)}: &{chr(97 + n)} [" + ", ".join([f"*{chr(96 + n)}"] * 9 if n else ['"lol"'] * 9)
                     + "]\n" for n in range(9))
SPEC_PATCHES: dict[str, dict[str, Any]] = {
    "unknown top key": {"sede": 1}, "tasks []": {"tasks": []}, "tasks a string": {"tasks": "bandit-2arm"},
    "no tasks": {"tasks": DELETE}, "unknown task": {"tasks": ["bandit-9arm"]},
    "unknown env id": {"tasks": [{"env_id": "Nope-v0"}]}, "unknown task key": {"tasks": [{"name": "x", "envid": 1}]},
    "task name with spaces": {"tasks": [{"name": "a b!", "env_id": "MetaBandit-v0"}]},
    "two tasks of one name": {"tasks": ["bandit-2arm", "bandit-2arm"]},
    "unknown algo": {"algos": ["dqn"]}, "algos []": {"algos": []}, "seeds 0": {"seeds": 0}, "seeds -1": {"seeds": -1},
    "seeds []": {"seeds": []}, "seeds [0, 0]": {"seeds": [0, 0]}, "seeds a string": {"seeds": "x"},
    "seeds true": {"seeds": True}, "seeds 1.5": {"seeds": 1.5}, "timesteps 0": {"timesteps": 0},
    "timesteps -5": {"timesteps": -5}, "timesteps a string": {"timesteps": "abc"}, "timesteps []": {"timesteps": []},
    "threads 0": {"threads": 0}, "evaluation episodes 1": {"evaluation": {"episodes": 1}},
    "evaluation unknown key": {"evaluation": {"episode": 5}}, "simulation episodes 2": {"simulation": {"episodes": 2}},
    "preset unknown": {"preset": "nope"}, "hyperparameter unknown": {"hyperparameters": {"hiden_size": [32]}},
    "hyperparameter a fixed key": {"hyperparameters": {"seed": [1]}},
    "hyperparameter empty list": {"hyperparameters": {"hidden_size": []}},
    "hyperparameters a list": {"hyperparameters": [1, 2]},
    "env_kwargs n_arms 0": {"tasks": [{"name": "b", "env_id": "MetaBandit-v0", "env_kwargs": {"n_arms": 0}}]},
    "env_kwargs prior (-1, 2)": {"tasks": [{"name": "b", "env_id": "MetaBandit-v0", "env_kwargs": {"prior": [-1, 2]}}]},
    "env_kwargs a list": {"tasks": [{"name": "b", "env_id": "MetaBandit-v0", "env_kwargs": [1]}]},
    "name empty": {"name": ""}, "name a number": {"name": 5},
}
SOFT_SPEC_PATCHES: dict[str, dict[str, Any]] = {
    "seeds 100000000": {"seeds": 100_000_000}, "seeds 2**63": {"seeds": 2**63},
    "hidden_size 10000000": {"hyperparameters": {"hidden_size": [10_000_000]}},
    "num_envs 1000000000": {"hyperparameters": {"num_envs": [1_000_000_000]}},
    "torch_threads 1000": {"hyperparameters": {"torch_threads": [1000]}},
    "max_seconds -1": {"hyperparameters": {"max_seconds": [-1]}}, "threads 1000": {"threads": 1000},
    "env_kwargs n_arms 1000000000": {"tasks": [{"name": "b", "env_id": "MetaBandit-v0",
                                                "env_kwargs": {"n_arms": 1_000_000_000}}]},
    "env_kwargs horizon 10**9": {"tasks": [{"name": "b", "env_id": "MetaBandit-v0",
                                            "env_kwargs": {"horizon": 1_000_000_000}}]},
    "env_kwargs prior (1e308, 1e308)": {"tasks": [{"name": "b", "env_id": "MetaBandit-v0",
                                                   "env_kwargs": {"prior": [1e308, 1e308]}}]},
    "evaluation episodes 10**12": {"evaluation": {"episodes": 10**12}},
    "grid of 2.5M configs": {"hyperparameters": {"hidden_size": list(range(8, 48)), "num_layers": list(range(1, 41)),
                                                 "ent_coef": [i / 1000 for i in range(40)],
                                                 "gamma": [1 - i / 1000 for i in range(40)]}},
}
SPEC_TEXTS: dict[str, tuple[str, bytes]] = {
    "empty": (".yaml", b""), "whitespace": (".yml", b"  \n\n"), "invalid YAML": (".yaml", b"tasks: [bandit-2arm\n"),
    "YAML tabs": (".yaml", b"tasks:\n\t- bandit-2arm\n"),
    "!!python/object/apply tag": (".yaml", b'tasks: !!python/object/apply:os.system ["echo fuzz"]\n'),
    "!!python/object tag": (".yaml", b"tasks: [bandit-2arm]\nname: !!python/object:builtins.object {}\n"),
    "YAML list": (".yaml", b"- bandit-2arm\n"), "YAML scalar": (".yaml", b"42\n"),
    "two YAML documents": (".yaml", b"tasks: [bandit-2arm]\n---\nseeds: 2\n"),
    "duplicate key": (".yaml", b"tasks: [bandit-2arm]\nseeds: 1\nseeds: 2\n"),
    "seeds inf": (".yaml", b"tasks: [bandit-2arm]\nseeds: 1e999\n"),
    "seeds .nan": (".yaml", b"tasks: [bandit-2arm]\nseeds: .nan\n"),
    "TOML garbage": (".toml", b"tasks = [\n= = =\n"), "TOML duplicate table": (".toml", b"[a]\nx = 1\n[a]\nx = 2\n"),
    "TOML seeds 0": (".toml", b'tasks = ["bandit-2arm"]\nseeds = 0\n'),
    "TOML unknown key": (".toml", b'tasks = ["bandit-2arm"]\nsede = 1\n'),
    "TOML seeds inf": (".toml", b'tasks = ["bandit-2arm"]\nseeds = inf\n'),
    "JSON suffix": (".json", b'{"tasks": ["bandit-2arm"]}'), "no suffix": ("", b"tasks: [bandit-2arm]\n"),
    "txt suffix": (".txt", b"tasks: [bandit-2arm]\n"),
}
SOFT_SPEC_TEXTS: dict[str, tuple[str, bytes]] = {
    "YAML alias bomb": (".yaml", f"{ALIAS_BOMB}tasks: [bandit-2arm]\n".encode()),
    "YAML alias bomb in the hyperparameters": (
        ".yaml", f"{ALIAS_BOMB}tasks: [bandit-2arm]\n"
                 "hyperparameters: {hidden_size: *i}\n".encode()),
    "YAML nested 5000 deep": (".yaml", b"tasks: " + b"[" * 5000 + b"]" * 5000 + b"\n"),
    "TOML nested 5000 deep": (".toml", b"tasks = " + b"[" * 5000 + b"]" * 5000 + b"\n"),
    "TOML seeds 100000000": (".toml", BASE_TOML.replace("seeds = 1", "seeds = 100000000").encode()),
    "YAML seeds 0x7fffffffffffffff": (".yaml", b"tasks: [bandit-2arm]\nseeds: 0x7fffffffffffffff\n"),
}


def _spec_json(patch: dict[str, Any]) -> bytes:
    spec = {**BASE_SPEC, **patch}
    return json.dumps({k: v for k, v in spec.items() if v != DELETE}).encode()  # JSON is YAML


def _bad_spec(soft: bool) -> Apply:
    """A SPEC that is surely refused (``soft``: one that may be accepted, and then asks too much)."""

    def apply(draft: Draft, pick: Picker) -> str:
        patches, texts = (SOFT_SPEC_PATCHES, SOFT_SPEC_TEXTS) if soft else (SPEC_PATCHES, SPEC_TEXTS)
        extra = () if soft else ("missing file", "a folder", "invalid UTF-8")
        what = pick.choice((*sorted(patches), *sorted(texts), *extra))
        stem = draft.path("bad-spec")
        if what in patches:
            path, content = f"{stem}.yaml", _spec_json(patches[what])
        elif what in texts:
            path, content = stem + texts[what][0], texts[what][1]
        elif what == "invalid UTF-8":
            path, content = f"{stem}.yaml", b"tasks: [\xff\xfe\x80]\n"
        else:
            path, content = f"{stem}.yaml", None
            if what == "a folder":
                draft.dirs.append(path)
        if content is not None:
            draft.files[path] = content
        draft.put("spec", [path])
        return what

    return apply


def _base_sweep(draft: Draft, pick: Picker) -> None:
    path = draft.path("spec") + ".yaml"
    draft.files[path] = _spec_json({})
    draft.positional["spec"] = [path]
    draft.options["out"] = ["--out", draft.path("out")]


def _sweep_out_not_a_sweep(draft: Draft, pick: Picker) -> str:
    path = draft.path("run")
    draft.runs[path] = RunFolder()
    draft.put("out", ["--out", path])
    return ""


SWEEP: list[Mutation] = [
    *COMMON,
    ("bad SPEC", HARD, _bad_spec(soft=False)),
    ("SPEC asking too much", SOFT, _bad_spec(soft=True)),
    ("no SPEC", HARD, _drop("spec")),
    ("no --out", HARD, _drop("out")),
    ("--workers < 1", HARD, _option("workers", "--workers", NON_POSITIVE)),
    ("--workers not an int", HARD, _option("workers", "--workers", NOT_INTS)),
    ("--backend unknown", HARD, _option("backend", "--backend", ("nope", "", "LOCAL"))),
    ("--address without --backend ray", HARD, _option("address", "--address", ("127.0.0.1:6379", "auto"))),
    ("--out a non-empty folder that is not a sweep", HARD, _sweep_out_not_a_sweep),
    ("--report with a value", HARD, _flag("report", "--report=1")),
    ("--out", SOFT, _bad_out()),
]
SWEEP_NEUTRAL: list[Mutation] = [
    ("--dry-run", NEUTRAL, _flag("dry", "--dry-run")),
    ("--report", NEUTRAL, _flag("report", "--report")),
    ("--backend", NEUTRAL, _option("backend", "--backend", ("serial", "ray"))),
    ("--workers", NEUTRAL, _option("workers", "--workers", ("1", "3"))),
]


def _top_level(draft: Draft, pick: Picker) -> str:
    argv = pick.choice(([], ["trian"], ["Envs"], ["--json"], ["-x"], ["help"], ["envs", "demo"], ["", "envs"],
                       ["--seed", "1", "demo"], ["evaluate-run"], ["sweep"], ["train"], ["reproduce", "quick"]))
    draft.extra.append(list(argv))
    return " ".join(argv) or "(nothing)"


TOP: list[Mutation] = [("no valid subcommand", HARD, _top_level)]

Base = Callable[[Draft, Picker], None]
#: per subcommand: the valid base command line, its bad mutations, its neutral ones, its weight
PLANS: dict[str, tuple[Base, list[Mutation], list[Mutation], float]] = {
    "envs": (_base_envs, ENVS, ENVS_NEUTRAL, 0.5),
    "demo": (_base_demo, DEMO, DEMO_NEUTRAL, 1.0),
    "train": (_base_train, TRAIN, TRAIN_NEUTRAL, 2.0),
    "evaluate": (_base_evaluate, EVALUATE, EVALUATE_NEUTRAL, 1.3),
    "simulate": (_base_simulate, SIMULATE, SIMULATE_NEUTRAL, 1.0),
    "progression": (_base_simulate, PROGRESSION, SIMULATE_NEUTRAL, 0.6),
    "reproduce": (_base_reproduce, REPRODUCE, REPRODUCE_NEUTRAL, 1.0),
    "sweep": (_base_sweep, SWEEP, SWEEP_NEUTRAL, 2.0),
    "report": (_base_report, REPORT, [], 0.7),
    TOP_LEVEL: (_base_envs, TOP, [], 0.2),
}


def _draw_case(index: int, subcommand: str, rng: np.random.Generator) -> Case:
    """A command line of ``subcommand`` with 1 to 3 bad parts (and a valid one, where one is surely refused)."""
    base, bad, neutral, _ = PLANS[subcommand]
    draft = Draft(index, subcommand)
    base(draft, Picker(rng))
    count = 1 if subcommand == TOP_LEVEL else int(rng.choice([1, 1, 1, 2, 2, 3]))
    for i in rng.choice(len(bad), size=min(count, len(bad)), replace=False):
        label, kind, apply = bad[int(i)]
        _apply(draft, Picker(rng), apply, label, kind)
    if HARD in draft.kinds and neutral and rng.random() < 0.5:  # a valid part, now that the line is surely refused
        label, _, apply = neutral[int(rng.integers(len(neutral)))]
        _apply(draft, Picker(rng), apply, f"(valid) {label}", NEUTRAL)
    return draft.finish(rng)


def _apply(draft: Draft, pick: Picker, apply: Apply, label: str, kind: str) -> None:
    """Apply one mutation to ``draft``, or none where it would change a slot an earlier one changed."""
    saved = copy.deepcopy(draft)
    try:
        detail = apply(draft, pick)
    except SlotConflictError:
        for name, value in vars(saved).items():
            setattr(draft, name, value)
        return
    draft.labels.append(f"{label}: {detail}" if detail else label)
    draft.kinds.append(kind)


def _width(subcommand: str, apply: Apply) -> int:
    """How many values a mutation chooses among (the longest of its lists), tried on a scratch draft."""
    pick = Picker(np.random.default_rng(0))
    draft = Draft(-1, subcommand)
    PLANS[subcommand][0](draft, Picker(np.random.default_rng(0)))
    apply(draft, pick)
    return max(pick.widths, default=1)


Entry = tuple[str, Mutation, int | None, int]  #: (subcommand, mutation, k or None: a random value, width)


def catalogue() -> list[Entry]:
    """Every bad mutation of every subcommand: one that is surely refused once (a random value), one
    that today's code may accept once per value of its longest list (the ``k``-th of ``width``)."""
    entries: list[Entry] = []
    for subcommand, (_, bad, _, _) in PLANS.items():
        for mutation in bad:
            if mutation[1] == SOFT:
                width = _width(subcommand, mutation[2])
                entries += [(subcommand, mutation, k, width) for k in range(width)]
            else:
                entries.append((subcommand, mutation, None, 0))
    return entries


def _catalogue_case(index: int, entry: Entry, rng: np.random.Generator) -> Case:
    """A command line of the entry's subcommand with its mutation as the one bad part."""
    subcommand, (label, kind, apply), k, width = entry
    draft = Draft(index, subcommand)
    PLANS[subcommand][0](draft, Picker(rng))
    _apply(draft, Picker(rng, k, width), apply, label, kind)
    return draft.finish(rng)


def generate_commands(count: int = 500, seed: int = 0) -> list[Case]:
    """``count`` bad command lines, the same for the same ``seed``: one of every subcommand (and of
    the top level) first, then the :func:`catalogue` in a random order, each mutation alone, then
    command lines of 1 to 3 bad parts, their subcommand drawn by weight."""
    rng = np.random.default_rng(seed)
    names = list(PLANS)
    cases = [_draw_case(index, name, rng) for index, name in enumerate(names[:count])]
    entries = catalogue()
    for i in rng.permutation(len(entries))[: max(0, count - len(cases))]:
        cases.append(_catalogue_case(len(cases), entries[int(i)], rng))
    weights = np.array([PLANS[name][3] for name in names])
    for i in rng.choice(len(names), size=max(0, count - len(cases)), p=weights / weights.sum()):
        cases.append(_draw_case(len(cases), names[int(i)], rng))
    return cases


# ----------------------------------------------------------------------------- the workspace


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@dataclass
class Workspace:
    """The temporary folder the commands run in, with the valid run that broken run folders are copied from."""

    root: Path
    limits: tuple[int, float]  #: (address space in bytes, seconds)
    repo: Path = REPO  #: the tree whose ``benchmarks`` runs
    valid_config: dict[str, Any] = field(default_factory=dict)
    checkpoint: bytes = b""
    warnings: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment of every command: one thread, this tree first on the path, caches in the workspace."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        path = os.pathsep.join(p for p in (str(self.repo), env.get("PYTHONPATH", "")) if p)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=path,
                   META_BAYES_CACHE=str(self.root / ".cache"), MPLBACKEND="Agg", TMPDIR=str(self.root / ".tmp"),
                   MPLCONFIGDIR=str(self.root / ".mpl"), PYTHONUNBUFFERED="1")
        return env

    def make_valid_run(self) -> None:
        """A real run to corrupt: ``train MetaCoin-v0 --algo supervised --timesteps 1``."""
        (self.root / ".tmp").mkdir(exist_ok=True)
        argv = ["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "1", "--out", ".valid-run"]
        result = run_command(argv, self.root, self.env(), self.limits[0], max(self.limits[1], 60.0), "setup")
        folder = self.root / ".valid-run"
        try:
            self.valid_config = json.loads((folder / "config.json").read_text())
            self.checkpoint = (folder / "checkpoint.pt").read_bytes()
        except (OSError, ValueError):
            self.warnings.append(f"could not make the valid run ({shlex.join(['meta-bayes', *argv])}, exit "
                                 f"{result.exit_code}): {' | '.join(result.stderr_tail)}; the run folders hold a "
                                 "hand-written config and no valid checkpoint")
            self.valid_config = {"env_id": "MetaCoin-v0", "env_kwargs": {}, "algo": "supervised", "seed": 0,
                                 "eval_every": 1, "eval_episodes": 2000, "max_seconds": None, "hidden_size": 64,
                                 "batch_size": 256, "learning_rate": 0.003, "learning_rate_final": None, "steps": 1,
                                 "use_time_input": False}

    def make_run(self, path: Path, run: RunFolder) -> None:
        """Make the run folder ``run`` at ``path``."""
        path.mkdir(parents=True, exist_ok=True)
        if isinstance(run.config, bytes):
            _write(path / "config.json", run.config)
        elif run.config is not None:
            config = {**self.valid_config, **(run.config or {})}
            config = {k: v for k, v in config.items() if v != DELETE}
            _write(path / "config.json", json.dumps(config, indent=2).encode())
        if isinstance(run.checkpoint, bytes):
            _write(path / "checkpoint.pt", run.checkpoint)
        elif run.checkpoint == "valid":
            _write(path / "checkpoint.pt", self.checkpoint)
        elif run.checkpoint == "truncated":
            _write(path / "checkpoint.pt", self.checkpoint[: len(self.checkpoint) // 2])
        elif run.checkpoint == "dir":
            (path / "checkpoint.pt").mkdir(exist_ok=True)
        if run.results is not None:
            _write(path / "results.json", run.results)

    def materialize(self, case: Case) -> None:
        """Make the files and folders ``case`` names."""
        for name, run in case.runs.items():
            self.make_run(self.root / name, run)
        for name in case.dirs:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        for name, content in case.files.items():
            _write(self.root / name, content)


# ------------------------------------------------------------------------------- running


@dataclass
class Result:
    """What one command line did; ``exit_code`` is None on a timeout, negative when killed by a signal."""

    case: Case
    exit_code: int | None
    seconds: float
    traceback: bool
    stderr_tail: list[str]
    exception: str = ""
    bug: bool = False  #: the command said it met a bug (an unexpected exception, its traceback hidden)

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    @property
    def reasons(self) -> list[str]:
        out = []
        if self.traceback:
            out.append(f"traceback ({self.exception or 'unknown exception'})")
        if self.bug:
            out.append(f"a bug by its own account ({self.exception or 'unknown exception'})")
        if self.timed_out:
            out.append("timeout")
        elif self.exit_code not in ALLOWED_EXIT_CODES:
            out.append(f"exit code {self.exit_code}")
        return out

    @property
    def failed(self) -> bool:
        return bool(self.reasons)

    @property
    def kind(self) -> str:
        """A short name of the failure, for grouping: ``timeout``, the exception type, ``exit N``."""
        if self.timed_out:
            return "timeout"
        if self.traceback or self.bug:
            return self.exception.split(":")[0] or "traceback"
        return f"exit {self.exit_code}"

    def as_dict(self, files: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.case.index, "subcommand": self.case.subcommand,
                               "command": self.case.command, "argv": self.case.argv, "labels": self.case.labels,
                               "exit_code": self.exit_code, "timed_out": self.timed_out,
                               "seconds": round(self.seconds, 2), "reasons": self.reasons, "kind": self.kind,
                               "exception": self.exception, "stderr_tail": self.stderr_tail}
        if files:
            out["files"] = {k: v[:300].decode(errors="replace") for k, v in self.case.files.items()}
        return out


def _limit(memory: int) -> Callable[[], None]:
    """The child's limits: ``memory`` bytes of address space, 1 GiB per file written, no core dumps."""

    def preexec() -> None:  # in the child, after setsid
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return preexec


def _session_members(session: int) -> list[int]:
    """The processes of ``session`` (Linux ``/proc``), pool workers that left the process group included."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:
                members.append(int(entry.name))
    return members


def _kill_session(session: int) -> None:
    """SIGKILL every process of ``session`` (a few rounds: one may fork while it is being killed)."""
    for _ in range(3):
        members = _session_members(session)
        if not members:
            return
        for pid in members:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _scan(path: Path, needle: bytes) -> bool:
    """Whether the file at ``path`` holds ``needle`` (read in chunks: the output may be large)."""
    overlap = b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            if needle in overlap + chunk:
                return True
            overlap = chunk[-len(needle):]
    return False


def _tail(path: Path, size: int = 16_384) -> str:
    """The last ``size`` bytes of the file at ``path``, as text."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - size))
        return f.read().decode(errors="replace")


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b|^[A-Za-z_][\w.]*: ")


def _exception(text: str) -> str:
    """The exception of the last traceback in ``text`` (``Type: message``): the last line after it
    that names one (the traceback's start may be cut off: a deep recursion)."""
    after = text.rsplit(TRACEBACK, 1)[-1]
    found = [line for line in after.splitlines() if _EXCEPTION_LINE.match(line)]
    return found[-1].strip()[:300] if found else ""


_RUNNING: set[int] = set()
_LOCK = threading.Lock()
_FORK = threading.Lock()


def run_command(argv: Sequence[str], cwd: Path, env: dict[str, str], memory: int, timeout: float,
                name: str, case: Case | None = None) -> Result:
    """``python -m benchmarks argv`` in ``cwd``, in its own session, under ``memory`` bytes and ``timeout`` seconds."""
    out_path, err_path = cwd / ".out" / f"{name}.stdout", cwd / ".out" / f"{name}.stderr"
    out_path.parent.mkdir(exist_ok=True)
    start = time.perf_counter()
    with out_path.open("wb") as stdout, err_path.open("wb") as stderr:
        with _FORK:  # one fork at a time: preexec_fn runs in the child of a threaded process
            process = subprocess.Popen([sys.executable, "-m", "benchmarks", *argv], cwd=cwd, env=env,
                                       stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                       start_new_session=True, preexec_fn=_limit(memory))
        with _LOCK:
            _RUNNING.add(process.pid)
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _kill_session(process.pid)  # the command's leftovers too: pool workers, a stuck child
            process.wait()
            with _LOCK:
                _RUNNING.discard(process.pid)
    seconds = time.perf_counter() - start
    needle = TRACEBACK.encode()
    traceback = _scan(out_path, needle) or _scan(err_path, needle)
    err = _tail(err_path)
    exception = (_exception(err) or _exception(_tail(out_path))) if traceback else ""
    bug = next((line for line in err.splitlines() if BUG_MARKER in line), "") if not traceback else ""
    if bug:
        found = re.search(r"error: ([\w.]+): (.*) \(a bug", bug)
        exception = f"{found.group(1)}: {found.group(2)}"[:300] if found else bug[:300]
    tail = [line for line in err.splitlines() if line.strip()][-3:]
    out_path.unlink()
    err_path.unlink()
    if case is None:
        case = Case(-1, argv[0] if argv else TOP_LEVEL, list(argv), [])
    return Result(case, code, seconds, traceback, tail, exception, bool(bug))


def _kill_running() -> None:
    with _LOCK:
        running = list(_RUNNING)
    for pid in running:
        _kill_session(pid)


@contextlib.contextmanager
def workspace(memory: int, timeout: float, keep: bool = False, repo: Path = REPO) -> Iterator[Workspace]:
    """A temporary folder for the commands (removed at the end unless ``keep``); running commands are killed."""
    root = Path(tempfile.mkdtemp(prefix="meta-bayes-fuzz-"))
    try:
        yield Workspace(root, (memory, timeout), repo.resolve())
    finally:
        _kill_running()
        if keep:
            print(f"the workspace is kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def run_fuzzer(count: int = 500, seed: int = 0, workers: int = 2, timeout: float = 20.0, memory_gb: float = 4.0,
               keep: bool = False, progress: Callable[[Result], None] | None = None,
               repo: Path = REPO) -> dict[str, Any]:
    """Generate and run ``count`` bad command lines against the ``benchmarks`` of ``repo``; returns the
    summary (see :func:`summary`)."""
    cases = generate_commands(count, seed)
    memory = int(memory_gb * 2**30)
    start = time.perf_counter()
    with workspace(memory, timeout, keep, repo) as space:
        space.make_valid_run()
        for case in cases:
            space.materialize(case)
        env = space.env()

        def one(case: Case) -> Result:
            result = run_command(case.argv, space.root, env, memory, timeout, str(case.index), case)
            if progress is not None:
                progress(result)
            return result

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, cases))
        warnings = space.warnings
    return summary(results, seed=seed, workers=workers, timeout=timeout, seconds=time.perf_counter() - start,
                   warnings=warnings, repo=str(repo))


# ------------------------------------------------------------------------------- reporting


def _bad_labels(result: Result) -> str:
    return "; ".join(sorted(label for label in result.case.labels if not label.startswith("(valid)")))


def _group_failures(failures: Sequence[Result]) -> list[dict[str, Any]]:
    """Failures grouped by subcommand, kind and the labels of their bad parts (the valid parts left out)."""
    groups: dict[tuple[str, str, str], list[Result]] = {}
    for result in failures:
        groups.setdefault((result.case.subcommand, result.kind, _bad_labels(result)), []).append(result)
    return [{"subcommand": sub, "kind": kind, "bad": labels, "count": len(items), "example": items[0].case.command,
             "exception": items[0].exception, "stderr_tail": items[0].stderr_tail}
            for (sub, kind, labels), items in sorted(groups.items())]


def summary(results: Sequence[Result], seed: int, workers: int, timeout: float, seconds: float,
            warnings: Sequence[str] = (), repo: str = str(REPO)) -> dict[str, Any]:
    """The report of a run: counts per subcommand and exit status, every failure, the failures grouped by kind."""
    failures = [r for r in results if r.failed]
    codes = Counter("timeout" if r.timed_out else str(r.exit_code) for r in results)
    return {"count": len(results), "repo": repo, "seed": seed, "workers": workers, "timeout": timeout,
            "seconds": round(seconds, 1),
            "subcommands": dict(sorted(Counter(r.case.subcommand for r in results).items())),
            "exit_codes": dict(sorted(codes.items())), "failed": len(failures), "warnings": list(warnings),
            "failures": [r.as_dict(files=True) for r in failures], "failure_kinds": _group_failures(failures),
            "accepted": [{"command": r.case.command, "bad": _bad_labels(r)} for r in results if r.exit_code == 0],
            "results": [{"index": r.case.index, "command": r.case.command, "labels": r.case.labels,
                         "exit_code": r.exit_code, "seconds": round(r.seconds, 2), "failed": r.failed}
                        for r in results]}


def format_summary(report: dict[str, Any]) -> str:
    """The text of a :func:`summary`."""
    lines = [f"meta-bayes CLI fuzzer: {report['count']} command lines (seed {report['seed']}, {report['workers']} "
             f"workers, {report['timeout']:g} s timeout) in {report['seconds']:.1f} s; the code of {report['repo']}",
             "per subcommand: " + ", ".join(f"{k} {v}" for k, v in report["subcommands"].items()),
             "exit codes:     " + ", ".join(f"{k}: {v}" for k, v in report["exit_codes"].items()),
             *(f"warning: {w}" for w in report["warnings"]),
             f"failures: {report['failed']}"]
    for failure in report["failures"]:
        code = "timeout" if failure["timed_out"] else f"exit {failure['exit_code']}"
        lines.append(f"  [{code}, {failure['seconds']:.1f} s] {failure['command']}")
        lines.append(f"      bad: {'; '.join(failure['labels'])}; {', '.join(failure['reasons'])}")
        lines += [f"      | {line[:200]}" for line in failure["stderr_tail"]]
    if report["accepted"]:
        lines.append(f"accepted with exit status 0 (not failures; bad inputs that were not refused): "
                     f"{len(report['accepted'])}")
        lines += [f"  {item['command']}\n      bad: {item['bad']}" for item in report["accepted"]]
    if report["failure_kinds"]:
        lines.append(f"failure kinds: {len(report['failure_kinds'])}")
        for kind in report["failure_kinds"]:
            lines.append(f"  {kind['subcommand']} [{kind['kind']}] x{kind['count']}: {kind['bad']}")
            lines.append(f"      e.g. {kind['example']}")
            if kind["exception"]:
                lines.append(f"      {kind['exception'][:200]}")
    return "\n".join(lines)


def _progress(total: int) -> Callable[[Result], None]:
    done = [0]
    lock = threading.Lock()

    def show(result: Result) -> None:
        with lock:
            done[0] += 1
            mark = "FAIL " + ", ".join(result.reasons) if result.failed else f"exit {result.exit_code}"
            print(f"[{done[0]}/{total}] {result.seconds:5.1f} s {mark}: {result.case.command[:160]}",
                  file=sys.stderr, flush=True)

    return show


def build_parser() -> argparse.ArgumentParser:
    """The fuzzer's own command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500, help="command lines to run (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the command lines (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="commands at a time (default 2)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per command (default 20)")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address space per command, GiB (default 4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="the source tree whose meta-bayes to fuzz (default: the one holding this file)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace (its path on stderr)")
    parser.add_argument("--quiet", action="store_true", help="no line per command on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzer; 0 when no command line failed, 1 otherwise."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # the workspace is removed, children killed
    for name in ("count", "workers"):
        if getattr(args, name) < 1:
            build_parser().error(f"--{name} must be >= 1")
    if not args.timeout > 0 or not args.memory_gb > 0:
        build_parser().error("--timeout and --memory-gb must be > 0")
    show = None if args.quiet else _progress(args.count)
    report = run_fuzzer(args.count, args.seed, args.workers, args.timeout, args.memory_gb, args.keep, show, args.repo)
    print(json.dumps(report, indent=2) if args.json else format_summary(report))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""A fingerprint of each trainer's numbers: short seeded runs, a hash of their final weights, their history.

Usage::

    python -m benchmarks.training_fingerprint > after.json
    git worktree add /tmp/before OLD && (cd /tmp/before && python -m benchmarks.training_fingerprint) > before.json
    diff before.json after.json     # no output: the same seeds gave the same numbers

Each case trains in a process of its own on one torch thread (so that no setting of one run
leaks into the next), through the trainers' public functions only, so the script runs
unchanged on an older commit: the RL² preset with PPO and an LSTM, RL² with A2C and a GRU,
RecurrentPPO, and the supervised LSTM predictor. For each it prints the SHA-256 of the final
checkpoint's network tensors and every evaluation of the history (progress, return or loss,
paired difference or KL), rounded to 12 significant digits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

CASES = ("rl2-ppo-lstm", "rl2-a2c-gru", "recurrent-ppo", "supervised")


def _digest(state: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _round(value: Any) -> Any:
    return float(f"{value:.12g}") if isinstance(value, float) else value


def run_case(case: str) -> dict[str, Any]:
    """Train one case in a temporary folder; its weights' hash and history."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        if case.startswith("rl2"):
            from agents.rl2 import preset_config, train_rl2

            extra = {"core": "gru", "update": "a2c"} if case == "rl2-a2c-gru" else {}
            config = preset_config("quick", "MetaBandit-v0", seed=3, timesteps=40_960, eval_every=20_480,
                                   eval_episodes=200, torch_threads=1, **extra)
            result, key, keep = train_rl2(config, folder, log=lambda m: None), "network", ("mean_return",
                                                                                         "paired_difference")
        elif case == "recurrent-ppo":
            from agents.recurrent_ppo import preset_config, train_recurrent_ppo

            config = preset_config("quick", "MetaBandit-v0", seed=2, timesteps=5_120, eval_every=2_560,
                                   eval_episodes=200, torch_threads=1)
            result, key, keep = train_recurrent_ppo(config, folder, log=lambda m: None), "policy", ("mean_return",)
        else:
            from agents.predictor import PredictorConfig, train_predictor

            config = PredictorConfig(env_id="MetaDie-v0", steps=60, eval_every=30, eval_episodes=200, seed=5,
                                     hidden_size=16)
            result, key, keep = train_predictor(config, folder, log=lambda m: None), "network", ("loss", "mean_kl")
        saved = torch.load(f"{folder}/checkpoint.pt", weights_only=True)
        progress = "step" if case == "supervised" else "timesteps"
        history = [[entry[progress], *(_round(entry.get(k)) for k in keep)] for entry in result["history"]]
        return {"weights": _digest(saved[key]), "history": history}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, default=None, help="one case, in this process")
    args = parser.parse_args(argv)
    if args.case is not None:
        print(json.dumps(run_case(args.case)))
        return 0
    out = {}
    for case in CASES:
        done = subprocess.run([sys.executable, "-m", "benchmarks.training_fingerprint", "--case", case],
                              capture_output=True, text=True, check=True)
        out[case] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

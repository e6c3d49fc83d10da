"""The study's task suite: the nine tasks of :mod:`benchmarks.reproduce`, which a sweep may also name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.bandit_eval import BANDIT_ENVS

__all__ = ["TASKS", "Task"]


@dataclass(frozen=True)
class Task:
    """One task of the suite: an env with its arguments, and the shifted task distributions its
    agents are also evaluated on (``shifts``: a label to the env arguments that replace the
    trained ones, as ``meta-bayes evaluate --set``)."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    shifts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bandit(self) -> bool:
        return self.env_id in BANDIT_ENVS

    def algos(self, choice: str) -> tuple[str, ...]:
        """The trainers of this task under ``--algo choice``: the predictor's, or the bandit trainers chosen."""
        if not self.bandit:
            return ("supervised",)
        return ("rl2", "recurrent-ppo") if choice == "both" else (choice,)


TASKS: tuple[Task, ...] = (
    # the seed's fair-coin and bent-coin predictors, each also evaluated on the other's coins
    Task("coin-fair", "MetaCoin-v0", {"prior": "fair"}, shifts={"bent coins": {"prior": "bent"}}),
    Task("coin-bent", "MetaCoin-v0", {"prior": "bent"}, shifts={"fair coins": {"prior": "fair"}}),
    Task("die", "MetaDie-v0"),
    Task("gaussian", "MetaGaussian-v0"),
    Task("exponential", "MetaExponential-v0"),
    Task("switching-coin", "MetaSwitchingCoin-v0"),  # the bias re-drawn with probability 0.1 before each flip
    # trained on uniform arms, also evaluated where arm 0 is a priori the better one
    Task("bandit-2arm", "MetaBandit-v0", {"n_arms": 2}, shifts={"skewed arms": {"prior": [[3.0, 1.0], [1.0, 3.0]]}}),
    Task("bandit-3arm", "MetaBandit-v0", {"n_arms": 3}),
    Task("gaussian-bandit", "MetaGaussianBandit-v0"),
)

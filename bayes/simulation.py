"""The simulation analysis: does one agent, seen as a state machine, simulate another?

Two agents ``A`` and ``B`` (:class:`~bayes.statemachine.StateMachine`) read the same input
sequences. ``B`` *simulates* ``A`` if every state ``a`` of ``A`` has a state ``phi(a)`` of ``B``
that behaves the same: stepped on the same input, ``B`` from ``phi(a)`` reaches the state
``phi(a')`` that ``A``'s own next state ``a'`` maps to, and gives ``A``'s output. Exact
simulation is a relation between finite machines; for a trained network it is relaxed as in
the seed text: ``phi`` is a regressor fitted on the states that both agents visit on the same
inputs, and on held-out episodes we measure how far the mapped transitions and outputs are from
matching.

For each held-out transition ``(a_t, x_{t+1})`` (``a_{-1}`` the initial state, so an episode of
``T`` inputs gives ``T`` transitions):

- ``b~, out~ = B.step(phi(a_t), x_{t+1})``: ``B`` stepped from the mapped state;
- **state dissimilarity**: :math:`\\sum \\|\\phi(a_{t+1}) - \\tilde b\\|^2 / \\sum \\|b_{t+1} -
  \\bar b\\|^2`, the squared error between the mapped next state of ``A`` and ``B``'s next state
  from the mapped state, over the total variance of ``B``'s own states (all in ``B``'s
  regression coordinates, below): 0 is a perfect match, 1 is no better than always answering
  ``B``'s mean state;
- **output dissimilarity**: the mean over transitions of ``D(out_A(t+1), out~)``, with ``D`` the
  KL divergence between predictive distributions for predictors (:func:`bayes.kl.kl_divergence`)
  or the total-variation distance between action distributions for bandit policies
  (:func:`total_variation`); for bandit policies also the **return difference**: the return of
  ``A`` minus that of the hybrid agent that keeps ``A``'s state and acts with ``B``'s output from
  the mapped state, on the same episodes (see :func:`simulation_analysis`).

Both directions are run: ``"b_simulates_a"`` maps ``A``'s states into ``B`` and
``"a_simulates_b"`` the reverse. Standard errors are over held-out episodes.

A machine whose states are constrained (integer counts, non-negative statistics) may define
``project_state(state) -> state``, the nearest valid state; it is applied to every state the
regressor produces before that state is stepped.

A machine whose state coordinates are ill-scaled for a least-squares regressor may define
``encode_state(state) -> coordinates`` and its inverse ``decode_state(coordinates) -> state``
(both ``(B, d)`` to ``(B, d')``): regressors then read and produce its states in those
coordinates, ``project_state`` is applied after decoding, and the state dissimilarity is
measured in them. The case in point is a sum of heavy-tailed outcomes (the Gamma-exponential
predictor's ``sum x``): in raw units a few huge sums dominate the standardisation and the
squared error, so the fitted map is off by tens of units on the typical small sums, while the
output depends on the sum through its logarithm (the Lomax scale); see
:meth:`bayes.predictors.BayesPredictor.encode_state`.

The regressor is pluggable (anything with ``fit(X, Y)`` and ``predict(X)``); the default,
:class:`MLPRegressor`, is a numpy multi-layer perceptron (this package depends on numpy and
scipy only).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from bayes.evaluate import standard_error
from bayes.statemachine import StateMachine
from bayes.validation import check_int, check_number, check_rng

__all__ = [
    "DirectionResult",
    "MLPRegressor",
    "MappedMachine",
    "Regressor",
    "SimulationResult",
    "run_machine",
    "simulation_analysis",
    "total_variation",
]


class Regressor(Protocol):
    """What the analysis needs of a regressor from ``(N, d_in)`` to ``(N, d_out)``."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


# ------------------------------------------------------------------------------ the MLP


class MLPRegressor:
    """A multi-layer perceptron fitted by Adam on the mean squared error, in numpy.

    Default architecture and budget: inputs and targets standardised per dimension (constant
    dimensions left at 0), ``hidden=(64, 64)`` tanh layers, a linear output; Adam (learning
    rate ``lr`` 3e-3, halved after each third of the budget), minibatches of ``batch_size``
    256, ``steps`` 2000 updates (about 2 s on one core for 128-dimensional states); 10% of the
    rows are held out and the weights with the lowest validation error are kept (early
    stopping). Deterministic for a given ``seed``.
    """

    def __init__(self, hidden: tuple[int, ...] = (64, 64), steps: int = 2000, batch_size: int = 256,
                 lr: float = 3e-3, seed: int = 0) -> None:
        self.hidden = tuple(check_int(h, "hidden", 1) for h in hidden)
        self.steps = check_int(steps, "steps", 1)
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.lr = check_number(lr, "lr", 0.0)
        self.seed = check_int(seed, "seed", 0)
        self.weights: list[tuple[np.ndarray, np.ndarray]] = []

    @staticmethod
    def _scale(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = a.mean(axis=0), a.std(axis=0)
        return mean, np.where(std > 1e-12, std, 1.0)

    def _forward(self, x: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        acts = [x]
        for i, (w, b) in enumerate(weights):
            z = acts[-1] @ w + b
            acts.append(np.tanh(z) if i < len(weights) - 1 else z)
        return acts

    def fit(self, x: np.ndarray, y: np.ndarray) -> MLPRegressor:
        """Fit on rows ``x (N, d_in)`` -> ``y (N, d_out)``; returns ``self``."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
            raise ValueError(f"fit needs x (N, d_in) and y (N, d_out) with the same N >= 2, got {x.shape}, {y.shape}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("fit needs finite x and y")
        rng = np.random.default_rng(self.seed)
        self.x_scale, self.y_scale = self._scale(x), self._scale(y)
        xs, ys = (x - self.x_scale[0]) / self.x_scale[1], (y - self.y_scale[0]) / self.y_scale[1]
        order = rng.permutation(len(xs))
        n_val = max(1, len(xs) // 10)
        val, train = order[:n_val], order[n_val:] if len(xs) > n_val else order
        sizes = [x.shape[1], *self.hidden, y.shape[1]]
        weights = [(rng.normal(0.0, 1.0 / np.sqrt(m), (m, n)), np.zeros(n)) for m, n in itertools.pairwise(sizes)]
        first = [[np.zeros_like(p) for p in layer] for layer in weights]  # Adam's moment estimates
        second = [[np.zeros_like(p) for p in layer] for layer in weights]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        best, best_err = [tuple(p.copy() for p in layer) for layer in weights], np.inf
        check_every = max(1, self.steps // 60)
        for step in range(1, self.steps + 1):
            rows = train[rng.integers(0, len(train), min(self.batch_size, len(train)))]
            acts = self._forward(xs[rows], weights)
            grad = 2.0 * (acts[-1] - ys[rows]) / len(rows)
            lr = self.lr * 0.5 ** (3 * (step - 1) // self.steps)
            for i in range(len(weights) - 1, -1, -1):
                w = weights[i][0]
                gw, gb = acts[i].T @ grad, grad.sum(axis=0)
                if i > 0:
                    grad = (grad @ w.T) * (1.0 - acts[i] ** 2)
                for j, g in enumerate((gw, gb)):
                    first[i][j] = beta1 * first[i][j] + (1 - beta1) * g
                    second[i][j] = beta2 * second[i][j] + (1 - beta2) * g * g
                    m_hat = first[i][j] / (1 - beta1**step)
                    v_hat = second[i][j] / (1 - beta2**step)
                    weights[i][j][...] -= lr * m_hat / (np.sqrt(v_hat) + eps)
            if step % check_every == 0 or step == self.steps:
                err = float(np.mean((self._forward(xs[val], weights)[-1] - ys[val]) ** 2))
                if err < best_err:
                    best_err, best = err, [tuple(p.copy() for p in layer) for layer in weights]
        self.weights = [(w, b) for w, b in best]
        self.validation_mse = best_err  # in standardised units
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N, d_out)`` predictions for rows ``x (N, d_in)``."""
        if not self.weights:
            raise RuntimeError("call fit() before predict()")
        xs = (np.asarray(x, dtype=np.float64) - self.x_scale[0]) / self.x_scale[1]
        return self._forward(xs, self.weights)[-1] * self.y_scale[1] + self.y_scale[0]


# --------------------------------------------------------------------------- running


def run_machine(machine: StateMachine, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """States ``(T + 1, N, d)`` (the initial state first) and outputs ``(T, N, ...)`` of
    ``machine`` on the input sequences ``inputs (T, N, obs_dim)``."""
    inputs = np.asarray(inputs, dtype=np.float64)
    state = np.asarray(machine.initial_state(inputs.shape[1]), dtype=np.float64)
    states, outputs = [state], []
    for x in inputs:
        state, output = machine.step(state, x)
        states.append(np.asarray(state, dtype=np.float64))
        outputs.append(np.asarray(output, dtype=np.float64))
    return np.stack(states), np.stack(outputs)


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total-variation distance ``0.5 * sum_k |p_k - q_k|`` between rows of probabilities."""
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


def _project(machine: Any, state: np.ndarray) -> np.ndarray:
    project = getattr(machine, "project_state", None)
    return np.asarray(project(state), dtype=np.float64) if project is not None else state


def _coordinates(machine: Any, method: str, rows: np.ndarray) -> np.ndarray:
    """``machine.<method>`` (``encode_state`` or ``decode_state``) applied to ``rows`` ``(..., d)``
    flattened to ``(B, d)``, or ``rows`` unchanged where the machine has no such method."""
    convert = getattr(machine, method, None)
    if convert is None:
        return rows
    flat = np.asarray(convert(rows.reshape(-1, rows.shape[-1])), dtype=np.float64)
    return flat.reshape(*rows.shape[:-1], flat.shape[-1])


def _encode(machine: Any, states: np.ndarray) -> np.ndarray:
    """``machine``'s states ``(..., d)`` in the coordinates its regressors work in (``encode_state``)."""
    return _coordinates(machine, "encode_state", states)


def _decode(machine: Any, coordinates: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_encode` (``decode_state``)."""
    return _coordinates(machine, "decode_state", coordinates)


class MappedMachine:
    """The hybrid agent of a direction: keeps ``A``'s state, outputs what ``B`` outputs from the
    mapped state: ``step(a, x) = (A.step(a, x)[0], B.step(phi(a), x)[1])``."""

    def __init__(self, a: StateMachine, b: StateMachine, regressor: Regressor) -> None:
        self.a, self.b, self.regressor = a, b, regressor

    def initial_state(self, batch_size: int) -> np.ndarray:
        return self.a.initial_state(batch_size)

    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        next_state, _ = self.a.step(state, observation)
        coordinates = self.regressor.predict(_encode(self.a, np.asarray(state, dtype=np.float64)))
        mapped = _project(self.b, _decode(self.b, coordinates))
        _, output = self.b.step(mapped, observation)
        return next_state, output


@dataclass
class DirectionResult:
    """One direction of the analysis: ``target`` simulates ``source`` through ``regressor``."""

    state_dissimilarity: float
    state_stderr: float
    output_dissimilarity: float
    output_stderr: float
    regressor: Any = field(repr=False)
    return_difference: float | None = None  #: bandits: return of A minus the hybrid's (same episodes)
    return_stderr: float | None = None
    per_step_output: np.ndarray | None = field(default=None, repr=False)  #: (T,) mean over episodes
    #: the source's held-out states mapped into the target, phi(a_t): (T + 1, n_test, d_target)
    mapped_states: np.ndarray | None = field(default=None, repr=False)
    #: the target's outputs stepped from the mapped states, B.step(phi(a_{t-1}), x_t): (T, n_test, ...)
    mapped_outputs: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (the regressor and the arrays left out, the per-step output kept)."""
        skip = ("regressor", "per_step_output", "mapped_states", "mapped_outputs")
        out = {k: v for k, v in self.__dict__.items() if k not in skip}
        if self.per_step_output is not None:
            out["per_step_output"] = self.per_step_output.tolist()
        return out


@dataclass
class SimulationResult:
    """Both directions: ``b_simulates_a`` (A's states mapped into B) and ``a_simulates_b``."""

    b_simulates_a: DirectionResult
    a_simulates_b: DirectionResult
    n_train: int
    n_test: int
    test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)  #: held-out episodes
    states_a: np.ndarray | None = field(default=None, repr=False)  #: (T + 1, N, d_a), every episode
    states_b: np.ndarray | None = field(default=None, repr=False)
    outputs_a: np.ndarray | None = field(default=None, repr=False)  #: (T, N, ...)
    outputs_b: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"b_simulates_a": self.b_simulates_a.as_dict(), "a_simulates_b": self.a_simulates_b.as_dict(),
                "n_train": self.n_train, "n_test": self.n_test}


def _direction(
    a: StateMachine, b: StateMachine, inputs: np.ndarray, states_a: np.ndarray, states_b: np.ndarray,
    outputs_a: np.ndarray, train: np.ndarray, test: np.ndarray, regressor: Regressor,
    divergence: Callable[[np.ndarray, np.ndarray], np.ndarray], returns: Callable[[StateMachine], np.ndarray] | None,
) -> DirectionResult:
    """``b`` simulates ``a``: fit phi on train episodes, measure on test episodes."""
    t1 = states_a.shape[0]
    d_b = states_b.shape[2]
    coords_a, coords_b = _encode(a, states_a), _encode(b, states_b)  # the regressor's coordinates
    c_a, c_b = coords_a.shape[2], coords_b.shape[2]
    regressor.fit(coords_a[:, train].reshape(-1, c_a), coords_b[:, train].reshape(-1, c_b))
    n_test, horizon = len(test), t1 - 1
    phi = regressor.predict(coords_a[:, test].reshape(-1, c_a)).reshape(t1, n_test, c_b)  # phi(a_t), coordinates
    mapped_all = _decode(b, phi)  # phi(a_t) as states of B, before projection
    x_next = inputs[:, test].reshape(horizon * n_test, -1)  # x_{t+1}
    mapped = _project(b, mapped_all[:-1].reshape(-1, d_b))  # phi(a_t) for t = -1 .. T-2, made valid
    b_next, out_b = b.step(mapped, x_next)
    phi_next = phi[1:].reshape(-1, c_b)  # phi(a_{t+1}), before projection
    b_next = _encode(b, np.asarray(b_next, dtype=np.float64))
    error = ((phi_next - b_next) ** 2).sum(axis=1).reshape(horizon, n_test)
    own = coords_b[1:, test]  # B's own next states on the test episodes
    variance = ((own - own.reshape(-1, c_b).mean(axis=0)) ** 2).sum(axis=2)  # (T, n_test)
    total_variance = float(variance.sum())
    scale = total_variance if total_variance > 0 else 1.0
    per_episode_state = error.sum(axis=0) / (scale / n_test)  # each episode's share, scaled as the total
    out_a = outputs_a[:, test].reshape(horizon * n_test, *outputs_a.shape[2:])
    out_b = np.asarray(out_b, dtype=np.float64).reshape(out_a.shape)
    dissimilarity = np.asarray(divergence(out_a, out_b), dtype=np.float64).reshape(horizon, n_test)
    result = DirectionResult(
        state_dissimilarity=float(error.sum() / scale),
        state_stderr=float(standard_error(per_episode_state)),
        output_dissimilarity=float(dissimilarity.mean()),
        output_stderr=float(standard_error(dissimilarity.mean(axis=0))),
        regressor=regressor,
        per_step_output=dissimilarity.mean(axis=1),
        mapped_states=mapped_all,
        mapped_outputs=out_b.reshape(horizon, n_test, *outputs_a.shape[2:]),
    )
    if returns is not None:
        difference = np.asarray(returns(a), dtype=np.float64) - np.asarray(returns(MappedMachine(a, b, regressor)))
        result.return_difference = float(difference.mean())
        result.return_stderr = float(standard_error(difference))
    return result


def simulation_analysis(
    a: StateMachine,
    b: StateMachine,
    inputs: np.ndarray,
    divergence: Callable[[np.ndarray, np.ndarray], np.ndarray] = total_variation,
    train_fraction: float = 0.5,
    regressor: Callable[[], Regressor] = MLPRegressor,
    returns: Callable[[StateMachine], np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
) -> SimulationResult:
    """Run the simulation analysis between ``a`` and ``b`` in both directions.

    ``inputs (T, N, obs_dim)``: ``N`` input sequences (episodes of observations), split at
    random into ``train_fraction`` training episodes and held-out ones. ``divergence(p, q)``:
    the output dissimilarity per row (the default, :func:`total_variation`, for action
    probabilities; pass a KL for predictors, e.g. ``lambda p, q: kl_divergence(model, p, q)``).
    ``regressor``: a factory of fresh regressors (default :class:`MLPRegressor`).
    ``returns(machine) -> (E,)``: bandits only, per-episode returns of a machine on fixed
    episodes (e.g. ``lambda m: evaluate_bandit_policy(m, ...).returns``), for the return
    difference of each direction.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 3 or inputs.shape[0] < 1 or inputs.shape[1] < 4:
        raise ValueError(f"inputs must have shape (T, N, obs_dim) with T >= 1 and N >= 4 episodes, got {inputs.shape}")
    if not np.all(np.isfinite(inputs)):
        raise ValueError("inputs must be finite")
    fraction = check_number(train_fraction, "train_fraction", 0.0, 1.0)
    rng = check_rng(rng if rng is not None else np.random.default_rng(0))
    n = inputs.shape[1]
    order = rng.permutation(n)
    n_train = min(max(2, round(fraction * n)), n - 2)
    train, test = np.sort(order[:n_train]), np.sort(order[n_train:])
    states_a, outputs_a = run_machine(a, inputs)
    states_b, outputs_b = run_machine(b, inputs)
    for name, states in (("a", states_a), ("b", states_b)):
        if states.ndim != 3 or not np.all(np.isfinite(states)):
            raise ValueError(f"machine {name}'s states must be finite arrays of shape (batch, d)")
    forward = _direction(a, b, inputs, states_a, states_b, outputs_a, train, test, regressor(), divergence, returns)
    backward = _direction(b, a, inputs, states_b, states_a, outputs_b, train, test, regressor(), divergence, returns)
    return SimulationResult(b_simulates_a=forward, a_simulates_b=backward, n_train=len(train), n_test=len(test),
                            test=test, states_a=states_a, states_b=states_b, outputs_a=outputs_a, outputs_b=outputs_b)

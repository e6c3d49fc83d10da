"""The simulation analysis on machines whose answers are known: synthetic ones, and a trained
recurrent network against itself and against a copy of itself with permuted, rescaled state
coordinates."""

import numpy as np
import pytest

from bayes.bandits import BayesOptimalPolicy
from bayes.evaluate import evaluate_bandit_policy, prediction_observation
from bayes.kl import kl_divergence
from bayes.models import BetaBernoulli
from bayes.predictors import BayesPredictor
from bayes.simulation import MappedMachine, MLPRegressor, run_machine, simulation_analysis, total_variation

COIN = BetaBernoulli(1.0, 1.0)


def episode_inputs(model=COIN, n_episodes=400, horizon=20, seed=0):
    """Observation sequences of the prediction env of ``model`` (MetaCoin-v0's by default; reset observation first)."""
    rng = np.random.default_rng(seed)
    task = model.sample_task(rng, n_episodes)
    outcomes = [model.sample_outcome(rng, task) for _ in range(horizon - 1)]
    first = np.zeros((n_episodes, 3))
    return np.stack([first] + [prediction_observation(model, x, t + 1, horizon) for t, x in enumerate(outcomes)])


def kl(p, q):
    return kl_divergence(COIN, p, q)


class Reencoded:
    """The Bayes predictor with its statistics stored through an invertible nonlinear map."""

    def __init__(self):
        self.bayes = BayesPredictor(COIN)
        self.mix = np.array([[1.0, 0.5], [-0.3, 1.0]])

    def encode(self, stats):
        return np.tanh(0.1 * stats @ self.mix.T) * 3.0

    def decode(self, state):
        return np.arctanh(np.clip(state / 3.0, -0.999999, 0.999999)) / 0.1 @ np.linalg.inv(self.mix).T

    def initial_state(self, batch_size):
        return self.encode(self.bayes.initial_state(batch_size))

    def step(self, state, observation):
        stats, output = self.bayes.step(self.decode(state), observation)
        return self.encode(stats), output


class LastOutcome:
    """Remembers only the last outcome: predicts 0.75 after heads, 0.25 after tails, 0.5 at first."""

    def initial_state(self, batch_size):
        return np.zeros((batch_size, 2))

    def step(self, state, observation):
        seen = observation[:, 1:2]
        new = np.where(seen > 0, np.concatenate([observation[:, :1], seen], axis=1), state)
        p = np.where(new[:, 1] > 0, 0.25 + 0.5 * new[:, 0], 0.5)
        return new, p[:, None]


@pytest.fixture(scope="module")
def inputs():
    return episode_inputs()


def test_bayes_against_itself_is_near_zero_both_ways(inputs):
    result = simulation_analysis(BayesPredictor(COIN), BayesPredictor(COIN), inputs, divergence=kl)
    for direction in (result.b_simulates_a, result.a_simulates_b):
        assert direction.state_dissimilarity < 1e-3, direction
        assert direction.output_dissimilarity < 1e-4, direction
    assert result.n_train == 200 and result.n_test == 200


def test_an_invertible_reencoding_simulates_and_is_simulated(inputs):
    result = simulation_analysis(BayesPredictor(COIN), Reencoded(), inputs, divergence=kl)
    for direction in (result.b_simulates_a, result.a_simulates_b):
        assert direction.state_dissimilarity < 0.02, direction
        assert direction.output_dissimilarity < 2e-3, direction


@pytest.mark.slow
def test_a_forgetful_machine_cannot_simulate_bayes(inputs):
    result = simulation_analysis(BayesPredictor(COIN), LastOutcome(), inputs, divergence=kl)
    forgetful_simulates_bayes = result.b_simulates_a
    # its outputs only take the values 0.25, 0.5, 0.75: far from the Bayes predictive
    assert forgetful_simulates_bayes.output_dissimilarity > 0.03, forgetful_simulates_bayes
    # and the Bayes machine's counts do not tell the last outcome
    assert forgetful_simulates_bayes.state_dissimilarity > 0.2, forgetful_simulates_bayes
    # Bayes cannot simulate it either: the last outcome does not give the counts
    assert result.a_simulates_b.state_dissimilarity > 0.2, result.a_simulates_b


class LeastSquares:
    """An affine map fitted by least squares: it can represent the identity, and any permutation
    and rescaling of coordinates, exactly."""

    def fit(self, x, y):
        self.weights = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)[0]
        return self

    def predict(self, x):
        return np.hstack([x, np.ones((len(x), 1))]) @ self.weights


class PermutedCopy:
    """``machine`` with its state coordinates permuted and each multiplied by a positive factor:
    the same machine in other coordinates, so each simulates the other exactly."""

    def __init__(self, machine, seed=0):
        rng = np.random.default_rng(seed)
        self.machine = machine
        self.order = rng.permutation(machine.state_size)
        self.inverse = np.argsort(self.order)
        self.scale = np.exp(rng.uniform(-1.0, 1.0, machine.state_size))  # factors in [1/e, e]

    def initial_state(self, batch_size):
        return self.machine.initial_state(batch_size)[:, self.order] * self.scale

    def step(self, state, observation):
        state, output = self.machine.step((np.asarray(state) / self.scale)[:, self.inverse], observation)
        return state[:, self.order] * self.scale, output


@pytest.fixture(scope="module")
def trained_lstm(tmp_path_factory):
    """A small LSTM predictor trained for a moment on MetaCoin-v0 (16 state coordinates, h then c)."""
    pytest.importorskip("torch")
    from agents.predictor import PredictorConfig, load_predictor, train_predictor

    folder = tmp_path_factory.mktemp("coin-lstm")
    config = PredictorConfig(env_id="MetaCoin-v0", steps=300, eval_every=300, eval_episodes=200, hidden_size=8)
    train_predictor(config, folder, log=lambda _message: None)
    machine, _ = load_predictor(folder)
    assert machine.state_size == 16
    return machine


# Tolerances of the two tests below, measured on this fixture's inputs (400 episodes) with the
# network trained from seeds 0, 1 and 2, both directions, itself and its permuted copy:
# - least squares finds the exact map, and the network runs in float32, so what is left is float32
#   rounding (relative 6e-8 per coordinate, squared in both figures: ~1e-14 at most). Measured:
#   state dissimilarity 3e-30 to 7e-29, output KL 2e-18 to 7e-18. EXACT = 1e-10 is far above
#   rounding and six orders of magnitude below the MLP's fitting error;
# - the default MLPRegressor approximates the map: its fitting error is what remains. Measured:
#   state dissimilarity 8.9e-5 to 1.38e-4 (standard errors <= 8e-6), output KL 3.1e-6 to 5.7e-6
#   (standard errors <= 2.5e-7). The bounds are 3.5x the worst figure; a machine that cannot
#   simulate (test_a_forgetful_machine_cannot_simulate_bayes) is at > 0.2 and > 0.03.
EXACT = 1e-10
MLP_STATE, MLP_OUTPUT = 5e-4, 2e-5


def test_a_trained_network_simulates_itself(inputs, trained_lstm):
    for regressor, state_tol, output_tol in ((LeastSquares, EXACT, EXACT), (MLPRegressor, MLP_STATE, MLP_OUTPUT)):
        result = simulation_analysis(trained_lstm, trained_lstm, inputs, divergence=kl, regressor=regressor)
        for direction in (result.b_simulates_a, result.a_simulates_b):
            assert direction.state_dissimilarity < state_tol, (regressor, direction)
            assert direction.output_dissimilarity < output_tol, (regressor, direction)


def test_a_trained_network_and_its_permuted_copy_simulate_each_other(inputs, trained_lstm):
    copy = PermutedCopy(trained_lstm)
    states, outputs = run_machine(trained_lstm, inputs[:, :10])
    copy_states, copy_outputs = run_machine(copy, inputs[:, :10])
    assert np.array_equal(outputs, copy_outputs)  # the same machine ...
    assert not np.allclose(states, copy_states)  # ... in other coordinates
    np.testing.assert_allclose(copy_states[..., copy.inverse] / copy.scale[copy.inverse], states, atol=1e-6)
    for regressor, state_tol, output_tol in ((LeastSquares, EXACT, EXACT), (MLPRegressor, MLP_STATE, MLP_OUTPUT)):
        result = simulation_analysis(trained_lstm, copy, inputs, divergence=kl, regressor=regressor)
        for direction in (result.b_simulates_a, result.a_simulates_b):  # 0 after mapping, both ways
            assert direction.state_dissimilarity < state_tol, (regressor, direction)
            assert direction.output_dissimilarity < output_tol, (regressor, direction)
        if regressor is LeastSquares:  # the map it found is the permutation with its scales
            expected = np.zeros((16, 16))
            expected[copy.order, np.arange(16)] = copy.scale
            np.testing.assert_allclose(result.b_simulates_a.regressor.weights[:-1], expected, atol=1e-4)


def test_dissimilarities_match_a_direct_computation(inputs):
    """With a regressor known in closed form, the figures are those computed by hand."""

    class Shift:  # phi(a) = a + 1 (not the identity: errors are known)
        def fit(self, x, y):
            return self

        def predict(self, x):
            return x + 1.0

    a = b = BayesPredictor(COIN)
    result = simulation_analysis(a, b, inputs, divergence=kl, regressor=Shift, rng=np.random.default_rng(3))
    states, outputs = run_machine(a, inputs)
    test = np.sort(np.random.default_rng(3).permutation(inputs.shape[1])[200:])
    mapped_next, out = b.step((states[:-1, test] + 1.0).reshape(-1, 2), inputs[:, test].reshape(-1, 3))
    error = ((states[1:, test].reshape(-1, 2) + 1.0 - mapped_next) ** 2).sum()
    own = states[1:, test].reshape(-1, 2)
    assert np.isclose(result.b_simulates_a.state_dissimilarity, error / ((own - own.mean(axis=0)) ** 2).sum())
    assert np.isclose(result.b_simulates_a.output_dissimilarity, kl(outputs[:, test].reshape(-1, 1), out).mean())


def test_bandit_policies_report_return_differences():
    policy = BayesOptimalPolicy(2, 10)
    rng = np.random.default_rng(0)
    # inputs: observations of episodes played by the policy itself
    from agents.rollouts import rollout

    run = rollout(policy, "MetaBandit-v0", 300, seed=1, horizon=10)

    def returns(machine):
        return evaluate_bandit_policy(machine, 2, 10, n_episodes=2000, seed=5).returns

    result = simulation_analysis(policy, BayesOptimalPolicy(2, 10), run.observations, returns=returns, rng=rng)
    for direction in (result.b_simulates_a, result.a_simulates_b):
        assert direction.output_dissimilarity < 0.02 and abs(direction.return_difference) < 0.05, direction
    assert np.allclose(total_variation([[1.0, 0.0]], [[0.25, 0.75]]), 0.75)


def test_mlp_regressor_fits_a_smooth_map_and_is_deterministic():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1] ** 2, x[:, 2] * 5.0 + 7.0], axis=1)
    first = MLPRegressor(seed=1).fit(x, y)
    pred = first.predict(x)
    assert np.mean((pred - y) ** 2) / y.var(axis=0).sum() < 0.01
    assert np.array_equal(pred, MLPRegressor(seed=1).fit(x, y).predict(x))


def test_mapped_machine_keeps_a_state_and_b_output(inputs):
    class Identity:
        def predict(self, x):
            return x

    machine = MappedMachine(BayesPredictor(COIN), LastOutcome(), Identity())
    state, output = machine.step(machine.initial_state(4), inputs[1, :4])
    assert np.array_equal(state, BayesPredictor(COIN).step(np.zeros((4, 2)), inputs[1, :4])[0])
    assert output.shape == (4, 1)


def test_bad_input(inputs):
    a = BayesPredictor(COIN)
    with pytest.raises(ValueError, match="inputs must have shape"):
        simulation_analysis(a, a, inputs[:, :3])
    with pytest.raises(ValueError, match="train_fraction"):
        simulation_analysis(a, a, inputs, train_fraction=1.0)
    bad = inputs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        simulation_analysis(a, a, bad)
    with pytest.raises(ValueError, match="same N"):
        MLPRegressor().fit(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="fit"):
        MLPRegressor().predict(np.zeros((5, 2)))

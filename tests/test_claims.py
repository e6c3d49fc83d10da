"""The paper's claims as verdicts (benchmarks.claims): intervals, verdicts, the claim-level rule and the report."""

import math

import pytest
from scipy import stats

from benchmarks.claims import CLAIMS, THRESHOLDS, claims, claims_lines, interval, summary, verdict
from benchmarks.sweep_results import aggregate, mean_interval

PREDICTOR, BANDIT = "MetaCoin-v0", "MetaBandit-v0"


def config(name, env_id, **values):
    """An aggregated config as :func:`benchmarks.sweep_results.aggregate` gives it: ``values`` maps a
    metric to its per-seed values."""
    seeds = max((len(v) for v in values.values()), default=1)
    return {"config": name, "task": name, "algo": "rl2", "env_id": env_id, "env_kwargs": {},
            "paired_reference": "bayes-optimal" if env_id == BANDIT else None, "seeds": list(range(seeds)),
            "metrics": {metric: mean_interval(v) for metric, v in values.items()}}


def by_claim(rows, name):
    """``{claim: row}`` of the config ``name``."""
    return {r["claim"]: r for r in rows if r["config"] == name}


def test_the_thresholds_and_claims_are_as_the_study_states():
    assert THRESHOLDS == {"kl": 0.001, "gap": 0.02, "state": 0.05, "output_kl": 0.01, "output_tv": 0.1,
                          "generalisation_kl": 0.01, "generalisation_regret": 0.1}
    assert [c.name for c in CLAIMS] == ["behaviour", "bayes_in_agent", "agent_in_bayes", "generalisation"]
    for claim in CLAIMS:
        assert all(c.threshold in THRESHOLDS for c in (*claim.predictor, *claim.bandit))


def test_the_t_interval_across_three_seeds_is_students():
    values = [0.004, 0.006, 0.011]
    mean, low, high, kind = interval({"mean_kl": mean_interval(values)}, "mean_kl")
    m = sum(values) / 3
    s = math.sqrt(sum((v - m) ** 2 for v in values) / 2)
    half = stats.t.ppf(0.975, 2) * s / math.sqrt(3)
    assert kind == "t across seeds"
    assert mean == pytest.approx(m) and low == pytest.approx(m - half) and high == pytest.approx(m + half)
    assert half == pytest.approx(4.303 * s / math.sqrt(3), rel=1e-3)  # t_{0.975, 2} = 4.303


def test_one_seed_uses_its_own_standard_error_or_the_point_alone():
    metrics = {"mean_kl": mean_interval([0.002]), "mean_kl_stderr": mean_interval([0.0005])}
    mean, low, high, kind = interval(metrics, "mean_kl")
    assert kind == "normal, within the seed"
    assert (mean, low, high) == pytest.approx((0.002, 0.002 - 1.96 * 0.0005, 0.002 + 1.96 * 0.0005))
    assert interval({"mean_kl": mean_interval([0.002])}, "mean_kl") == (0.002, None, None, "point")
    # two or more seeds: the t interval across them, not the cells' own standard errors
    metrics = {"mean_kl": mean_interval([0.002, 0.004]), "mean_kl_stderr": mean_interval([1e-6, 1e-6])}
    assert interval(metrics, "mean_kl")[3] == "t across seeds"


def test_a_missing_metric_is_not_available():
    assert interval({}, "mean_kl") == (None, None, None, "n/a")
    assert interval({"mean_kl": mean_interval([])}, "mean_kl") == (None, None, None, "n/a")
    assert interval({"mean_kl": mean_interval([float("nan")])}, "mean_kl")[3] == "n/a"


def test_the_verdict_rule():
    assert verdict(0.5, 0.4, 0.6, 0.6) == "holds"  # the upper end at the threshold holds
    assert verdict(0.5, 0.4, 0.6, 0.7) == "holds"
    assert verdict(0.5, 0.4, 0.6, 0.3) == "fails"
    assert verdict(0.5, 0.4, 0.6, 0.4) == "undecided"  # the lower end at the threshold is not above it
    assert verdict(0.5, 0.4, 0.6, 0.5) == "undecided"
    assert verdict(0.5, None, None, 0.5) == "holds" and verdict(0.5, None, None, 0.49) == "fails"
    assert verdict(None, None, None, 1.0) == "undecided"


def predictor_configs():
    """Three prediction configs: every claim holds in ``good``, fails in ``bad``, is undecided in ``close``."""
    good = config("good", PREDICTOR, mean_kl=[0.0002, 0.0003, 0.0004],
                  bayes_in_agent_state=[0.01, 0.012, 0.011], bayes_in_agent_output=[0.002, 0.003, 0.0025],
                  agent_in_bayes_state=[0.02, 0.021, 0.019], agent_in_bayes_output=[0.004, 0.005, 0.006],
                  kl_5x=[0.001, 0.002, 0.0015], kl_50x=[0.003, 0.004, 0.005])
    bad = config("bad", PREDICTOR, mean_kl=[0.01, 0.011, 0.012],
                 bayes_in_agent_state=[0.5, 0.52, 0.51], bayes_in_agent_output=[0.002, 0.003, 0.0025],
                 agent_in_bayes_state=[0.02, 0.021, 0.019], agent_in_bayes_output=[0.2, 0.21, 0.19],
                 kl_5x=[0.001, 0.002, 0.0015], kl_50x=[0.1, 0.11, 0.12])
    close = config("close", PREDICTOR, mean_kl=[0.0005, 0.001, 0.0015],
                   bayes_in_agent_state=[0.04, 0.05, 0.06], bayes_in_agent_output=[0.002, 0.003, 0.0025],
                   agent_in_bayes_state=[0.02, 0.021, 0.019], agent_in_bayes_output=[0.008, 0.01, 0.012],
                   kl_5x=[0.001, 0.002, 0.0015], kl_50x=[0.005, 0.01, 0.015])
    return [good, bad, close]


def bandit_configs():
    """The same for bandits (total variation and regret thresholds)."""
    good = config("b-good", BANDIT, paired_gap=[0.001, 0.002, 0.003],
                  bayes_in_agent_state=[0.01, 0.012, 0.011], bayes_in_agent_output=[0.02, 0.03, 0.025],
                  agent_in_bayes_state=[0.02, 0.021, 0.019], agent_in_bayes_output=[0.04, 0.05, 0.06],
                  regret_5x=[0.01, 0.02, 0.015], regret_50x=[0.03, 0.04, 0.05])
    bad = config("b-bad", BANDIT, paired_gap=[0.1, 0.11, 0.12],
                 bayes_in_agent_state=[0.01, 0.012, 0.011], bayes_in_agent_output=[0.3, 0.31, 0.29],
                 agent_in_bayes_state=[0.3, 0.31, 0.29], agent_in_bayes_output=[0.04, 0.05, 0.06],
                 regret_5x=[0.5, 0.51, 0.49], regret_50x=[0.03, 0.04, 0.05])
    # one seed with the evaluations' own standard errors: intervals that straddle the thresholds
    close = config("b-close", BANDIT, paired_gap=[0.019], paired_gap_stderr=[0.001],
                   bayes_in_agent_state=[0.049], bayes_in_agent_state_stderr=[0.001],
                   bayes_in_agent_output=[0.05], bayes_in_agent_output_stderr=[0.001],
                   agent_in_bayes_state=[0.01], agent_in_bayes_state_stderr=[0.001],
                   agent_in_bayes_output=[0.1], agent_in_bayes_output_stderr=[0.01],
                   regret_5x=[0.09], regret_5x_stderr=[0.01], regret_50x=[0.05], regret_50x_stderr=[0.01])
    return [good, bad, close]


def test_every_claim_holds_fails_or_is_undecided_for_prediction_configs():
    rows = claims(predictor_configs())
    assert [(r["config"], r["claim"]) for r in rows] == [(c, claim.name) for c in ("good", "bad", "close")
                                                           for claim in CLAIMS]
    assert {k: r["verdict"] for k, r in by_claim(rows, "good").items()} == dict.fromkeys(
        ("behaviour", "bayes_in_agent", "agent_in_bayes", "generalisation"), "holds")
    assert {k: r["verdict"] for k, r in by_claim(rows, "bad").items()} == dict.fromkeys(
        ("behaviour", "bayes_in_agent", "agent_in_bayes", "generalisation"), "fails")
    assert {k: r["verdict"] for k, r in by_claim(rows, "close").items()} == dict.fromkeys(
        ("behaviour", "bayes_in_agent", "agent_in_bayes", "generalisation"), "undecided")
    behaviour = by_claim(rows, "good")["behaviour"]
    (kl,) = behaviour["criteria"]
    assert kl["metric"] == "mean_kl" and kl["threshold"] == 0.001 and kl["interval"] == "t across seeds"
    assert kl["mean"] == pytest.approx(0.0003)
    assert kl["ci"] == pytest.approx([0.0003 - stats.t.ppf(0.975, 2) * 0.0001 / math.sqrt(3),
                                      0.0003 + stats.t.ppf(0.975, 2) * 0.0001 / math.sqrt(3)])
    simulation = by_claim(rows, "bad")["agent_in_bayes"]
    assert [(c["metric"], c["threshold"], c["verdict"]) for c in simulation["criteria"]] == [
        ("agent_in_bayes_state", 0.05, "holds"), ("agent_in_bayes_output", 0.01, "fails")]
    generalisation = by_claim(rows, "close")["generalisation"]
    assert [(c["metric"], c["verdict"]) for c in generalisation["criteria"]] == [("kl_5x", "holds"),
                                                                                 ("kl_50x", "undecided")]


def test_every_claim_holds_fails_or_is_undecided_for_bandit_configs():
    rows = claims(bandit_configs())
    for name, expected in (("b-good", "holds"), ("b-bad", "fails"), ("b-close", "undecided")):
        assert {k: r["verdict"] for k, r in by_claim(rows, name).items()} == dict.fromkeys(
            ("behaviour", "bayes_in_agent", "agent_in_bayes", "generalisation"), expected), name
    close = by_claim(rows, "b-close")
    (gap,) = close["behaviour"]["criteria"]
    assert gap["metric"] == "paired_gap" and gap["threshold"] == 0.02 and gap["interval"] == "normal, within the seed"
    assert gap["ci"] == pytest.approx([0.019 - 1.96 * 0.001, 0.019 + 1.96 * 0.001])
    assert close["behaviour"]["reference"] == "bayes-optimal"
    assert [(c["metric"], c["threshold"], c["verdict"]) for c in close["bayes_in_agent"]["criteria"]] == [
        ("bayes_in_agent_state", 0.05, "undecided"), ("bayes_in_agent_output", 0.1, "holds")]
    assert [c["verdict"] for c in close["agent_in_bayes"]["criteria"]] == ["holds", "undecided"]
    assert [(c["metric"], c["threshold"], c["verdict"]) for c in close["generalisation"]["criteria"]] == [
        ("regret_5x", 0.1, "undecided"), ("regret_50x", 0.1, "holds")]
    # bad: the output fails although the state holds; the regret at 5T fails although 50T holds
    bad = by_claim(rows, "b-bad")
    assert [c["verdict"] for c in bad["bayes_in_agent"]["criteria"]] == ["holds", "fails"]
    assert [c["verdict"] for c in bad["generalisation"]["criteria"]] == ["fails", "holds"]


def test_a_claim_fails_on_one_failing_criterion_and_is_undecided_on_one_undecided():
    failing = config("f", PREDICTOR, bayes_in_agent_state=[0.01, 0.011, 0.012],
                     bayes_in_agent_output=[0.04, 0.05, 0.06], kl_5x=[0.5, 0.6, 0.7], kl_50x=[0.0, 0.1, 0.2])
    rows = by_claim(claims([failing]), "f")
    # state holds, output fails -> fails; 5T fails, 50T undecided -> fails
    assert [c["verdict"] for c in rows["bayes_in_agent"]["criteria"]] == ["holds", "fails"]
    assert rows["bayes_in_agent"]["verdict"] == "fails"
    assert [c["verdict"] for c in rows["generalisation"]["criteria"]] == ["fails", "undecided"]
    assert rows["generalisation"]["verdict"] == "fails"


def test_a_missing_metric_leaves_its_claim_undecided():
    partial = config("p", PREDICTOR, mean_kl=[0.0001, 0.0002], kl_5x=[0.001, 0.002])
    rows = by_claim(claims([partial]), "p")
    assert rows["behaviour"]["verdict"] == "holds"
    for direction in ("bayes_in_agent", "agent_in_bayes"):
        assert rows[direction]["verdict"] == "undecided"
        assert [(c["mean"], c["ci"], c["interval"]) for c in rows[direction]["criteria"]] == [(None, None, "n/a")] * 2
    assert [c["verdict"] for c in rows["generalisation"]["criteria"]] == ["holds", "undecided"]
    assert rows["generalisation"]["verdict"] == "undecided"  # the rest hold, one missing
    empty = config("e", BANDIT)
    assert {r["verdict"] for r in claims([empty])} == {"undecided"}


def test_a_point_alone_decides():
    point = config("one", PREDICTOR, mean_kl=[0.002], kl_5x=[0.005], kl_50x=[0.005])
    rows = by_claim(claims([point]), "one")
    assert rows["behaviour"]["criteria"][0]["interval"] == "point" and rows["behaviour"]["verdict"] == "fails"
    assert rows["generalisation"]["verdict"] == "holds"


def test_the_summary_counts_verdicts_per_claim():
    rows = claims(predictor_configs() + bandit_configs())
    assert summary(rows) == {claim.name: {"holds": 2, "fails": 2, "undecided": 2} for claim in CLAIMS}
    assert summary([]) == {claim.name: {"holds": 0, "fails": 0, "undecided": 0} for claim in CLAIMS}


def test_claims_from_aggregated_records():
    def record(seed, kl):
        return {"config": "coin-fair-supervised", "task": "coin-fair", "env_id": PREDICTOR, "env_kwargs": {},
                "algo": "supervised", "seed": seed, "training": {"train_seconds": 1.0},
                "evaluation": {"trained": {"mean_kl": kl, "log_loss": 0.7, "bayes_log_loss": 0.69}}}

    (configuration,) = aggregate([record(0, 0.0001), record(1, 0.0002), record(2, 0.0003)])
    rows = by_claim(claims([configuration]), "coin-fair-supervised")
    (kl,) = rows["behaviour"]["criteria"]
    assert kl["mean"] == pytest.approx(0.0002) and kl["interval"] == "t across seeds"
    assert kl["ci"][1] == pytest.approx(0.0002 + stats.t.ppf(0.975, 2) * 0.0001 / math.sqrt(3))
    assert rows["behaviour"]["verdict"] == "holds" and rows["bayes_in_agent"]["verdict"] == "undecided"


def test_the_report_section_states_the_thresholds_and_has_a_line_per_config_and_claim():
    rows = claims(predictor_configs() + bandit_configs())
    lines = claims_lines(rows)
    text = "\n".join(lines)
    assert lines[0] == "## Claims"
    for value in ("0.001", "0.02", "0.05", "0.01", "0.1"):
        assert f" {value} (" in text
    assert "nats per step" in text and "normalised squared error" in text
    header = "| task | algo | claim | figure (95% interval) | threshold | verdict |"
    table = lines[lines.index(header) + 2:]
    table = table[: next(k for k, line in enumerate(table) if not line.startswith("|"))]
    assert len(table) == len(rows) == 6 * 4
    for row, line in zip(rows, table, strict=True):
        assert line.startswith(f"| {row['task']} | {row['algo']} | {row['claim']} | ")
        assert f"**{row['verdict']}**" in line
    good_simulation = table[1]
    assert good_simulation.count("; ") == 2  # two figures and two thresholds, each separated by "; "
    assert "state 0.011 [" in good_simulation and "output KL 0.0025 [" in good_simulation
    assert "paired gap vs bayes-optimal 0.019 [0.01704, 0.02096] (1 seed)" in text
    assert "Student's t across the seeds" in lines[-1]
    assert "n/a" in "\n".join(claims_lines(claims([config("e", BANDIT)])))
    assert claims_lines([])[-1] == "No finished configs."

"""The reproduction study: a tiny study runs end to end, resumes, and refuses bad input before work."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")
pytest.importorskip("matplotlib")

from benchmarks import cells, cli, reproduce

TINY = {"supervised_seconds": 1.0, "rppo_timesteps": 5120, "rl2_timesteps": 81920, "eval_episodes": 300,
        "simulation_episodes": 40}


def quiet(_message):
    pass


@pytest.mark.slow
def test_a_tiny_study_writes_its_report_and_resumes(tmp_path):
    out = tmp_path / "study"
    tasks = ["coin-fair", "coin-bent", "bandit-2arm"]
    results = reproduce.reproduce("quick", str(out), tasks=tasks, log=quiet, budget=TINY)
    saved = json.loads((out / "results.json").read_text())
    assert [r["task"] for r in saved["results"]] == tasks and saved["versions"]["numpy"]
    by_task = {r["task"]: r for r in saved["results"]}
    bandit = by_task["bandit-2arm"]
    assert bandit["evaluation"]["trained"]["horizon"] == 20 and bandit["evaluation"]["long"]["horizon"] == 100
    assert bandit["evaluation"]["trained"]["bayes_gap"] is not None
    for record in saved["results"]:
        for direction in ("bayes_in_agent", "agent_in_bayes"):
            assert record["simulation"][direction]["state_dissimilarity"] >= 0
        assert record["training"]["train_steps"] > 0
    assert by_task["coin-fair"]["evaluation"]["long"]["horizon"] == 100
    assert len(by_task["coin-fair"]["evaluation"]["long"]["kl_per_step"]) == 100
    report = (out / "report.md").read_text()
    for figure in ("coin_fair_vs_bent.png", "kl_per_step.png", "regret_bandit-2arm.png", "simulation_panel.png"):
        assert figure in report
        assert list(out.rglob(figure)), figure
    assert "Gittins" in json.dumps(bandit["reference_returns"])
    # a second run reuses every recorded step
    messages = []
    again = reproduce.reproduce("quick", str(out), tasks=tasks, log=messages.append, budget=TINY)
    assert sum("reusing the recorded result" in m for m in messages) == 9
    assert [r["evaluation"] for r in again["results"]] == [r["evaluation"] for r in results["results"]]


@pytest.mark.slow
def test_an_interrupted_study_resumes_where_it_stopped(tmp_path, monkeypatch):
    out = tmp_path / "study"

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cells, "simulate", fail)
        with pytest.raises(KeyboardInterrupt):
            reproduce.reproduce("quick", str(out), tasks=["die"], log=quiet, budget=TINY)
    record = json.loads((out / "results" / "die-seed0.json").read_text())
    assert "training" in record and "evaluation" in record and "simulation" not in record
    messages = []
    reproduce.reproduce("quick", str(out), tasks=["die"], log=messages.append, budget=TINY)
    assert sum("reusing the recorded result" in m for m in messages) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "medium"}, "unknown preset 'medium'"),
        ({"tasks": ["coin", "die"]}, "unknown tasks ['coin']"),
        ({"seeds": 0}, "--seeds"),
        ({"budget": {"supervised_minutes": 1}}, "unknown budget keys"),
    ],
)
def test_bad_input_is_refused_before_any_work(kwargs, message, tmp_path):
    out = tmp_path / "study"
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        reproduce.reproduce(out=str(out), log=quiet, **kwargs)
    assert not out.exists()


def test_incompatible_folders_and_a_full_disk(tmp_path, monkeypatch, capsys):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert cli.main(["reproduce", "--out", str(tmp_path / "other")]) == 2
    assert "is not empty and holds no study" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "study.json").write_text(json.dumps({"preset": "full"}))
    assert cli.main(["reproduce", "--preset", "quick", "--out", str(tmp_path / "full")]) == 2
    assert "holds a study of preset 'full'" in capsys.readouterr().err
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9 - 2**20, 2**20))
    assert cli.main(["reproduce", "--out", str(tmp_path / "new")]) == 2
    assert "MiB free" in capsys.readouterr().err


@pytest.mark.slow
def test_algo_rl2_adds_the_bandit_tasks_beside_recurrent_ppo(tmp_path):
    out = tmp_path / "study"
    assert [t.name for t in reproduce.with_algo(reproduce.TASKS[4:7], "rl2")] == [
        "exponential", "bandit-2arm", "bandit-2arm-rl2", "bandit-3arm", "bandit-3arm-rl2"]
    reproduce.reproduce("quick", str(out), tasks=["bandit-2arm"], log=quiet, budget=TINY, algo="rl2")
    saved = json.loads((out / "results.json").read_text())
    by_task = {r["task"]: r for r in saved["results"]}
    assert sorted(by_task) == ["bandit-2arm", "bandit-2arm-rl2"]
    assert by_task["bandit-2arm"]["algo"] == "recurrent-ppo" and by_task["bandit-2arm-rl2"]["algo"] == "rl2"
    assert by_task["bandit-2arm-rl2"]["training"]["train_steps"] == 81920  # one batch of the preset
    config = json.loads((out / "runs" / "bandit-2arm-rl2-seed0" / "config.json").read_text())
    assert config["algo"] == "rl2"
    report = (out / "report.md").read_text()
    assert "| bandit-2arm | 0 |" in report and "| bandit-2arm-rl2 | 0 |" in report
    assert "regret_bandit-2arm-rl2.png" in report
    with pytest.raises(ValueError, match="--algo must be one of"):
        reproduce.with_algo(reproduce.TASKS, "dqn")

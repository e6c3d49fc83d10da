"""The reproduction study: a tiny study runs end to end, resumes, and refuses bad input before work."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")
pytest.importorskip("matplotlib")

from benchmarks import cells, cli, reproduce

TINY = {"timesteps": {"supervised": 51200, "rl2": 81920, "recurrent-ppo": 5120}, "task_timesteps": {},
        "eval_episodes": 300, "long_episodes": 40, "simulation_episodes": 40, "generalisation_factor": 50}


def quiet(_message):
    pass


@pytest.mark.slow
def test_a_tiny_study_writes_its_report_and_resumes(tmp_path):
    out = tmp_path / "study"
    tasks = ["coin-fair", "coin-bent", "bandit-2arm"]
    results = reproduce.reproduce("quick", str(out), tasks=tasks, log=quiet, budget=TINY, backend="serial")
    saved = json.loads((out / "results.json").read_text())
    assert [r["task"] for r in saved["results"]] == tasks and saved["versions"]["numpy"]
    by_task = {r["task"]: r for r in saved["results"]}
    bandit = by_task["bandit-2arm"]
    assert bandit["algo"] == "rl2" and bandit["training"]["train_steps"] == 81920  # rl2 by default: one batch
    assert bandit["evaluation"]["trained"]["horizon"] == 20 and bandit["evaluation"]["long"]["horizon"] == 1000
    assert bandit["evaluation"]["trained"]["bayes_gap"] is not None
    for record in saved["results"]:
        assert set(record["simulation"]) >= {"bayes_in_agent", "agent_in_bayes"}
    assert by_task["coin-fair"]["training"]["train_steps"] == 51200  # predictions: 10 batches of 256 episodes of 20
    assert len(by_task["coin-fair"]["evaluation"]["long"]["kl_per_step"]) == 1000
    # the claims: one row per task and claim, each with a verdict, and their count
    rows = saved["claims"]["rows"]
    assert [(r["task"], r["claim"]) for r in rows[:4]] == [("coin-fair", c) for c in
                                                            ("behaviour", "bayes_in_agent", "agent_in_bayes",
                                                             "generalisation")]
    assert len(rows) == 12 and {r["verdict"] for r in rows} <= {"holds", "fails", "undecided"}
    assert sum(sum(v.values()) for v in saved["claims"]["summary"].values()) == 12
    report = (out / "report.md").read_text()
    assert report.index("## Claims") < report.index("## Across seeds") < report.index("## Prediction tasks")
    for figure in ("coin_fair_vs_bent.png", "kl_per_step.png", "regret_per_step.png", "regret_bandit-2arm-rl2.png",
                   "simulation_panel.png"):
        assert figure in report
        assert list(out.rglob(figure)), figure
    assert "Gittins" in json.dumps(bandit["reference_returns"])
    # a second run reuses every recorded step
    messages = []
    again = reproduce.reproduce("quick", str(out), tasks=tasks, log=messages.append, budget=TINY, backend="serial")
    assert not any("] training ..." in m for m in messages)
    assert [r["evaluation"] for r in again["results"]] == [r["evaluation"] for r in results["results"]]


@pytest.mark.slow
def test_an_interrupted_study_resumes_where_it_stopped(tmp_path, monkeypatch):
    out = tmp_path / "study"

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cells, "simulate", fail)
        with pytest.raises(KeyboardInterrupt):
            reproduce.reproduce("quick", str(out), tasks=["die"], log=quiet, budget=TINY, backend="serial")
    record = json.loads((out / "results" / "die-seed0.json").read_text())
    assert "training" in record and "evaluation" in record and "simulation" not in record
    reproduce.reproduce("quick", str(out), tasks=["die"], log=quiet, budget=TINY, backend="serial")
    log = (out / "logs" / "die-seed0.log").read_text()  # each cell logs to its own file
    assert log.count("reusing the recorded result") == 2 and log.count("] simulation done") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "medium"}, "unknown preset 'medium'"),
        ({"tasks": ["coin", "die"]}, "unknown tasks ['coin']"),
        ({"seeds": 0}, "--seeds must be an int >= 1, got 0"),
        ({"seeds": True}, "--seeds must be an int >= 1"),
        ({"workers": 0}, "--workers must be an int >= 1, got 0"),
        ({"backend": "dask"}, "--backend must be one of"),
        ({"algo": "dqn"}, "--algo must be one of"),
        ({"address": "localhost:1"}, "--address applies to --backend ray"),
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
    assert "holds a study made with --preset 'full', not 'quick'" in capsys.readouterr().err
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9 - 2**20, 2**20))
    assert cli.main(["reproduce", "--out", str(tmp_path / "new")]) == 2
    assert "MiB free" in capsys.readouterr().err


@pytest.mark.slow
def test_algo_both_trains_each_bandit_task_with_both_trainers_side_by_side(tmp_path):
    out = tmp_path / "study"
    tasks = [t for t in reproduce.TASKS if t.name in ("exponential", "bandit-2arm")]
    cells = reproduce.cells_of(tasks, "both", 2, reproduce.PRESETS["quick"])
    assert [c.name for c in cells] == ["exponential-seed0", "exponential-seed1", "bandit-2arm-rl2-seed0",
                                       "bandit-2arm-rl2-seed1", "bandit-2arm-recurrent-ppo-seed0",
                                       "bandit-2arm-recurrent-ppo-seed1"]
    reproduce.reproduce("quick", str(out), tasks=["bandit-2arm"], log=quiet, budget=TINY, algo="both")
    saved = json.loads((out / "results.json").read_text())
    assert [(r["config"], r["algo"]) for r in saved["results"]] == [("bandit-2arm-rl2", "rl2"),
                                                                    ("bandit-2arm-recurrent-ppo", "recurrent-ppo")]
    # rl2: one batch of the quick preset; RecurrentPPO: 5120 steps round up to one rollout of 512 episodes of 20
    assert [r["training"]["train_steps"] for r in saved["results"]] == [81920, 10240]
    config = json.loads((out / "runs" / "bandit-2arm-recurrent-ppo-seed0" / "config.json").read_text())
    assert config["algo"] == "recurrent-ppo" and config["ent_anneal_fraction"] == 1.0
    report = (out / "report.md").read_text()
    assert "| bandit-2arm-rl2 | 0 |" in report and "| bandit-2arm-recurrent-ppo | 0 |" in report
    assert [r["algo"] for r in saved["claims"]["rows"]] == ["rl2"] * 4 + ["recurrent-ppo"] * 4


def test_a_folder_of_another_algo_budget_or_fewer_seeds_is_refused_and_more_seeds_extend_it(tmp_path):
    out = tmp_path / "study"
    budget = reproduce.PRESETS["quick"]
    out.mkdir()
    (out / "study.json").write_text(json.dumps(reproduce._manifest("quick", "rl2", 3, budget)))
    with pytest.raises(ValueError, match="--algo 'rl2', not 'both'"):
        reproduce._check_folder(out, reproduce._manifest("quick", "both", 3, budget))
    with pytest.raises(ValueError, match=r"another budget \(it differs in \['eval_episodes'\]\)"):
        reproduce._check_folder(out, reproduce._manifest("quick", "rl2", 3, {**budget, "eval_episodes": 10}))
    with pytest.raises(ValueError, match="holds a study of 3 seeds, not 2: use --seeds 3"):
        reproduce._check_folder(out, reproduce._manifest("quick", "rl2", 2, budget))
    reproduce._check_folder(out, reproduce._manifest("quick", "rl2", 5, budget))  # more seeds: extended


def test_the_cells_of_the_presets_count_steps_not_seconds():
    for name, preset in reproduce.PRESETS.items():
        for cell in reproduce.cells_of(reproduce.TASKS, "both", 1, preset):
            assert cell.max_seconds is None, (name, cell.name)
            assert cell.threads == preset["threads"]
        quick = {c.name: c for c in reproduce.cells_of(reproduce.TASKS, "rl2", 1, preset)}
        assert sorted(quick) == sorted(f"{t}-seed0" for t in ("coin-fair", "coin-bent", "die", "gaussian",
                                                              "exponential", "switching-coin", "bandit-2arm-rl2",
                                                              "bandit-3arm-rl2",
                                                              "gaussian-bandit-rl2"))
    assert reproduce.PRESETS["quick"]["seeds"] == 1 and reproduce.PRESETS["full"]["seeds"] == 5


@pytest.mark.slow
def test_the_serial_and_local_backends_give_the_same_numbers(tmp_path):
    """A cell's numbers depend on the cell alone: two cells at a time in a process pool give the
    figures of one after another in this process, to the last bit; a third seed extends the study."""
    tiny = {**TINY, "simulation_episodes": None}
    studies = {}
    for backend in ("serial", "local"):
        studies[backend] = reproduce.reproduce("quick", str(tmp_path / backend), seeds=2, tasks=["die", "bandit-2arm"],
                                               log=quiet, budget=tiny, backend=backend, workers=2)
    serial, local = studies["serial"], studies["local"]
    assert local["workers"] == 2 and [r["config"] for r in serial["results"]] == ["die"] * 2 + ["bandit-2arm-rl2"] * 2

    def evaluations(study):  # every figure of the evaluations, without the seconds they took
        return [{k: v for k, v in r["evaluation"].items() if k != "seconds"} for r in study["results"]]

    assert evaluations(serial) == evaluations(local)
    assert [r["training"]["train_steps"] for r in serial["results"]] == [51200, 51200, 81920, 81920]
    assert serial["claims"]["rows"] == local["claims"]["rows"]

    def figures(configs):  # every metric but the wall-clock time
        return [{k: v for k, v in c["metrics"].items() if not k.startswith("train_seconds")} for c in configs]

    assert figures(serial["configs"]) == figures(local["configs"])
    more = reproduce.reproduce("quick", str(tmp_path / "serial"), seeds=3, tasks=["die", "bandit-2arm"], log=quiet,
                               budget=tiny, backend="serial")
    assert [r["seed"] for r in more["results"]] == [0, 1, 2, 0, 1, 2]
    assert more["results"][:2] == serial["results"][:2]


def test_a_ray_address_where_nothing_answers_is_refused_before_any_cell(tmp_path, capsys):
    import socket

    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    out = tmp_path / "study"
    code = cli.main(["reproduce", "--out", str(out), "--backend", "ray", "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Ray cluster" in err and f"127.0.0.1:{port}" in err, err
    assert not (out / "study.json").exists() and not (out / "runs").exists()

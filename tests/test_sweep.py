"""Sweeps: a tiny grid on the local pool, in series and on a local Ray instance gives the same numbers;
an interrupted sweep resumes; a failing cell is retried once, reported, and does not stop the others."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("yaml")
pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")
pytest.importorskip("matplotlib")

from benchmarks import cells, cli, sweep
from benchmarks.sweep_results import aggregate, cell_metrics, mean_interval

# 2 tasks x 2 seeds, a few seconds each: an rl2 bandit agent and an LSTM coin predictor
TINY = """\
name: tiny
seeds: 2
threads: 1
evaluation: {episodes: 300, long_factor: 2, long_episodes: 200}
simulation: false
tasks:
  - name: b2
    env_id: MetaBandit-v0
    algos: [rl2]
    preset: quick
    timesteps: 20480
  - name: coin
    env_id: MetaCoin-v0
    timesteps: 51200
    hyperparameters: {hidden_size: 16}
"""
NAMES = ["b2-rl2-quick-t20480-seed0", "b2-rl2-quick-t20480-seed1", "coin-supervised-hidden_size=16-t51200-seed0",
         "coin-supervised-hidden_size=16-t51200-seed1"]


def quiet(_message):
    pass


def evaluations(results):
    """Per cell, what it measured (its timings left out)."""
    return {r["cell"]["name"]: {k: v for k, v in r["evaluation"].items() if k != "seconds"}
            for r in results["results"]}


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def local_run(spec_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "sweep"
    messages = []
    results = sweep.sweep(spec_file, out, backend="local", workers=2, log=messages.append)
    return out, results, messages


@pytest.mark.slow
def test_a_tiny_sweep_on_the_local_pool(local_run):
    out, results, messages = local_run
    assert results["failed"] == [] and results["finished"] == results["cells"] == 4
    assert [r["cell"]["name"] for r in results["results"]] == NAMES
    assert any("4 to run on the local backend (2 at a time)" in m for m in messages)
    for name in NAMES:
        assert (out / "runs" / name / "config.json").exists() and (out / "results" / f"{name}.json").exists()
        assert (out / "logs" / f"{name}.log").read_text()
    saved = json.loads((out / "results.json").read_text())
    assert saved["configs"] == results["configs"] and saved["kind"] == "sweep"
    by_config = {c["config"]: c for c in saved["configs"]}
    assert sorted(by_config) == ["b2-rl2-quick-t20480", "coin-supervised-hidden_size=16-t51200"]
    bandit = by_config["b2-rl2-quick-t20480"]
    assert bandit["seeds"] == [0, 1] and bandit["hyperparameters"] == {} and bandit["timesteps"] == 20480
    returns = [r["evaluation"]["trained"]["mean_return"] for r in results["results"][:2]]
    assert bandit["metrics"]["return"]["values"] == returns
    assert bandit["metrics"]["return"]["mean"] == pytest.approx(sum(returns) / 2)
    assert by_config["coin-supervised-hidden_size=16-t51200"]["metrics"]["mean_kl"]["n"] == 2
    for record in results["results"]:
        assert record["evaluation"]["long"]["horizon"] == 2 * record["evaluation"]["trained"]["horizon"]
        assert "simulation" not in record
    coin = results["results"][2]
    config = json.loads((out / coin["run"] / "config.json").read_text())
    assert config["hidden_size"] == 16 and config["steps"] == 51200 // (256 * 20)
    table = (out / "table.md").read_text()
    assert "| b2-rl2-quick-t20480 | 2 |" in table and "| coin-supervised-hidden_size=16-t51200 | 2 |" in table


@pytest.mark.slow
def test_identical_seeds_give_identical_cells_in_series(local_run, spec_file, tmp_path):
    _, results, _ = local_run
    serial = sweep.sweep(spec_file, tmp_path / "serial", backend="serial", log=quiet)
    assert evaluations(serial) == evaluations(results)
    assert [r["training"]["train_steps"] for r in serial["results"]] == [
        r["training"]["train_steps"] for r in results["results"]]


@pytest.mark.slow
def test_identical_seeds_give_identical_cells_on_a_local_ray_instance(local_run, spec_file, tmp_path):
    pytest.importorskip("ray")
    _, results, _ = local_run
    on_ray = sweep.sweep(spec_file, tmp_path / "ray", backend="ray", workers=2, log=quiet)
    assert on_ray["failed"] == [] and on_ray["backend"] == "ray"
    assert evaluations(on_ray) == evaluations(results)
    assert sorted(p.name for p in (tmp_path / "ray" / "runs").iterdir()) == NAMES


@pytest.mark.slow
def test_a_rerun_skips_finished_cells_and_the_report_takes_the_folder(local_run, spec_file, capsys):
    out, results, _ = local_run
    messages = []
    again = sweep.sweep(spec_file, out, log=messages.append)
    assert any("4 already finished, 0 to run" in m for m in messages)
    assert evaluations(again) == evaluations(results)
    assert cli.main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert report.startswith("# Sweep tiny")
    assert "| b2-rl2-quick-t20480 | 1 |" in report  # the per-cell table, seed 1
    assert "## Across seeds" in report and "regret_b2-rl2-quick-t20480.png" in report
    assert (out / "figures" / "regret_b2-rl2-quick-t20480.png").exists()
    capsys.readouterr()


@pytest.mark.slow
def test_a_failing_cell_is_retried_once_and_does_not_stop_the_others(spec_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    broken = out / "runs" / NAMES[1]
    broken.mkdir(parents=True)
    (out / "sweep.json").write_text("{}")
    (broken / "config.json").write_text("not json")  # training refuses the folder, every time
    assert cli.main(["sweep", str(spec_file), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"cell {NAMES[1]} failed (ValueError" in captured.err and "trying it again" in captured.err
    assert f"cell {NAMES[1]} failed 2 times" in captured.err
    assert "3 of 4 cells finished; 1 failed." in captured.out
    results = json.loads((out / "results.json").read_text())
    assert [r["cell"]["name"] for r in results["results"]] == [NAMES[0], *NAMES[2:]]
    (failure,) = results["failed"]
    assert failure["cell"] == NAMES[1] and failure["attempts"] == 2
    assert "config.json" in failure["error"] and "Traceback" in failure["traceback"]
    assert json.loads((out / "failed" / f"{NAMES[1]}.json").read_text())["attempts"] == 2
    # mended, a rerun runs that cell alone, and the failure report goes
    (broken / "config.json").unlink()
    assert cli.main(["sweep", str(spec_file), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "3 already finished, 1 to run" in captured.err and "4 of 4 cells finished; 0 failed." in captured.out
    assert not (out / "failed" / f"{NAMES[1]}.json").exists()


@pytest.mark.slow
def test_a_cell_that_fails_once_succeeds_on_its_retry(spec_file, tmp_path, monkeypatch):
    calls = []
    train = cells.train

    def flaky(cell, run, log, progress_bar=False):
        calls.append(cell.name)
        if calls.count(cell.name) == 1 and cell.name == NAMES[0]:
            raise RuntimeError("a transient failure")
        return train(cell, run, log, progress_bar)

    monkeypatch.setattr(cells, "train", flaky)
    messages = []
    results = sweep.sweep(spec_file, tmp_path / "sweep", backend="serial", log=messages.append)
    assert results["failed"] == [] and results["finished"] == 4
    assert calls.count(NAMES[0]) == 2 and calls.count(NAMES[2]) == 1
    assert any("RuntimeError: a transient failure); trying it again" in m for m in messages)


INTERRUPTED = """\
seeds: 2
threads: 1
evaluation: {episodes: 300, long_factor: null}
simulation: false
tasks:
  - name: b2
    env_id: MetaBandit-v0
    algos: [rl2]
    preset: quick
    timesteps: 409600
    hyperparameters: {eval_every: 51200, eval_episodes: 100}
"""


def sweep_until_a_checkpoint(spec, out):
    """The CLI sweeping ``spec`` in a subprocess (its own session), once a cell has written a checkpoint."""
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", "sweep", str(spec), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while not list(out.glob("runs/*/checkpoint.pt")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    return process


@pytest.mark.slow
@pytest.mark.parametrize("whom", ["group", "driver"])
def test_an_interrupted_sweep_resumes_and_ends_as_an_uninterrupted_one(tmp_path, whom):
    spec = tmp_path / "spec.yaml"
    spec.write_text(INTERRUPTED)
    out = tmp_path / "interrupted"
    # once a cell has a checkpoint: Ctrl-C at a terminal, SIGINT to the sweep's whole process group;
    # or `kill -INT` of the driver alone: either way the driver passes it on to its busy workers
    process = sweep_until_a_checkpoint(spec, out)
    if whom == "group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "run the same command to resume" in err and "write their checkpoints" in err
    assert "checkpoint written" in err
    messages = []
    resumed = sweep.sweep(spec, out, log=messages.append)
    assert resumed["finished"] == 2 and resumed["failed"] == []
    logs = "".join(path.read_text() for path in sorted((out / "logs").glob("*.log")))
    assert logs.count("b2-rl2-quick-eval_episodes=100-eval_every=51200-t409600-seed") >= 2 and "resumed" in logs
    whole = sweep.sweep(spec, tmp_path / "whole", backend="serial", log=quiet)
    assert evaluations(resumed) == evaluations(whole)


@pytest.mark.slow
def test_a_killed_worker_charges_no_cell_and_its_cells_rerun_one_at_a_time(tmp_path):
    import re

    spec = tmp_path / "spec.yaml"
    spec.write_text(INTERRUPTED)
    out = tmp_path / "sweep"
    process = sweep_until_a_checkpoint(spec, out)
    checkpoint = next(out.glob("runs/*/checkpoint.pt"))
    victim = checkpoint.parent.name
    pid = int(re.search(r"attempt in process (\d+)", (out / "logs" / f"{victim}.log").read_text()).group(1))
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert "a worker process died (BrokenProcessPool" in err and "run again one at a time" in err
    assert "failed (" not in err and "2 of 2 cells finished, 0 failed" in err
    results = json.loads((out / "results.json").read_text())
    assert results["failed"] == [] and results["finished"] == 2
    log = (out / "logs" / f"{victim}.log").read_text()
    assert log.count("attempt in process") == 2 and "resumed" in log


def test_bad_input_is_refused_before_any_job(spec_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("hidden_size: 16", "hidden_sise: 16"))
    assert cli.main(["sweep", str(bad), "--out", str(out)]) == 2
    assert "bad.yaml, line 15: tasks[1].hyperparameters.hidden_sise: unknown supervised hyperparameter" in \
        capsys.readouterr().err
    assert not out.exists()
    for argv, message in (
        (["--workers", "0"], "argument --workers: expected an int in [1, 1,024], got 0"),
        (["--address", "127.0.0.1:6379"], "--address applies to --backend ray"),
    ):
        assert cli.main(["sweep", str(spec_file), "--out", str(out), *argv]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    assert cli.main(["sweep", str(spec_file), "--out", str(out), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "4 to run" in err and f"to run    {NAMES[3]}" in err and not out.exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert cli.main(["sweep", str(spec_file), "--out", str(tmp_path / "other")]) == 2
    assert "is not empty and holds no sweep" in capsys.readouterr().err


def test_a_folder_with_cells_of_other_settings_is_refused(local_run, spec_file, tmp_path):
    out, _, _ = local_run
    plan = sweep.sweep(spec_file, out, dry_run=True, log=quiet)
    assert plan["todo"] == [] and [c["name"] for c in plan["cells"]] == NAMES
    changed = tmp_path / "changed.yaml"
    changed.write_text(TINY.replace("episodes: 300", "episodes: 400"))
    with pytest.raises(ValueError, match=r"made with other settings \(they differ in \['eval_episodes'\]\)"):
        sweep.sweep(changed, out, log=quiet)
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2


class _NotRay(threading.Thread):
    """A TCP server that accepts connections and answers HTTP/2 with 404: a port held by something else."""

    def __init__(self):
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]

    def run(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            conn.close()


@pytest.mark.slow
def test_an_unreachable_ray_address_fails_in_seconds(spec_file, tmp_path, capsys):
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    other = _NotRay()
    other.start()
    for address, message in ((f"127.0.0.1:{port}", "cannot reach the Ray cluster"),
                             (f"127.0.0.1:{other.port}", "no Ray cluster answers"),
                             ("10.0.0", "--address must be host:port")):
        start = time.perf_counter()
        code = cli.main(["sweep", str(spec_file), "--out", str(tmp_path / "s"), "--backend", "ray", "--address",
                         address])
        assert code == 2 and time.perf_counter() - start < sweep.CONNECT_TIMEOUT + 10
        err = capsys.readouterr().err
        assert message in err and address in err, err
        assert not (tmp_path / "s").exists()
    other.server.close()


def test_mean_and_95_interval_against_the_t_table():
    # Student's t quantiles t_{0.975, n-1} from the published table: 12.7062 (1), 4.3027 (2), 2.7764 (4)
    for values, t in (([1.0, 3.0], 12.7062), ([1.0, 2.0, 3.0], 4.3027), ([2.0, 4.0, 4.0, 4.0, 5.0], 2.7764)):
        summary = mean_interval(values)
        n = len(values)
        mean = sum(values) / n
        sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
        assert summary["mean"] == pytest.approx(mean) and summary["sd"] == pytest.approx(sd)
        assert summary["half_width"] == pytest.approx(t * sd / n**0.5, rel=1e-4)
        assert summary["ci"] == pytest.approx([mean - summary["half_width"], mean + summary["half_width"]])
    assert mean_interval([2.5]) == {"n": 1, "mean": 2.5, "sd": None, "ci": None, "half_width": None,
                                    "values": [2.5]}
    assert mean_interval([])["mean"] is None


def test_the_interval_covers_the_mean_95_percent_of_the_time():
    import numpy as np

    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 2.0, size=(4000, 3))
    covered = [lo <= 1.0 <= hi for lo, hi in (mean_interval(s)["ci"] for s in samples)]
    assert abs(np.mean(covered) - 0.95) < 3 * (0.95 * 0.05 / 4000) ** 0.5


def _record(config, seed, mean_return, difference, algo="rl2"):
    trained = {"mean_return": mean_return, "bayes_gap": (12.5 - mean_return) / 2.5, "bayes_optimal_return": 12.5,
               "random_return": 10.0, "paired": {"reference": "bayes-optimal", "mean_difference": difference}}
    return {"config": config, "task": "b2", "env_id": "MetaBandit-v0", "env_kwargs": {}, "algo": algo, "seed": seed,
            "cell": {"preset": None, "hyperparameters": {"hidden_size": 8}, "timesteps": 100},
            "training": {"train_seconds": 1.0}, "evaluation": {"trained": trained}}


def test_cells_are_grouped_by_config_across_seeds():
    records = [_record("a", 0, 12.0, -0.5), _record("b", 0, 11.0, -1.0), _record("a", 1, 12.2, -0.25)]
    assert cell_metrics(records[0])["paired_gap"] == pytest.approx(0.5 / 2.5)
    configs = aggregate(records)
    assert [c["config"] for c in configs] == ["a", "b"] and configs[0]["seeds"] == [0, 1]
    assert configs[0]["hyperparameters"] == {"hidden_size": 8}
    gap = configs[0]["metrics"]["paired_gap"]
    assert gap["n"] == 2 and gap["mean"] == pytest.approx((0.2 + 0.1) / 2)
    assert configs[1]["metrics"]["return"]["ci"] is None and configs[0]["metrics"]["long_bayes_gap"]["n"] == 0

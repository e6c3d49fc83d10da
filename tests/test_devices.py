"""``--device auto|cpu|cuda``: device-agnostic checks on any machine, CUDA ones where torch sees a GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents import devices
from agents.devices import check_device, resolve_device, to_device
from agents.predictor import PredictorConfig, load_predictor, train_predictor
from agents.rl2 import RL2Config, load_rl2, train_rl2
from benchmarks import cli

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="torch sees no CUDA device")


def quiet(_message: str) -> None:
    pass


def tiny_rl2(**overrides) -> RL2Config:
    values = dict(env_id="MetaBandit-v0", timesteps=2 * 64 * 20, num_envs=64, hidden_size=8, net_arch=[8],
                  critic_arch=[8], minibatches=2, eval_every=10**9, eval_episodes=50, torch_threads=1)
    return RL2Config(**{**values, **overrides})


def tiny_predictor(**overrides) -> PredictorConfig:
    values = dict(env_id="MetaCoin-v0", steps=3, eval_every=3, eval_episodes=20, hidden_size=4, batch_size=8)
    return PredictorConfig(**{**values, **overrides})


def weights(module_state):
    return {k: v.detach().cpu().numpy() for k, v in module_state.items()}


def test_device_names_and_cuda_without_a_device(monkeypatch):
    assert check_device("cpu") == "cpu" and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device must be one of \('cpu', 'cuda', 'auto'\), got 'gpu'"):
        check_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="--device cuda: torch sees no CUDA device"):
        check_device("cuda", "--device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")  # nothing is allocated: a name only


def test_to_device_shares_the_array_on_the_cpu():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = to_device(array, torch.device("cpu"))
    array[0, 0] = 7.0
    assert tensor[0, 0] == 7.0  # no copy on the CPU


def test_cuda_on_the_command_line_without_a_device_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    assert cli.main(["train", "MetaCoin-v0", "--algo", "supervised", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("meta-bayes train: error: --device cuda: torch sees no CUDA device") and "\n" not in err
    assert not out.exists()  # refused before any work
    assert cli.main(["train", "MetaCoin-v0", "--algo", "supervised", "--device", "tpu", "--out", str(out)]) == 2
    assert "--device" in capsys.readouterr().err


@pytest.mark.skipif(CUDA, reason="on a CUDA machine auto is the GPU, whose numbers differ from the CPU's")
def test_auto_on_a_cpu_machine_trains_the_same_numbers_as_cpu(tmp_path):
    for name in ("cpu", "auto"):
        train_rl2(tiny_rl2(device=name), tmp_path / f"rl2-{name}", log=quiet)
        train_predictor(tiny_predictor(device=name), tmp_path / f"sup-{name}", log=quiet)
    a, b = (torch.load(tmp_path / f"rl2-{n}" / "checkpoint.pt", weights_only=True)["network"] for n in ("cpu", "auto"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    a, b = (torch.load(tmp_path / f"sup-{n}" / "checkpoint.pt", weights_only=True)["network"] for n in ("cpu", "auto"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "rl2-auto" / "config.json").read_text())["device"] == "auto"


def test_a_run_resumes_on_another_device_setting_and_loads_on_the_cpu(tmp_path):
    """``device`` may change when a run resumes (it is where it trains, not what it is); the loaders
    read every checkpoint onto the CPU first (``map_location``)."""
    run = tmp_path / "run"
    train_rl2(tiny_rl2(timesteps=64 * 20), run, log=quiet)
    train_rl2(tiny_rl2(device="auto"), run, log=quiet)  # a larger budget, another device setting: resumed
    machine, config = load_rl2(run)
    assert machine.device == torch.device("cpu") and config.timesteps == 2 * 64 * 20
    _, probs = machine.step(machine.initial_state(3), np.zeros((3, 4)))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    old = json.loads((run / "config.json").read_text())
    del old["device"]  # a run folder written before the field existed
    (run / "config.json").write_text(json.dumps(old))
    assert load_rl2(run)[1].device == "cpu"


@needs_cuda
def test_cuda_training_loads_and_evaluates_on_the_cpu(tmp_path):
    train_rl2(tiny_rl2(device="cuda"), tmp_path / "rl2", log=quiet)
    machine, _ = load_rl2(tmp_path / "rl2")
    assert machine.device == torch.device("cpu")
    train_predictor(tiny_predictor(device="cuda"), tmp_path / "sup", log=quiet)
    predictor, _ = load_predictor(tmp_path / "sup")
    _, out = predictor.step(predictor.initial_state(2), np.zeros((2, 3)))
    assert out.shape == (2, 1) and np.all((out > 0) & (out < 1))
    train_rl2(tiny_rl2(device="cpu", timesteps=3 * 64 * 20), tmp_path / "rl2", log=quiet)  # resumed on the CPU


def test_devices_module_lists_what_the_cli_offers():
    assert devices.DEVICES == ("cpu", "cuda", "auto")
    parser = cli.build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions if a.dest == "device")
    assert tuple(train.choices) == devices.DEVICES

"""bayes.files: a write that fails leaves the previous file whole and no temporary file behind."""

import json
import os
import stat
import subprocess
import sys

import pytest

from bayes.files import write_atomically, write_json, write_text


def test_a_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "deep" / "config.json"  # the folder is made
    write_json(path, {"a": 1})
    write_json(path, {"b": [1, 2]})
    assert json.loads(path.read_text()) == {"b": [1, 2]}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]


def test_a_failing_write_keeps_the_previous_content(tmp_path):
    path = tmp_path / "record.json"
    write_text(path, "before")

    def half_then_fail(handle):
        handle.write(b"half of the new")
        raise KeyboardInterrupt  # a Ctrl-C in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half_then_fail)
    assert path.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_python_m_benchmarks_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "envs", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert next(row["id"] for row in json.loads(result.stdout)) == "MetaBandit-v0"

"""The fuzzer of bad command lines (benchmarks/fuzz_cli.py)."""

import pytest

from benchmarks import fuzz_cli


def test_the_command_lines_are_the_same_for_a_seed_and_cover_every_subcommand():
    first = fuzz_cli.generate_commands(120, seed=7)
    again = fuzz_cli.generate_commands(120, seed=7)
    other = fuzz_cli.generate_commands(120, seed=8)
    assert len(first) == 120
    assert [c.argv for c in first] == [c.argv for c in again]
    assert [(c.files, c.dirs, c.runs, c.labels) for c in first] == [(c.files, c.dirs, c.runs, c.labels) for c in again]
    assert [c.argv for c in first] != [c.argv for c in other]
    assert set(fuzz_cli.SUBCOMMANDS) <= {c.subcommand for c in first}
    for case in first:
        assert case.labels, f"a command line with no bad part: {case.command}"
        if case.subcommand in fuzz_cli.SUBCOMMANDS:
            assert case.argv[0] == case.subcommand
        assert all("\0" not in token for token in case.argv)
        # nothing outside the workspace but places no one can write to (not even root)
        assert all(token.startswith(("/proc", "/sys", "/dev")) for token in case.argv if token.startswith("/"))


@pytest.mark.parametrize("count", [1, 8, 9, 500])
def test_the_requested_count(count):
    cases = fuzz_cli.generate_commands(count, seed=0)
    assert len(cases) == count
    assert [c.index for c in cases] == list(range(count))
    if count >= len(fuzz_cli.SUBCOMMANDS):
        assert set(fuzz_cli.SUBCOMMANDS) <= {c.subcommand for c in cases}


def test_a_line_that_may_be_valid_also_holds_a_part_that_is_surely_refused():
    cases = fuzz_cli.generate_commands(500, seed=3)
    for case in cases:
        assert len(case.kinds) == len(case.labels)
        assert set(case.kinds) - {fuzz_cli.NEUTRAL}, case.command
        if fuzz_cli.NEUTRAL in case.kinds:
            assert fuzz_cli.HARD in case.kinds, case.command
    assert any(fuzz_cli.NEUTRAL in c.kinds for c in cases)
    assert any(c.kinds == [fuzz_cli.SOFT] for c in cases)


def test_the_files_of_every_command_line_can_be_made(tmp_path):
    for seed in (0, 5):
        root = tmp_path / str(seed)
        root.mkdir()
        space = fuzz_cli.Workspace(root, (2**32, 20.0), valid_config={"algo": "supervised"}, checkpoint=b"weights")
        for case in fuzz_cli.generate_commands(500, seed):
            space.materialize(case)
        assert any(root.glob("run-*/checkpoint.pt")) and any(root.glob("*spec-*.yaml"))


def test_a_traceback_a_timeout_or_an_odd_exit_status_is_a_failure():
    case = fuzz_cli.Case(0, "envs", ["envs", "--jsn"], ["unknown flag"], [fuzz_cli.HARD])
    text = "Traceback (most recent call last):\n  File \"x\", line 1\n    y\nKeyError: 'task'\n"
    assert fuzz_cli._exception(text) == "KeyError: 'task'"
    deep = '  File "x", line 1, in f\n    f()\n  [Previous line repeated 996 more times]\nRecursionError: maximum\n'
    assert fuzz_cli._exception(deep) == "RecursionError: maximum"
    assert not fuzz_cli.Result(case, 2, 0.1, False, []).failed
    assert fuzz_cli.Result(case, 1, 0.1, True, [], "KeyError: 'task'").kind == "KeyError"
    assert fuzz_cli.Result(case, None, 20.0, False, []).reasons == ["timeout"]
    assert fuzz_cli.Result(case, -9, 1.0, False, []).reasons == ["exit code -9"]
    hidden = fuzz_cli.Result(case, 1, 0.5, False, [], "AttributeError: 'list' object has no attribute 'get'", bug=True)
    assert hidden.failed and hidden.kind == "AttributeError"


@pytest.mark.slow
def test_forty_bad_command_lines_are_refused_cleanly_and_quickly():
    """May fail today: the fuzzer finds tracebacks and timeouts that the command line must not have."""
    report = fuzz_cli.run_fuzzer(count=40, seed=0, workers=2, timeout=20.0)
    assert report["count"] == 40
    assert report["failed"] == 0, fuzz_cli.format_summary(report)

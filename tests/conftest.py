"""Shared test set-up: no test writes to the user's cache directory; torch runs on one thread."""

import sys

import pytest


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory):
    """Point the disk caches (Gittins tables) at a temporary folder for the whole run."""
    mp = pytest.MonkeyPatch()
    mp.setenv("META_BAYES_CACHE", str(tmp_path_factory.mktemp("meta-bayes-cache")))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests that use torch run it on one thread (small networks, 2-core CI) and leave the
    process's setting as they found it (training functions set their own)."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

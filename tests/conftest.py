"""Shared test set-up: no test writes to the user's cache directory."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory):
    """Point the disk caches (Gittins tables) at a temporary folder for the whole run."""
    mp = pytest.MonkeyPatch()
    mp.setenv("META_BAYES_CACHE", str(tmp_path_factory.mktemp("meta-bayes-cache")))
    yield
    mp.undo()

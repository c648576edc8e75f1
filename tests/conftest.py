"""Test-wide fixtures: exact references are cached in a per-session folder."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def physlens_cache(tmp_path_factory):
    """Point PHYSLENS_CACHE at a fresh folder so every test session computes its own references."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("physlens-cache")
    mp.setenv("PHYSLENS_CACHE", str(path))
    yield path
    mp.undo()

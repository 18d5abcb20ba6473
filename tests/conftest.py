"""Settings for the whole suite."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _own_cache_directory(tmp_path_factory):
    """leadrules' cache files (dsl.cache) go to a directory of the suite's own, not the user's:
    the tests parse hundreds of rule files that nobody will read again."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """Run in tmp_path, so file names (and the messages naming them) are short and fixed."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

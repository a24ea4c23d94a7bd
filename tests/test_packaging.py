"""What ``pip install .`` (a wheel, not an editable install) puts on a user's disk.

setuptools installs only the packages ``pyproject.toml`` lists, while the editable installs of the
README and tox find every folder through the source tree, so a package missing from the list
passes every other test here and fails on the first import after a plain install.
"""

import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"


@pytest.fixture(scope="module")
def setuptools_config() -> dict:
    if not PYPROJECT.exists():
        pytest.skip("no pyproject.toml beside the tests (an installed copy of the tests)")
    return tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]


def _source_folders(config: dict) -> dict[str, Path]:
    """Installed package name -> its folder in the source tree, for every folder holding Python."""
    folders = {}
    for name, folder in config["package-dir"].items():
        root = REPO / folder
        for source in root.rglob("*.py"):
            if "__pycache__" in source.parts or "tests" in source.relative_to(REPO).parts:
                continue
            rel = source.parent.relative_to(root)
            folders[".".join((name, *rel.parts))] = source.parent
    return folders


def test_every_folder_of_python_is_a_listed_package(setuptools_config):
    folders = _source_folders(setuptools_config)
    assert "swapfw.patterns" in folders and "swapfw_plugins.spaces" in folders  # the walk sees the tree
    assert sorted(set(folders) - set(setuptools_config["packages"])) == [], "add these to [tool.setuptools] packages"
    assert sorted(set(setuptools_config["packages"]) - set(folders)) == [], "listed packages with no folder"


def test_every_package_folder_has_an_init(setuptools_config):
    missing = [str(folder.relative_to(REPO)) for folder in _source_folders(setuptools_config).values()
               if not (folder / "__init__.py").exists()]
    assert missing == []

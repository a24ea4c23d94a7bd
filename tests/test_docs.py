"""The documentation: the site builds without a warning, and the README stays a front door.

The site (``mkdocs.yml``, ``docs/``) is built with ``mkdocs build --strict`` into a temporary
folder, so a broken link, a page left out of the navigation or a generated block that fails
(``docs/hooks.py`` reads the plugin registry, the contracts, the command's options and
``benchmarks/results/*.json``) fails the tests. The README is at most 300 lines, and its first
two commands are the two a new user runs: install and score a bundled default, install and test.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

FIRST_COMMANDS = [
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && swapfw score torchvision.models:resnet18",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest -q",
]
MAX_README_LINES = 300


def _fenced_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks, in order."""
    return [m.group(1).strip() for m in re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)]


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; at most {MAX_README_LINES} (move the " \
                                           "rest to docs/)"


def test_readme_starts_with_install_and_test():
    blocks = _fenced_blocks(README.read_text())
    assert blocks[:2] == FIRST_COMMANDS, f"the README's first two commands should be, exactly: {FIRST_COMMANDS}"


def test_readme_links_to_docs_exist():
    text = README.read_text()
    links = re.findall(r"\]\((docs/[^)#\s]+)", text)
    assert links, "the README should link to the docs"
    missing = sorted({link for link in links if not (ROOT / link).exists()})
    assert not missing, f"README.md links to missing files: {missing}"


def test_readme_default_rankings_are_the_benchmarks_figures():
    """The README's table of default rankings is what benchmarks/results/default_ranking.json holds,
    rendered by the benchmark itself (``--readme``): no figure in it is typed by hand."""
    import json

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import default_ranking
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    raw = json.loads((ROOT / "benchmarks" / "results" / "default_ranking.json").read_text())["raw"]
    text = README.read_text()
    assert default_ranking.README_BEGIN in text and default_ranking.README_END in text
    block = text.split(default_ranking.README_BEGIN, 1)[1].split(default_ranking.README_END, 1)[0]
    assert block.strip() == default_ranking.readme_table(raw), \
        "README's default rankings differ from the results: python benchmarks/default_ranking.py ... --readme"
    for space, choice in raw["choice"].items():  # and each space declares what was chosen for it
        from swapfw.plugins import get_space

        assert get_space(space).default_proxy == choice["proxy"], space
        assert next(iter(get_space(space).protocols)) == choice["protocol"], f"{space}: its default protocol"


def test_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{output[-4000:]}"
    assert "WARNING" not in output, output[-4000:]
    for page in ("index.html", "proxies/index.html", "results/index.html", "writing-plugins/index.html"):
        assert (tmp_path / "site" / page).is_file(), f"the site lacks {page}"
    proxies = (tmp_path / "site" / "proxies" / "index.html").read_text()
    assert "generated:" not in proxies, "a marker was left unreplaced"
    assert 'id="swap"' in proxies and 'id="regswap"' in proxies, "the proxies page lacks the generated sections"

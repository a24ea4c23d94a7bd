"""A score cache in SQLite, so a rerun or a larger run reuses work and a killed run resumes.

Scores are keyed by (space, arch, proxy, data, batch, seed, protocol, version): every setting
that can change a value, ``version`` naming swapfw's and the providing plugins' distributions and
versions (``evaluate.provenance``). Real evaluations (``evaluations.Evaluations``) sit beside
them, keyed by (evaluator with its options, space, arch, seed, version), with their cost and any
failure. A cache that SQLite cannot read is moved aside, reported and rebuilt.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import click

_SCHEMA = """CREATE TABLE IF NOT EXISTS scores (
    space TEXT, arch TEXT, proxy TEXT, data TEXT, batch INTEGER, seed INTEGER, protocol TEXT,
    version TEXT, value REAL, PRIMARY KEY (space, arch, proxy, data, batch, seed, protocol, version))"""

_EVALUATIONS = """CREATE TABLE IF NOT EXISTS evaluations (
    evaluator TEXT, space TEXT, arch TEXT, seed INTEGER, version TEXT, value REAL, cost REAL, error TEXT,
    PRIMARY KEY (evaluator, space, arch, seed, version))"""


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "swapfw" / "scores.sqlite"


class ScoreCache:
    """``get``/``put`` single values by their whole key, provenance last."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            click.echo(f"warning: score cache {self.path} was unreadable ({exc}); moved to {aside}, starting afresh",
                       err=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=120)  # another run writing the same cache: wait, do not fail
        db.execute(_SCHEMA)
        db.execute(_EVALUATIONS)
        db.execute("SELECT count(*) FROM scores").fetchone()  # reads a page: fails on a corrupt file
        return db

    def get(self, key: tuple) -> float | None:
        row = self._db.execute(
            "SELECT value FROM scores WHERE space=? AND arch=? AND proxy=? AND data=? AND batch=? AND seed=? "
            "AND protocol=? AND version=?", key).fetchone()
        if row is None:
            return None
        return float("nan") if row[0] is None else float(row[0])

    def put(self, key: tuple, value: float) -> None:
        stored = None if value != value else value  # SQLite has no NaN
        self._db.execute("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*key, stored))

    def get_evaluation(self, key: tuple) -> tuple | None:
        """(value or None where it failed, cost in seconds, error or None) of a real evaluation."""
        return self._db.execute("SELECT value, cost, error FROM evaluations WHERE evaluator=? AND space=? AND arch=? "
                                "AND seed=? AND version=?", key).fetchone()

    def put_evaluation(self, key: tuple, result: tuple) -> None:
        self._db.execute("INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*key, *result))

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()

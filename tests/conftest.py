"""Shared fixtures: the real instrument files of ../shared/corpus, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_path(*parts: str) -> Path:
    """Path of a corpus file; skips the calling test (with the reason) where ../shared is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not available: {CORPUS} is absent (tests read ../shared/corpus in place)")
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file {'/'.join(parts)} is absent")
    return path


def corpus_files(folder: str, pattern: str = "*") -> list[Path]:
    """Files of a corpus folder for parametrisation (empty list where the corpus is absent)."""
    base = CORPUS / folder
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob(pattern) if p.is_file() and p.parent.name != "peer_readings")


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; skips where ../shared is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not available: {CORPUS} is absent")
    return CORPUS


def ids(paths: list[Path]) -> list[str]:
    """Readable test ids for corpus files."""
    return [str(p.relative_to(CORPUS)) for p in paths]

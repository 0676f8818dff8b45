"""Where Syllabus keeps what it writes, and the checkout's root.

Run from a checkout (``pyproject.toml`` beside the packages, as ``make install`` and
the Docker image run it), everything lives under ``<checkout>/var``: collections,
KaTeX, the assembled models. Installed anywhere else (``pip install``), collections
and KaTeX go to the user's data folder, ``$XDG_DATA_HOME/syllabus``
(``~/.local/share/syllabus``), and models to the cache folder,
``$XDG_CACHE_HOME/syllabus`` (``~/.cache/syllabus``). ``SYLLABUS_DATA_DIR``,
``SYLLABUS_MODEL_CACHE_DIR`` and ``SYLLABUS_EMBEDDING_CACHE_DIR`` choose others.

A module of its own so that a tool can find them without loading what
:mod:`service.settings` imports (FAISS, the generation models' registry).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _user_folder(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    base = env.get(variable) or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / fallback) / "syllabus"


def data_home(env: Mapping[str, str] = os.environ, root: Path = PROJECT_ROOT) -> Path:
    """The folder for collections and KaTeX: ``var`` in a checkout, else the user's."""
    if (root / "pyproject.toml").is_file():
        return root / "var"
    return _user_folder(env, "XDG_DATA_HOME", ".local/share")


def cache_home(env: Mapping[str, str] = os.environ, root: Path = PROJECT_ROOT) -> Path:
    """The folder for models built or assembled at first use: ``var`` in a checkout."""
    if (root / "pyproject.toml").is_file():
        return root / "var"
    return _user_folder(env, "XDG_CACHE_HOME", ".cache")


DATA_HOME = data_home()
MODELS_DIR = cache_home() / "models"

"""The checkout's root, from which the project's own folders (``corpus/``, ``var/``) hang.

A module of its own so that a tool can find them without loading what
:mod:`service.settings` imports (FAISS, the generation models' registry).
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

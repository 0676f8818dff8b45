"""Collections: one index directory per course under a shared data root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from indexes.errors import CollectionNameInvalid, IndexNotFound
from indexes.manifest import read_manifest
from indexes.versions import VersionedDir

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_COLLECTION = "default"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    documents: int
    chunks: int
    version: int
    last_ingested: str


@dataclass(frozen=True, slots=True)
class Collection:
    name: str
    path: Path

    def exists(self) -> bool:
        return VersionedDir(self.path).has_versions()

    def info(self) -> CollectionInfo:
        manifest = read_manifest(VersionedDir(self.path).current_dir())
        return CollectionInfo(
            name=self.name,
            documents=manifest.counts.documents,
            chunks=manifest.counts.chunks,
            version=manifest.version,
            last_ingested=manifest.created_at,
        )


class DataRoot:
    """The folder that holds every collection's index directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collection(self, name: str) -> Collection:
        if not _NAME.fullmatch(name) or name.strip(".") != name:
            raise CollectionNameInvalid(
                f"invalid collection name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
                "starting with a letter or digit"
            )
        return Collection(name, self.path / name)

    def collections(self) -> list[Collection]:
        """Collections with a published index, by name."""
        if not self.path.is_dir():
            return []
        found = (
            Collection(p.name, p)
            for p in sorted(self.path.iterdir())
            if p.is_dir() and _NAME.fullmatch(p.name)
        )
        return [c for c in found if c.exists()]

    def existing(self, name: str) -> Collection:
        collection = self.collection(name)
        if not collection.exists():
            raise IndexNotFound(f"unknown collection {name!r}: nothing has been ingested into it")
        return collection

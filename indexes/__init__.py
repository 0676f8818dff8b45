"""The index layer shared by ingestion (writer) and the service (reader).

An index is a directory of immutable versions; ``CURRENT`` names the one that
is served.  Each version holds FAISS vectors, a BM25 index, a SQLite chunk
store and ``manifest.json``.  Exceptions raised here all derive from
:class:`IndexError_`::

    IndexError_
    ├── IndexNotFound        no published version at that path
    ├── IndexCorrupt         a published version's files cannot be read
    ├── DiskFull             no space for a new version (the previous one serves)
    ├── EmbedderMismatch     the manifest's embedder differs from the configured one
    ├── EmbedderUnavailable  the configured embedding model is not on disk
    │   └── QuantizedModelUnavailable  its int8 model cannot be built or loaded
    ├── IndexLocked          another ingestion holds the write lock
    ├── EmptyScope           a search scope that holds no chunk of the index
    └── CollectionNameInvalid
"""

from indexes.collections import Collection, CollectionInfo, DataRoot
from indexes.embedder import Embedder, SentenceTransformerEmbedder
from indexes.errors import (
    CollectionNameInvalid,
    DiskFull,
    EmbedderMismatch,
    EmbedderUnavailable,
    EmptyScope,
    IndexCorrupt,
    IndexError_,
    IndexLocked,
    IndexNotFound,
)
from indexes.manifest import ChunkerParams, EmbedderInfo, Manifest
from indexes.reader import IndexReader
from indexes.records import Chunk, DocumentRecord, Hit
from indexes.scope import Scope
from indexes.search import FusionWeights
from indexes.writer import IndexWriter

__all__ = [
    "Chunk",
    "ChunkerParams",
    "Collection",
    "CollectionInfo",
    "CollectionNameInvalid",
    "DataRoot",
    "DiskFull",
    "DocumentRecord",
    "Embedder",
    "EmbedderInfo",
    "EmbedderMismatch",
    "EmbedderUnavailable",
    "EmptyScope",
    "FusionWeights",
    "Hit",
    "IndexCorrupt",
    "IndexError_",
    "IndexLocked",
    "IndexNotFound",
    "IndexReader",
    "IndexWriter",
    "Manifest",
    "Scope",
    "SentenceTransformerEmbedder",
]

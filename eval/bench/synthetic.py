"""Data for the scale benchmark: real sentences, their embeddings, and synthetic stand-ins.

- ``random``: unit vectors uniform on the sphere.  Nothing is near anything
  else, so a graph index has no structure to follow: the worst case.
- ``embedding-like``: drawn from a Gaussian with the mean and covariance of
  real all-MiniLM-L6-v2 vectors of our own texts, then normalised.  It keeps
  the model's anisotropy (a few directions carry most of the spread) but not
  its topic clusters, which make real vectors easier still.
- ``real``: the embeddings themselves (SQuAD 2.0 sentences and questions,
  the sentences of ``../shared/corpus``), a few tens of thousands.
- ``real-windows``: embeddings of overlapping 24-word windows through those
  sentences, every 4 words: real passages, more than twice as many.

Synthetic chunks for BM25 are runs of real sentences
drawn at random, about as long as a 200-token chunk.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt

from eval import squad
from indexes.embedder import SentenceTransformerEmbedder
from ingest import loaders
from ingest.sentences import split_sentences
from service.paths import MODELS_DIR

log = logging.getLogger(__name__)

DIMENSION = 384
KINDS = ("random", "embedding-like", "real", "real-windows")
CORPUS = squad.PROJECT_ROOT.parent / "shared" / "corpus"
SENTENCES_PER_CHUNK = 8
_MIN_SENTENCE_CHARS = 20
_BLOCK = 10_000
WINDOW_WORDS = 24
WINDOW_STRIDE = 4


def real_texts() -> tuple[list[str], list[str]]:
    """(sentences, questions): SQuAD 2.0's and the shared corpus's sentences, SQuAD's questions."""
    articles = squad.load_squad(squad.default_path())
    sentences = [s for a in articles for p in a.paragraphs for s in split_sentences(p)]
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and loaders.supported(path):
            try:
                document = loaders.load(path, path.read_bytes())
            except Exception:  # a broken file only makes the sample smaller
                log.debug("skipped %s", path, exc_info=True)
                continue
            sentences += [s for b in document.blocks for s in split_sentences(b.text)]
    sentences = [s for s in dict.fromkeys(sentences) if len(s) >= _MIN_SENTENCE_CHARS]
    questions = list(dict.fromkeys(q.question for a in articles for q in a.questions))
    return sentences, questions


def real_vectors(cache: Path) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(sentence vectors, question vectors) with the default backend, cached in ``cache``."""
    path = cache / "real-vectors.npz"
    if not path.is_file():
        sentences, questions = real_texts()
        embedder = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=MODELS_DIR)
        log.info("embedding %d sentences and %d questions", len(sentences), len(questions))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            sentences=embedder.embed(sentences),
            questions=embedder.embed(questions),
            backend=np.array(embedder.backend),
        )
    loaded = np.load(path)
    return loaded["sentences"], loaded["questions"]


def word_windows(sentences: list[str], words: int = WINDOW_WORDS) -> list[str]:
    """Overlapping runs of ``words`` words through the sentences, ``WINDOW_STRIDE`` apart:
    many more distinct real passages than there are sentences."""
    tokens = " ".join(sentences).split()
    starts = range(0, max(1, len(tokens) - words), WINDOW_STRIDE)
    return [" ".join(tokens[i : i + words]) for i in starts]


def window_vectors(cache: Path) -> npt.NDArray[np.float32]:
    """Embeddings of :func:`word_windows` over the real sentences, cached in ``cache``."""
    path = cache / "window-vectors.npy"
    if not path.is_file():
        windows = word_windows(real_texts()[0])
        log.info("embedding %d windows", len(windows))
        vectors = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=MODELS_DIR).embed(
            windows
        )
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return np.load(path)


def unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def random_vectors(n: int, seed: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, _BLOCK):  # small blocks: temporaries would inflate peak memory
        block = rng.standard_normal((min(_BLOCK, n - start), DIMENSION), dtype=np.float32)
        out[start : start + len(block)] = unit(block)
    return out


def embedding_like(
    n: int, seed: int, reference: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``n`` vectors from the Gaussian fitted to ``reference`` (mean and covariance)."""
    mean = reference.mean(axis=0, dtype=np.float64)
    values, vectors = np.linalg.eigh(np.cov(reference, rowvar=False))
    scale = (vectors * np.sqrt(np.clip(values, 0, None))).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, _BLOCK):
        z = rng.standard_normal((min(_BLOCK, n - start), DIMENSION), dtype=np.float32)
        out[start : start + len(z)] = unit(z @ scale.T + mean.astype(np.float32))
    return out


def vectors_and_queries(
    kind: str, n: int, queries: int, cache: Path
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``n`` base vectors and ``queries`` query vectors of one kind, the same on every run."""
    if kind == "random":
        return random_vectors(n, seed=1), random_vectors(queries, seed=2)
    sentences, questions = real_vectors(cache)
    if kind == "embedding-like":
        reference = np.concatenate([sentences, questions])
        return embedding_like(n, 1, reference), embedding_like(queries, 2, reference)
    # Real: held-out questions search the sentences and the other questions,
    # or passages of real text (windows).
    order = np.random.default_rng(0).permutation(len(questions))
    held_out, rest = questions[order[:queries]], questions[order[queries:]]
    base = window_vectors(cache) if kind == "real-windows" else np.concatenate([sentences, rest])
    if n < len(base):
        base = base[np.random.default_rng(1).permutation(len(base))[:n]]
    return np.ascontiguousarray(base), np.ascontiguousarray(held_out)


def synthetic_chunks(n: int, seed: int, sentences: list[str]) -> list[str]:
    """``n`` chunk texts, each a run of random real sentences."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(sentences, k=SENTENCES_PER_CHUNK)) for _ in range(n)]

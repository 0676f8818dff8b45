from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from indexes import ChunkerParams
from ingest.chunking import chunk_document, context_prefix
from ingest.documents import Block, Document
from tests.fakes import FakeEmbedder

COUNT = FakeEmbedder().count_tokens


def _doc(*paragraphs: str, headings: tuple[str, ...] = ("Intro",)) -> Document:
    blocks, offset = [], 0
    for text in paragraphs:
        blocks.append(Block(text, offset, offset + len(text), headings))
        offset += len(text) + 2
    return Document("Notes", blocks)


def _sentences(n: int, words: int = 9) -> str:
    return " ".join(f"Sentence {i} " + "word " * (words - 3) + "end." for i in range(n))


def test_every_chunk_fits_the_budget_including_its_prefix() -> None:
    params = ChunkerParams(chunk_tokens=60, overlap_tokens=10)
    pieces = chunk_document(_doc(_sentences(40)), params, COUNT)
    assert len(pieces) > 5
    for piece in pieces:
        assert COUNT([piece.embed_text])[0] <= 60 + 1  # +1: the newline joining the prefix
        assert piece.embed_text.startswith("Notes > Intro\n")


def test_neighbouring_chunks_overlap_by_whole_sentences() -> None:
    params = ChunkerParams(chunk_tokens=60, overlap_tokens=12)
    first, second = chunk_document(_doc(_sentences(12)), params, COUNT)[:2]
    last_sentence = re.findall(r"Sentence \d+ [^.]*\.", first.text)[-1]
    assert second.text.startswith(last_sentence)
    assert second.text != first.text


def test_no_overlap_when_disabled() -> None:
    params = ChunkerParams(chunk_tokens=60, overlap_tokens=0)
    pieces = chunk_document(_doc(_sentences(12)), params, COUNT)
    joined = " ".join(p.text for p in pieces)
    assert joined.count("Sentence 5 ") == 1


def test_sections_never_share_a_chunk() -> None:
    doc = Document(
        "Notes",
        [
            Block("Adam keeps two moments.", 0, 23, ("Adam",)),
            Block("SGD has one.", 25, 37, ("SGD",)),
        ],
    )
    pieces = chunk_document(doc, ChunkerParams(chunk_tokens=200, overlap_tokens=0), COUNT)
    assert [(p.heading_path, p.text) for p in pieces] == [
        (("Adam",), "Adam keeps two moments."),
        (("SGD",), "SGD has one."),
    ]


def _cut(*paragraphs: str, tokens: int) -> list[str]:
    params = ChunkerParams(chunk_tokens=tokens, overlap_tokens=0)
    return [p.text for p in chunk_document(_doc(*paragraphs), params, COUNT)]


@pytest.mark.parametrize(
    "lead_in",
    [
        "The parameter update is",
        "It applies weight decay directly to the weights:",
    ],
)
def test_a_chunk_does_not_end_on_what_introduces_the_next_block(lead_in: str) -> None:
    """ "The parameter update is" ended a chunk whose next one held the formula."""
    formula = "$theta_t = theta_{t-1} - eta m_t / (sqrt{v_t} + epsilon)$"
    pieces = _cut(_sentences(3), lead_in, formula, tokens=40)
    assert not any(p.endswith(lead_in) for p in pieces)
    assert any(p.startswith(f"{lead_in}\n\n{formula}") for p in pieces)


def test_a_run_in_label_opens_the_chunk_of_its_paragraph() -> None:
    label = "Epsilon. It prevents division by zero when the second moment is tiny."
    pieces = _cut(_sentences(3), label, tokens=40)
    assert pieces[-1] == label
    assert not any(p.endswith("Epsilon.") for p in pieces)


def test_a_chunk_opening_on_it_keeps_the_sentence_that_says_what_it_is() -> None:
    """ "It computes the Adam update …" opened a chunk without "AdamW decouples the two."
    before it, and the model read its "It" as Adam."""
    named = "AdamW by Loshchilov and Hutter decouples the two."
    claim = "It computes the update from the gradient alone and applies decay to the weights."
    pieces = _cut(" ".join([_sentences(3), named, claim]), tokens=50)
    holding = [p for p in pieces if claim in p]
    assert holding and all(f"{named} {claim}" in p for p in holding)


def test_a_chunk_opening_on_a_new_subject_repeats_nothing() -> None:
    pieces = _cut(_sentences(12), tokens=45)
    assert sum(p.count("Sentence 5 ") for p in pieces) == 1


def test_an_overlong_sentence_is_cut_at_words() -> None:
    long_sentence = "token " * 500 + "stop."
    params = ChunkerParams(chunk_tokens=64, overlap_tokens=8)
    pieces = chunk_document(_doc(long_sentence), params, COUNT)
    assert len(pieces) >= 8
    assert all(p.n_tokens <= 64 for p in pieces)


def test_abbreviations_do_not_end_sentences() -> None:
    first = "Optimizers, e.g. Adam and RMSProp, adapt the step size of every single weight."
    second = "The next sentence talks about something else entirely today."
    params = ChunkerParams(chunk_tokens=24, overlap_tokens=0)
    pieces = chunk_document(_doc(f"{first} {second}"), params, COUNT)
    assert [p.text for p in pieces] == [first, second]


def test_spans_cover_the_blocks_they_come_from() -> None:
    doc = _doc("First block.", "Second block.")
    (piece,) = chunk_document(doc, ChunkerParams(chunk_tokens=200, overlap_tokens=0), COUNT)
    assert (piece.start, piece.end) == (0, doc.blocks[1].end)
    assert piece.text == "First block.\n\nSecond block."


def test_prefix_does_not_repeat_the_title() -> None:
    assert context_prefix("Adam", ("Adam", "Bias correction")) == "Adam > Bias correction"


def test_real_tokenizer_budget_on_book_markdown(real_embedder, shared_dir: Path) -> None:
    """No chunk of the D2L chapters exceeds all-MiniLM-L6-v2's 256 word pieces."""
    from ingest.loaders import load

    params = ChunkerParams(chunk_tokens=254, overlap_tokens=32)
    folder = shared_dir / "corpus" / "course" / "d2l" / "attention-mechanisms-and-transformers"
    for path in sorted(folder.glob("*.md"))[:4]:
        doc = load(path, path.read_bytes())
        pieces = chunk_document(doc, params, real_embedder.count_tokens)
        counted = real_embedder.count_tokens([p.embed_text for p in pieces])
        assert max(counted) <= real_embedder.max_tokens, path.name
        assert not any("%%tab" in p.text or ":label:" in p.text for p in pieces)


class MeasuringCounter:
    """The fake counter, noting the most texts and characters it is given at once: what
    the tokenizer's memory grows with."""

    def __init__(self) -> None:
        self.most_texts = 0
        self.most_chars = 0

    def __call__(self, texts: Sequence[str]) -> list[int]:
        self.most_texts = max(self.most_texts, len(texts))
        self.most_chars = max(self.most_chars, sum(map(len, texts)))
        return COUNT(texts)


@pytest.mark.parametrize(
    "text",
    [
        " ".join(f"word{i % 50}" for i in range(400_000)),  # 2.7 MB, no sentence end
        " ".join(f"Word {i % 50}." for i in range(300_000)),  # 300,000 short sentences
    ],
    ids=["one-line", "many-sentences"],
)
def test_a_huge_paragraph_is_measured_a_bounded_batch_at_a_time(text: str) -> None:
    """A 20 MB one-line file was tokenised whole, then word by word all at once (4 GB)."""
    counter = MeasuringCounter()
    params = ChunkerParams(chunk_tokens=120, overlap_tokens=16)
    pieces = chunk_document(_doc(text), params, counter)
    assert counter.most_texts <= 512 and counter.most_chars <= 100_000
    assert all(COUNT([p.embed_text])[0] <= 121 for p in pieces)
    assert text.startswith(pieces[0].text) and text.endswith(pieces[-1].text)

"""Step 3, compose: the best *answer unit* of the passages, quoted and cited.

A unit is a run of one to a few consecutive sentences of one paragraph: a
definition with the sentence that explains it, a section's key lines, a formula
(a display-math paragraph belongs to the paragraph it completes) with its
explanation.  A unit never starts on a sentence that leans on the one before it
("This is catastrophic forgetting.") nor ends before one that goes on in lower
case, and where its paragraph goes on it holds at least a short paragraph's worth
("The chain rule handles compositions." alone answers nothing; its formula follows).
Each sentence is scored against the question (dense cosine, with inline formulas
left out of what is embedded unless the question asks for a formula, plus a share of
shared content words); a window scores its best sentence plus what its other
sentences add above a floor, so a unit grows only by sentences that say something
about the question.  The best few windows are then embedded whole and chosen by that,
their length, their words and a share of the window's own score (a unit whose whole
reads less like the question than one of its sentences still answers it).  A passage
whose heading matches the question ("Why divide by sqrt(d_k)?" for "why is attention
scaled by sqrt d_k") adds to all of its units, and more to the unit that opens a section
whose heading names what the question asks (notes introduce it there: "After training, the
update can be folded into the base weights" under "Merging Adapters").  With style
``short`` the unit is one sentence.

A comparison ("lora vs qlora", "difference between a bi encoder and a cross
encoder") is answered from both sides in ``explain``: a unit with a sentence that
names both compares them and stands alone; else each side gets the best unit whose
first sentence names it, so that the learner does not read one side only. A worked
example names both sides with numbers ("a chunk ranked 1st by BM25 and 3rd by dense
retrieval scores …"): it neither compares them nor describes one.

Sentences out of place for the question (``service.answering.injection``: speaking to the
assistant, a link or a request for credentials the question did not ask for, another
language) are never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from indexes import Embedder, Hit
from ingest.sentences import split_sentences
from service.answering.injection import out_of_place
from service.schemas import AnswerStyle
from service.text import (
    WORD,
    content_words,
    continues,
    leans_back,
    overlap,
    phrase_overlap,
    stem_words,
)


@dataclass(frozen=True, slots=True)
class UnitWeights:
    """How units are scored; chosen on the learner dev set (BENCHMARKS.md)."""

    lexical: float = 0.2  # weight of shared content words beside cosine
    heading: float = 0.2  # weight of the passage heading's cosine to the question
    extra: float = 0.6  # weight of what each further sentence adds
    floor: float = 0.35  # a further sentence adds only above this score
    max_sentences: int = 6  # a unit has at most this many sentences, list items or formulas
    max_chars: int = 550  # ... and at most this many characters, unless it is one sentence
    min_chars: int = 120  # ... and at least this many, where its paragraph goes on (explain)
    phrase: float = 0.2  # weight of the question's two-word phrases found in the unit
    length: float = 0.4  # a fuller unit explains more: weight of its length (to max_chars)
    rerank: int = 8  # windows embedded whole for the final choice
    window: float = 0.25  # weight of the window's own score in the final choice
    further: float = 1.0  # a further unit beneath a generated answer scores at least this
    # The unit that opens a section whose heading and question name each other (the share
    # of each's words the other holds, multiplied) adds this times that.
    opening: float = 0.6
    formula: float = 0.2  # a unit that holds a formula, where the question asks for one
    amount: float = 0.1  # a unit that gives a number of what a "how many" question names
    definition: float = 0.1  # a unit whose subject is what a "what is" question asks about


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_INLINE_ITEM = re.compile(r"(?<=[.!?:;$])[ \t]+(?=[-*+] \S)")
_DISPLAY_MATH = re.compile(r"^\s*(\$\$.*\$\$|\$[^$]+\$|\\\[.*\\\])\s*$", re.DOTALL)
# "This note covers queries, keys, and values, ..." describes the notes, answers nothing.
_ABOUT_THE_TEXT = re.compile(r"\bthis (?:note|chapter|section|lecture|page)\b", re.IGNORECASE)
_MIN_WORDS = 3
_MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True, slots=True)
class Unit:
    sentences: tuple[str, ...]
    passage: int  # 1-based, as cited
    score: float

    @property
    def text(self) -> str:
        """The sentences as written: list items and formulas keep their own lines."""
        text = ""
        for piece in (s.strip() for s in self.sentences):
            own_line = _LIST_ITEM.match(piece) or _DISPLAY_MATH.match(piece)
            text += ("\n" if own_line else " ") + piece if text else piece
        return text


def _elements(block: str) -> list[str]:
    """A block's pieces: each list item whole, a formula whole, else sentences."""
    if _DISPLAY_MATH.match(block):
        return [block.strip()]
    # Chunking may have joined a list's lines: "...information: - Forget gate: ..."
    block = _INLINE_ITEM.sub("\n", block)
    pieces: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if _LIST_ITEM.match(line):
            pieces.append(line.strip())
        else:
            pieces += [s for s in split_sentences(line) if s.strip()]
    return pieces


def _announces(piece: str) -> bool:
    """Ends by announcing what follows ("..., then", "Examples for a 7B model:")."""
    return not piece.rstrip().endswith((".", "?", "!", ")", "$"))


def _unfinished(paragraph: list[str]) -> bool:
    return _announces(paragraph[-1])


def paragraphs(passage: str) -> list[list[str]]:
    """The passage's paragraphs as lists of sentences, list items and formulas; a formula,
    whatever a paragraph announces with a colon, a block that goes on in lower case
    ("with k = 60 as the usual constant.") and a list after a formula (what T < 1 and
    T > 1 do to the softmax with temperature) join the paragraph before them."""
    found: list[list[str]] = []
    for block in re.split(r"\n\s*\n", passage):
        if not block.strip():
            continue
        pieces = _elements(block)
        explains = bool(found and _LIST_ITEM.match(block) and _DISPLAY_MATH.match(found[-1][-1]))
        if found and (
            _DISPLAY_MATH.match(block) or continues(block) or _unfinished(found[-1]) or explains
        ):
            found[-1].extend(pieces)
        else:
            found.append(pieces)
    return [p for p in found if p]


_INLINE_MATH = re.compile(r"\$[^$\n]+\$")
# "rrf formula", "how do i calculate kv cache size": the formulas are what is asked for.
_ASKS_FOR_MATH = re.compile(
    r"\b(?:formulas?|equations?|calculat\w*|comput\w*|deriv\w*)\b", re.IGNORECASE
)
# "how big should my chunks be", "how many tokens does bert mask", "what size is …".
_ASKS_FOR_AMOUNT = re.compile(
    r"\bhow\s+(?:big|many|much|large|long|small|fast|wide|deep|often)\b|\bwhat\s+size\b",
    re.IGNORECASE,
)
# "What is top-p sampling?", "whats a residual connection", "what does mrr mean".
_ASKS_WHAT = re.compile(
    r"^\s*(?:what(?:'?s|\s+is|\s+are)|whats|define|what\s+does)\s+(?:an?\s+|the\s+)?"
    r"(?P<term>[^?]+?)(?:\s+(?:mean|stand\s+for|do))?\s*\??\s*$",
    re.IGNORECASE,
)
# Where the term ends and its context begins: "rope in llama", "mrr mean for retrieval".
_CONTEXT = re.compile(r"\s+(?:mean|means|stand|stands|in|for|with|when|used)\b.*", re.IGNORECASE)
_TERM_WORDS = 4  # "top-p sampling", "the kv cache": what a "what is" question defines
_SUBJECT_WORDS = 6  # a unit's first words, where its subject stands
_ARTICLES = frozenset({"a", "an", "the"})
_ASIDE = re.compile(r"\s*\([^()]*\)")  # "(nucleus)", "(Holtzman et al., 2019)"
# The words that ask for an amount, and how far a number may stand from what it counts:
# "200 to 500 tokens per chunk".
_AMOUNT_WORDS = frozenset("big many much large long small fast wide deep often size".split())  # noqa: SIM905
_NEAR = 4


def defined(question: str) -> str | None:
    """What a "what is" question asks to have defined ("top-p sampling"), or None."""
    found = _ASKS_WHAT.match(question)
    term = _CONTEXT.split(found["term"])[0] if found else ""
    return term if term and len(term.split()) <= _TERM_WORDS else None


def _defines(text: str, term: str) -> bool:
    """Whether ``text`` opens on ``term`` as its subject: "Top-p (nucleus) sampling …
    keeps …", "GGUF (…) is a single-file binary format" for "gguf file"; not "The usual
    order is: penalties, temperature, top-k, top-p" nor "So one .gguf file is …"."""
    wanted = [w.removesuffix("s") for w in _ALNUM.findall(term.lower())]
    words = [w.removesuffix("s") for w in _ALNUM.findall(_ASIDE.sub("", text).lower())]
    words = words[1:] if words and words[0] in _ARTICLES else words
    opening = words[:_SUBJECT_WORDS]
    return bool(wanted) and opening[:1] == wanted[:1] and all(w in opening for w in wanted)


def _amounts_of(question: str) -> set[str]:
    """The stemmed words whose amount ``question`` asks for ("how big should my chunks
    be" → chunk), or none when it asks for no amount."""
    if not _ASKS_FOR_AMOUNT.search(question):
        return set()
    return content_words(question) - set(stem_words(sorted(_AMOUNT_WORDS)))


def _gives_amount(text: str, of: set[str]) -> bool:
    """Whether ``text`` states a number within a few words of one of ``of``: "200 to
    500 tokens per chunk" for chunks, not "50 to 200 realistic questions"."""
    words = [w.lower() for w in WORD.findall(text)]
    stems = stem_words(words)
    return any(
        any(ch.isdigit() for ch in word)
        and of.intersection(stems[max(0, i - _NEAR) : i + _NEAR + 1])
        for i, word in enumerate(words)
    )


def _readable(text: str, keep_math: bool) -> str:
    """The text as the embedder reads it best: without its inline formulas ("Forget gate:
    $f_t = \\sigma(W_f [h_{t-1}, x_t] + b_f)$. Decides how much ..." reads as LaTeX noise
    to it), unless the question asks for a formula (``keep_math``); a formula alone stays."""
    words = text if keep_math else _INLINE_MATH.sub(" ", text)
    return words if len(words.split()) >= _MIN_WORDS else text


def _quotable(sentence: str) -> bool:
    return (
        (len(sentence.split()) >= _MIN_WORDS or bool(_DISPLAY_MATH.match(sentence)))
        and len(sentence) <= _MAX_SENTENCE_CHARS
        and not _ABOUT_THE_TEXT.search(sentence)
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage: int
    paragraph: int
    sentences: list[str]


def _candidates(
    passages: Sequence[str], question: str, skip: Callable[[str], bool] | None = None
) -> list[_Candidate]:
    """Paragraphs of quotable sentences (but those out of place for ``question`` and those
    ``skip`` rejects); a sentence that overlapping chunks share is kept once, with the
    best-ranked passage that holds it."""
    seen: set[str] = set()
    found = []
    for n, passage in enumerate(passages, start=1):
        for i, paragraph in enumerate(paragraphs(passage)):
            kept = []
            for sentence in paragraph:
                key = " ".join(sentence.split()).lower()
                if (
                    _quotable(sentence)
                    and key not in seen
                    and out_of_place(sentence, question) is None
                    and not (skip and skip(sentence))
                ):
                    seen.add(key)
                    kept.append(sentence)
            if kept:
                found.append(_Candidate(n, i, kept))
    return found


def _heading_text(hit: Hit) -> str:
    return " > ".join(hit.chunk.heading_path) or hit.chunk.title


def _lexical(question: str, text: str, heading: str, weights: UnitWeights) -> float:
    """Shared content words (the heading counts: it says what the text is about) and
    shared two-word phrases ("forget gate")."""
    return weights.lexical * overlap(question, f"{heading}\n{text}") + weights.phrase * (
        phrase_overlap(question, text)
    )


def best_unit(
    embedder: Embedder,
    question: str,
    hits: Sequence[Hit],
    *,
    style: AnswerStyle = "explain",
    weights: UnitWeights | None = None,
    skip: Callable[[str], bool] | None = None,
    mentioning: str | None = None,
    alone: str | None = None,
) -> Unit | None:
    """The unit of the passages of ``hits`` that best answers ``question`` (of those
    that name ``mentioning``, when given; of those, the ones that do not also name
    ``alone`` where there are any: a side of a comparison is described where it is named
    on its own, not in a worked example of both).

    Windows of sentences are first scored from their sentences' scores; the
    best few are then embedded whole and scored again, since a unit says more
    than each of its sentences alone ("Decides how much of the old cell state
    to keep." names no gate; its list item does). Sentences ``skip`` rejects are
    never part of a unit.
    """
    weights = weights or UnitWeights()
    candidates = _candidates([h.chunk.text for h in hits], question, skip)
    if not candidates:
        return None
    flat = [s for c in candidates for s in c.sentences]
    headings = [_heading_text(h) for h in hits]
    keep_math = bool(_ASKS_FOR_MATH.search(question))
    amounts = _amounts_of(question)
    term = defined(question)
    vectors = embedder.embed([question, *headings, *(_readable(s, keep_math) for s in flat)])
    q = vectors[0]
    heading_bonus = weights.heading * (vectors[1 : 1 + len(hits)] @ q)
    owners = [c.passage - 1 for c in candidates for _ in c.sentences]
    scores = vectors[1 + len(hits) :] @ q + np.array(
        [_lexical(question, s, headings[i], weights) for s, i in zip(flat, owners, strict=True)]
    )
    longest = 1 if style == "short" else weights.max_sentences
    opening = _opening_bonus(question, hits, candidates, weights.opening)
    windows: list[Unit] = []
    start = 0
    for candidate in candidates:
        own = scores[start : start + len(candidate.sentences)]
        start += len(candidate.sentences)
        bonus = float(heading_bonus[candidate.passage - 1])
        windows += [
            replace(u, score=u.score + opening.get((u.passage, u.sentences[0]), 0.0))
            for u in _windows(candidate, own, longest, weights, bonus)
        ]
    if mentioning is not None:
        windows = [u for u in windows if mentions(u.sentences[0], mentioning)]
        if alone is not None:
            windows = [u for u in windows if not mentions(u.sentences[0], alone)] or windows
        if not windows:
            return None
    shortlist = sorted(windows, key=lambda u: -u.score)[: weights.rerank]
    whole = embedder.embed([_readable(u.text, keep_math) for u in shortlist]) @ q
    rescored = [
        Unit(
            u.sentences,
            u.passage,
            float(cos)
            + weights.length * min(len(u.text), weights.max_chars) / weights.max_chars
            + _lexical(question, u.text, headings[u.passage - 1], weights)
            + float(heading_bonus[u.passage - 1])
            + opening.get((u.passage, u.sentences[0]), 0.0)
            + (weights.formula if keep_math and _holds_formula(u) else 0.0)
            + (weights.amount if amounts and _gives_amount(u.text, amounts) else 0.0)
            + (weights.definition if term and _defines(u.text, term) else 0.0)
            + weights.window * u.score,
        )
        for u, cos in zip(shortlist, whole, strict=True)
    ]
    return max(rescored, key=lambda u: u.score)


def _holds_formula(unit: Unit) -> bool:
    """A formula on its own line is among the unit's pieces ("whats the formula for scaled
    dot product attention" is answered by the line that states it, not by prose on it)."""
    return any(_DISPLAY_MATH.match(piece) for piece in unit.sentences)


def _opening_bonus(
    question: str, hits: Sequence[Hit], candidates: Sequence[_Candidate], weight: float
) -> dict[tuple[int, str], float]:
    """The bonus of the units that open a section, by passage and first sentence: notes
    introduce what a heading names in its first lines ("After training, the update can be
    folded into the base weights" under "Merging Adapters"), which may read little like
    the question ("how do i merge my lora adapter") for want of the heading's words."""
    found = {}
    for candidate in candidates:
        hit = hits[candidate.passage - 1]
        if candidate.paragraph == 0 and hit.opens_section and hit.chunk.heading_path:
            heading = hit.chunk.heading_path[-1]
            named = overlap(heading, question) * overlap(question, heading)
            if named:
                found[(candidate.passage, candidate.sentences[0])] = weight * named
    return found


def _windows(
    candidate: _Candidate, scores: np.ndarray, longest: int, weights: UnitWeights, bonus: float
) -> list[Unit]:
    """Runs of consecutive sentences of one paragraph, within the length budget, each
    scored by its best sentence plus what the others add above the floor."""
    units = []
    n = len(candidate.sentences)
    sentences = candidate.sentences
    whole = longest > 1  # a one-sentence unit (style short) cannot take its context along
    for i in range(n):
        if whole and i > 0 and leans_back(sentences[i]):
            continue  # "This is catastrophic forgetting." starts no unit: the sentence before does
        chars = 0
        for j in range(i, min(n, i + longest)):
            chars += len(sentences[j])
            if j > i and chars > weights.max_chars:
                break
            if j + 1 < n and whole and (_announces(sentences[j]) or continues(sentences[j + 1])):
                continue  # "Adam applies bias correction:" ends no unit: what it announces does
            if j + 1 < n and whole and chars < weights.min_chars:
                continue  # "The chain rule handles compositions." alone says too little
            window = scores[i : j + 1]
            top = float(window.max())
            rest = window.sum() - top - weights.floor * (len(window) - 1)
            score = top + weights.extra * float(rest) + bonus
            units.append(Unit(tuple(sentences[i : j + 1]), candidate.passage, score))
    return units


# "whats the difference between lora and qlora", "bm25 or dense retrieval for rag?",
# "lstm vs gru which is better": the two things compared.
_FRAMING = r"(?:what(?:'?s| is| are)?|whats|explain|tell me|so|and|the|main|key|real)\s+"
_BETWEEN = re.compile(
    r"\b(?:difference|differences|distinction)\s+between\s+(?P<a>.+?)\s+and\s+(?P<b>.+)",
    re.IGNORECASE,
)
_COMPARE = re.compile(r"\bcompar\w*\s+(?P<a>.+?)\s+(?:and|with|to)\s+(?P<b>.+)", re.IGNORECASE)
_COMPARED_TO = re.compile(
    r"^(?:how\s+(?:does|do|is|are)\s+)?(?P<a>.+?)\s+compare[sd]?\s+(?:to|with)\s+(?P<b>.+)",
    re.IGNORECASE,
)
_VERSUS = re.compile(r"(?P<a>.+?)\s+(?:vs\.?|versus|or)\s+(?P<b>.+)", re.IGNORECASE)
# What is said around the second thing: "which is better", "for rag?", ", whats the difference".
_AFTER = re.compile(
    r"\s*(?:[,;?!]|\b(?:which|what|whats|for|in|when|pretraining|training)\b).*$",
    re.IGNORECASE,
)
_BEFORE = re.compile(
    r"^.*\b(?:use|choose|pick|prefer|between|is|are|should i|do i)\s+", re.IGNORECASE
)
_SIDE_WORDS = 4  # a side is a name: at most this many words
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)


def compared(question: str) -> tuple[str, str] | None:
    """The two things a comparison question sets side by side, or None."""
    text = " ".join(question.split()).rstrip("?. ")
    for pattern in (_BETWEEN, _COMPARED_TO, _COMPARE, _VERSUS):
        found = pattern.search(text)
        if found:
            a = _ARTICLE.sub("", _BEFORE.sub("", found["a"]).strip(" ,"))
            b = _ARTICLE.sub("", _AFTER.sub("", found["b"]).strip(" ,"))
            if all(content_words(side) and len(side.split()) <= _SIDE_WORDS for side in (a, b)):
                return a, b
    return None


_ALNUM = re.compile(r"[a-z0-9]+")
_PREFIX = 6  # "layernorm" names "layer normalisation"


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` names ``name``, as one to three of its words run together
    ("Pre-LN" and "pre ln", "batch norm" and "BatchNorm", "LSTMs" and "lstm",
    "layer normalisation" and "layernorm"; "QLoRA" does not name "lora")."""
    wanted = "".join(_ALNUM.findall(name.lower()))
    words = _ALNUM.findall(text.lower())
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            run = "".join(words[i : i + size])
            if run in (wanted, f"{wanted}s", f"{wanted}es") or (
                size > 1 and len(wanted) >= _PREFIX and run.startswith(wanted)
            ):
                return True
    return False


def answer_units(
    embedder: Embedder,
    question: str,
    hits: Sequence[Hit],
    *,
    style: AnswerStyle = "explain",
    skip: Callable[[str], bool] | None = None,
    topic: str | None = None,
) -> list[Unit]:
    """The best unit for ``topic`` (a follow-up with the turn before it; else the
    question); for a comparison in ``explain``, with the best unit on each side it does
    not name, so that the learner reads both sides."""
    unit = best_unit(embedder, topic or question, hits, style=style, skip=skip)
    sides = compared(question) if style == "explain" else None
    if unit is None or sides is None:
        return [unit] if unit else []
    # A unit with a sentence that names both sides compares them: it stands alone. Else a
    # unit is on a side when its first sentence names it; the best unit stays when it is
    # on one, and each side no unit is on gets its own. A worked example does neither.
    if any(
        not _EXAMPLE.match(s) and all(mentions(s, side) for side in sides) for s in unit.sentences
    ):
        return [unit]
    units = [unit] if any(_describes(unit, side) for side in sides) else []
    for side in sides:
        if any(_describes(u, side) for u in units):
            continue
        other = best_unit(
            embedder,
            side,  # the side's own name reads best for the unit that describes it
            hits,
            style=style,
            skip=_skipping({s for u in units for s in u.sentences}, skip),
            mentioning=side,
            alone=sides[1] if side == sides[0] else sides[0],
        )
        if other is not None:
            units.append(other)
    if not units:
        return [unit]
    return sorted(units, key=lambda u: _first_named(u, sides))


def further_unit(
    embedder: Embedder,
    question: str,
    hits: Sequence[Hit],
    units: Sequence[Unit],
    shown: str,
    *,
    skip: Callable[[str], bool] | None = None,
    weights: UnitWeights | None = None,
) -> Unit | None:
    """The best unit of the sentences ``units`` do not hold, when it reads close to the
    question (a score of ``weights.further``), holds a short paragraph's worth (not "-
    Early stopping. - A smaller model.") and says more than ``shown``: beneath a
    generated answer, what the draft left out (the other side of "greedy decoding vs beam
    search", the bias correction after Adam's moment estimates)."""
    weights = weights or UnitWeights()
    taken = {s for u in units for s in u.sentences}
    unit = best_unit(embedder, question, hits, weights=weights, skip=_skipping(taken, skip))
    if unit is None or unit.score < weights.further or len(unit.text) < weights.min_chars:
        return None
    return unit if adds_to(unit, shown) else None


def in_reading_order(units: Sequence[Unit], hits: Sequence[Hit]) -> list[Unit]:
    """``units`` with those of one passage in the order the passage has them (beam
    search's definition before its pitfalls), passages in the order they first come."""
    passages = list(dict.fromkeys(u.passage for u in units))

    def place(unit: Unit) -> tuple[int, int]:
        text = hits[unit.passage - 1].chunk.text
        return passages.index(unit.passage), text.find(unit.sentences[0])

    return sorted(units, key=place)


def _skipping(taken: set[str], skip: Callable[[str], bool] | None) -> Callable[[str], bool]:
    """A ``skip`` that also rejects the sentences already quoted."""
    return lambda sentence: sentence in taken or bool(skip and skip(sentence))


_EXAMPLE = re.compile(r"\s*(?:worked\s+)?examples?\b|\s*for\s+(?:example|instance)\b", re.I)


def _describes(unit: Unit, side: str) -> bool:
    """The unit opens on ``side``, not with an example that names it."""
    return mentions(unit.sentences[0], side) and not _EXAMPLE.match(unit.sentences[0])


def _first_named(unit: Unit, sides: tuple[str, str]) -> int:
    return next(
        (i for i, side in enumerate(sides) if mentions(unit.sentences[0], side)), len(sides)
    )


def compose(units: Unit | Sequence[Unit]) -> str:
    """The units as an answer, each cited once at its end."""
    units = [units] if isinstance(units, Unit) else units
    return "\n\n".join(f"{u.text.rstrip()} [{u.passage}]" for u in units)


# A generated answer that holds this share of the unit's content words has said it all.
_RESTATED = 0.7


def adds_to(unit: Unit, answer: str) -> bool:
    """Whether the unit says more than ``answer`` does: then it is shown beneath it."""
    return overlap(unit.text, answer) < _RESTATED

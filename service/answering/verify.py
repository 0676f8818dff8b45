"""Step 5, verify: check an answer against its passages, sentence by sentence.

A sentence's support is the better of two views of the passages it cites
(or of all passages, when it cites none): the highest cosine similarity
between the sentence and any passage sentence, and the share of its
content words the passage contains.  The model is tiny; this check, not
the model, is what makes an answer grounded.  Similarity is not enough: a
sentence that names something, or states a number, that its passages do not
contain is not supported however close it reads ("The Lion optimiser keeps an
exponential moving average of the gradient [1]" over a passage about Adam).
Passage sentences that address the model (``service.answering.injection``) are
no evidence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

import numpy as np

from indexes import Embedder
from ingest.sentences import split_sentences
from service.answering.formulas import regrouped
from service.answering.injection import as_evidence
from service.answering.negation import flipped_comparison, flipped_negation, negated_verb
from service.text import (
    CITATION,
    STOPWORDS,
    content_words,
    leans_back,
    overlap,
    phrase_overlap,
    stem,
    strip_citations,
)


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    text: str
    citations: list[int]
    support: float
    supported: bool
    unsupported_terms: tuple[str, ...] = ()
    model_citations: list[int] = field(default_factory=list)  # when verification moved them
    evidence: str | None = None  # the sentence of its (first) cited passage closest to it


@dataclass(frozen=True, slots=True)
class Verdict:
    text: str
    sentences: list[CheckedSentence]

    @property
    def supported_ratio(self) -> float:
        if not self.sentences:
            return 0.0
        return sum(s.supported for s in self.sentences) / len(self.sentences)


def _keep_valid_citations(sentence: str, n_passages: int) -> tuple[str, list[int]]:
    """Citations to passages that do not exist are removed from the text."""
    valid: list[int] = []

    def rewrite(match: object) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]  # type: ignore[attr-defined]
        kept = [n for n in numbers if 1 <= n <= n_passages]
        valid.extend(n for n in kept if n not in valid)
        return f" [{', '.join(map(str, kept))}]" if kept else ""

    return CITATION.sub(rewrite, sentence).strip(), valid


_LEADING_CITATIONS = re.compile(rf"^(?:{CITATION.pattern})+")


def answer_sentences(answer: str) -> list[str]:
    """The sentences of an answer, each with its citations: the model writes them after
    the full stop ("... to keep. [1] The input gate ..."), where a sentence boundary
    falls before them, so marks that open a piece close the sentence before it."""
    sentences: list[str] = []
    for piece in split_sentences(answer.strip()):
        marks = _LEADING_CITATIONS.match(piece)
        if marks and sentences:
            sentences[-1] = f"{sentences[-1]} {marks.group(0).strip()}"
            piece = piece[marks.end() :].strip()
        if strip_citations(piece):
            sentences.append(piece)
    return sentences


def _words(text: str) -> str:
    return " ".join(text.split())


# A quote ends where a sentence, a formula or a bracket does; "beta2 = 0.99" cut from
# "beta2 = 0.999" does not.
_QUOTE_ENDS = (".", "!", "?", ":", ";", "$", ")")


def _quoted_in(sentence: str, cites: list[int], passages: Sequence[str]) -> int | None:
    """The passage (1-based) that holds the whole ``sentence`` word for word: a cited one,
    or any when it cites none."""
    words = _words(sentence)
    if not words.endswith(_QUOTE_ENDS):
        return None
    scope = cites or range(1, len(passages) + 1)
    return next((n for n in scope if f" {words} " in f" {_words(passages[n - 1])} "), None)


def _verbatim(cleaned: list[tuple[str, list[int]]], holders: list[int]) -> Verdict:
    """The verdict on sentences that all stand word for word in a passage they cite
    (``holders``): each is supported by it, and every name and number it has is there."""
    checked = []
    for (text, cites), n in zip(cleaned, holders, strict=True):
        quoted = strip_citations(text)
        if not cites:
            text, cites = _recited(text, n), [n]
        checked.append(CheckedSentence(text, cites, 1.0, True, evidence=quoted))
    return Verdict(" ".join(c.text for c in checked), checked)


def _misnamed(sentence: CheckedSentence) -> bool:
    """Not supported, with a name or term its passages lack (its subject is wrong) or
    with the passage's claim reversed."""
    return not sentence.supported and bool(sentence.unsupported_terms)


def _recited(sentence: str, n: int) -> str:
    """``sentence`` citing ``[n]``: its marks replaced where the first one stood, or the
    mark added at its end."""
    first = CITATION.search(sentence)
    if first is None:
        return f"{sentence} [{n}]"
    rest = CITATION.sub("", sentence[first.end() :])
    return f"{sentence[: first.start()]} [{n}]{rest}"


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*[A-Za-z0-9]|[A-Za-z]")
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+")
_FIRST_WORD = re.compile(r"^\W*([A-Za-z][\w'-]*)")


def _number_set(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _looks_like_a_name(token: str, first: bool) -> bool:
    """Acronyms, CamelCase, words with digits, and capitalised words inside a sentence."""
    if any(c.isdigit() for c in token) or any(c.isupper() for c in token[1:]):
        return True
    return token[0].isupper() and not first


def unsupported_terms(sentence: str, evidence: str, vocabulary: Collection[str]) -> list[str]:
    """Numbers and names in ``sentence`` that ``evidence`` does not contain.

    A sentence's capitalised first word counts as a name when the collection's
    vocabulary (stemmed) does not know it: "Lion uses the sign of ..." names
    something, "Dividing by ..." does not.
    """
    text = _LIST_MARKER.sub("", strip_citations(sentence))  # "2. **BM25**" states no 2
    found = sorted(_number_set(text) - _number_set(evidence))
    found += _ranges_apart(text, evidence, found)
    found += _other_model_size(text, evidence)
    found += _misexpanded(text, evidence)
    found += regrouped(text, evidence)
    first = _FIRST_WORD.match(text)
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        at_start = first is not None and match.start() == first.start(1)
        if at_start and token[0].isupper() and not any(c.isupper() for c in token[1:]):
            stemmed = stem(token.lower())
            if token.lower() in _FUNCTION_WORDS or not vocabulary or stemmed in vocabulary:
                continue
        elif not _looks_like_a_name(token, at_start):
            continue
        if not _written_in(token, evidence) and token not in found:
            found.append(token)
    return found


def _written_in(name: str, evidence: str) -> bool:
    """Whether ``evidence`` writes ``name`` (any case) as a word or a part of a name of its
    own: "LLM" in "LLMs", "IVF" in "faiss.IndexIVFFlat", "B" in "7B"; not the start of a
    longer word ("efCo", beside notes that write "efConstruction", names nothing they do)."""
    for match in re.finditer(rf"(?i:{re.escape(name)})(?:e?s)?(?![a-z0-9])", evidence):
        start = match.start()
        if start == 0 or not evidence[start - 1].islower() or evidence[start].isupper():
            return True
    return False


_FIGURE = r"(\d+(?:[.,]\d+)*)"
# A range a sentence states: "from 60 to 100", "4 to 64" with a dash, "between 1.2 and 2.0".
_RANGE = re.compile(
    rf"\bbetween\s+{_FIGURE}\s*%?\s+and\s+{_FIGURE}|{_FIGURE}\s*%?\s*(?:to|\u2013|\u2014)\s*{_FIGURE}"
)


def _ranges_apart(text: str, evidence: str, absent: Sequence[str]) -> list[str]:
    """The ranges of ``text`` whose two ends ``evidence`` holds, but in no one sentence:
    "k is a constant that typically ranges from 60 to 100" from a passage that says "k =
    60" of the constant and "fetch 20 to 100 candidates" of reranking."""
    ranges = [m for m in _RANGE.finditer(text) if not set(_ends(m)) & set(absent)]
    if not ranges:
        return []
    held = [_number_set(line) for line in split_sentences(evidence)]
    return [m.group(0) for m in ranges if not any(_ends(m) <= h for h in held)]


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A model's size in parameters ("7B", "70B", "1.5B", "135M"), and a figure with its unit
# ("42 GB", "4-bit", "15%").
_MODEL_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)\s?([BM])\b")
_MEASURE = re.compile(r"\b(\d+(?:\.\d+)?)\s?-?\s?(%|[A-Za-z]{1,6})\b")


def _model_sizes(text: str) -> set[str]:
    return {m.group(0).replace(" ", "") for m in _MODEL_SIZE.finditer(text)}


def _measures(text: str) -> set[tuple[str, str]]:
    """(number, unit) of each figure of ``text`` but model sizes: ("42", "GB"), ("4", "bit")."""
    return {
        (number, unit)
        for number, unit in _MEASURE.findall(text)
        if unit not in ("B", "M") and unit.lower() not in STOPWORDS
    }


def _other_model_size(text: str, evidence: str) -> list[str]:
    """The model sizes of ``text`` said with a figure that ``evidence`` gives, in the
    sentence that gives it, for another size: "The 7B model in 4-bit requires about 42
    GB" beside "A 70B model at Q4_K_M needs about 42 GB". Each of the two numbers is in
    the passage; together they say what the notes say of another model."""
    sizes = _model_sizes(text)
    figures = _measures(text)
    if not sizes or not figures:
        return []
    found = []
    # Paragraph by paragraph: a list item without a full stop runs into the paragraph
    # after it ("… = about 3.9 GB" and "A 70B model … needs about 42 GB").
    lines = (line for block in _PARAGRAPH_BREAK.split(evidence) for line in split_sentences(block))
    for line in lines:
        theirs = _model_sizes(line)
        if not theirs - sizes or not figures & _measures(line):
            continue  # no other model's size, or none of the sentence's figures
        found += [size for size in sorted(sizes - theirs) if size not in found]
    return found


def _ends(match: re.Match[str]) -> set[str]:
    return {n.replace(",", "") for n in match.groups() if n}


# An acronym and what the sentence says it stands for: "RRF (reciprocal rank fusion)",
# "reciprocal rank fusion (RRF)".
_ACRONYM_FIRST = re.compile(r"\b([A-Z][A-Za-z]*[A-Z][a-z]?)\s*\(([A-Za-z][A-Za-z -]+)\)")
_ACRONYM_AFTER = re.compile(r"((?:[A-Za-z]+[ -]){1,6}[A-Za-z]+)\s*\(([A-Z][A-Za-z]*[A-Z][a-z]?)\)")


def _expansions(text: str) -> list[tuple[str, str]]:
    """(acronym, what ``text`` says it stands for): the words whose initials spell it,
    written beside it in brackets ("RRF (Ranked Reciprocal Frequency)")."""
    pairs = list(_ACRONYM_FIRST.findall(text))
    for words, acronym in _ACRONYM_AFTER.findall(text):
        pieces = re.split(r"[ -]+", words)
        letters = sum(c.isupper() for c in acronym)
        pairs.append((acronym, " ".join(pieces[-letters:])))
    found = []
    for acronym, expansion in pairs:
        initials = "".join(w[0] for w in re.split(r"[ -]+", expansion.strip()) if w)
        if initials.lower() == "".join(c for c in acronym if c.isupper()).lower():
            found.append((acronym, expansion.strip()))
    return found


def _misexpanded(text: str, evidence: str) -> list[str]:
    """The expansions ``text`` gives its acronyms with a word ``evidence`` does not use:
    "DPO (Discounted Policy Optimization)", "GGUF (Generalized Gated Unit Format)", "RRF
    (Ranked Reciprocal Frequency)" beside notes that say "rank" and "fusion". One whose
    words the passages use, if not in that order ("retrieval augmented generation (RAG)"
    beside "retrieval" and "generation … augmented"), is left to the other checks."""
    expansions = [e for _, e in _expansions(text)]
    if not expansions:
        return []
    used = set(_words_of(evidence))
    return [e for e in expansions if not set(_words_of(e)) <= used]


def states_figures(sentences: Sequence[CheckedSentence], passages: Sequence[str]) -> bool:
    """Whether one of ``sentences`` states figures of the notes: numbers of two digits or
    more, all of them held by one passage sentence, and no term the passages lack but
    what it says an acronym of theirs stands for (:func:`misexpands_only`). "The biggest
    number fp16 can store is 65504." reads far from the list item "fp16: 2 bytes. 5
    exponent bits, 10 mantissa bits, max value 65504" but says what it says."""
    held = [_number_set(line) for passage in passages for line in split_sentences(passage)]
    written = "\n".join(passages)
    for sentence in sentences:
        text = _LIST_MARKER.sub("", strip_citations(sentence.text))
        figures = {n for n in _number_set(text) if len(n.replace(".", "")) >= 2}
        if not figures or not any(figures <= h for h in held):
            continue
        if not sentence.unsupported_terms or _only_misexpanded(sentence, written):
            return True
    return False


def misexpands_only(
    sentences: Sequence[CheckedSentence], passages: Sequence[str], threshold: float
) -> bool:
    """Whether one of ``sentences`` reads as its passages do (support at ``threshold`` or
    more) and fails only on what it says an acronym of theirs stands for: such an answer
    is not shown, but it is no sign the notes are silent."""
    written = "\n".join(passages)
    return any(s.support >= threshold and _only_misexpanded(s, written) for s in sentences)


def _only_misexpanded(sentence: CheckedSentence, written: str) -> bool:
    """Whether every term that fails ``sentence`` belongs to what it says an acronym of
    ``written`` stands for: "For retrieval augmented generation (RAG), chunks of 200 to
    500 tokens work well" beside notes that write "RAG" and never "augmented" takes its
    words from the notes, wrong expansion and all."""
    if not sentence.unsupported_terms:
        return False
    expanded = _expansions(strip_citations(sentence.text))
    ours = [e for a, e in expanded if _written_in(a, written)]
    words = {w for e in ours for w in _words_of(e)}
    return all(t in ours or set(_words_of(t)) <= words for t in sentence.unsupported_terms)


_WORD_PIECE = re.compile(r"[a-z0-9]+")
# A sentence that holds this share of its best passage sentence's words copies it.
_COPIED = 0.6


def _pairs(text: str) -> set[tuple[str, str]]:
    return set(itertools.pairwise(_words_of(text)))


# American spellings read as British ones: "normalization" is "normalisation".
_AMERICAN = re.compile(r"(?<=[a-z]{2})iz(?=(?:e|es|ed|ing|ation|ations|er|ers)$)")


def _spelled(word: str) -> str:
    return _AMERICAN.sub("is", word)


_SIZE_WORD = re.compile(r"\d+[bmk]")
# A parenthetical aside: "(nucleus)", "(Holtzman et al., 2019)".
_ASIDE = re.compile(r"\s*\([^()]*\)")


def _term_word(word: str) -> bool:
    """A word that can be half of a two-word term: not a stop word, not a number ("-t 8
    --port 8080" holds no term "8 port" for "the default port" to swap), nor a model's
    size ("7b model" for "70b model" is a figure, which the figures checks read: "A 7B
    model at Q4_K_M needs about 4.2 GB" is the notes' list, not their 70B sentence)."""
    return word not in STOPWORDS and not word.isdigit() and not _SIZE_WORD.fullmatch(word)


def swapped_terms(sentence: str, source: str, known: set[tuple[str, str]]) -> list[str]:
    """Two-word terms of the passages (``known``: their word pairs) that ``sentence`` puts
    where the passage sentence it copies (``source``), aligned word by word, has another
    sharing a word: "Top-p sampling keeps only the k most probable tokens" copied from
    "Top-k sampling keeps …", "the forget gate controls …" from "Reset gate: controls …",
    "Top-p sampling is a newer alternative to min-p" from "Min-p sampling is a newer
    alternative". The words are the passage's, so the support check passes them; the
    subject is another the notes describe elsewhere. A term only the sentence has, beside
    the copied words rather than in place of one, is not a swap ("the quadratic term
    dominates the linear term" from "the quadratic term dominates"); nor is a spelling
    ("normalization" for "normalisation"), nor one term's word for two ("old cell state"
    for "previous state"). The source is read with its asides and without them: "Top-k
    sampling keeps …" against "Top-p (nucleus) sampling (Holtzman et al., 2019) keeps …"."""
    if overlap(sentence, source) < _COPIED:
        return []
    words = _words_of(sentence)
    readings = (_words_of(source), _words_of(_ASIDE.sub("", source)))
    names = _acronyms(sentence) | _acronyms(source)
    return sorted(set.union(*(_moved_terms(words, theirs, known, names) for theirs in readings)))


def dropped_head(sentence: str, source: str) -> str | None:
    """A compound of the passage sentence ``sentence`` copies, a hyphenated modifier before
    its noun ("forget-gate bias"), whose modifier the sentence makes the noun, the noun
    left out: "The forget gate is initialized to 1" from "… initialise the forget-gate bias
    to 1". The claim was the bias's, not the gate's. A head that only names a kind
    ("fine-tuning methods", "low-rank approach") is no other thing and is not counted.
    ``source`` is a sentence ``sentence`` copies (:data:`_COPIED`), as the checker reads."""
    words = _words_of(sentence)
    for match in _HYPHENATED.finditer(strip_citations(source)):
        first, second, head = (_spelled(w.lower()) for w in match.groups())
        if head in STOPWORDS or head in _KINDS or any(_same_word(head, w) for w in words):
            continue
        for i in range(len(words) - 2):
            if words[i : i + 2] == [first, second] and words[i + 2] in STOPWORDS:
                return f'"{first} {second}" (the notes: "{match.group()}")'
    return None


# A hyphenated modifier and the noun after it: "forget-gate bias", "low-rank matrices".
_HYPHENATED = re.compile(r"\b([A-Za-z]+)-([A-Za-z]+)\s+([A-Za-z]+)\b")
# Nouns that name a kind of what their modifier names: dropping one changes no claim.
_KINDS = frozenset(
    "method methods approach approaches technique techniques model models variant variants "  # noqa: SIM905
    "version versions process step steps scheme schemes strategy strategies algorithm "
    "algorithms family setting settings style way ways type types kind kinds form forms".split()
)


_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]+s?\b")
_PRONOUN_SUBJECT = re.compile(r"\s*(?:It|They)\b")


def misread_subject(sentence: str, source: str, before: str) -> str | None:
    """The name ``sentence`` makes the subject of a passage sentence (``source``) whose
    subject is "It" or "They", where the sentence before it (``before``) names that name
    but not as its subject: "The LSTM uses two gates: the update gate and the reset gate"
    copied from "It merges the cell and hidden state and uses two gates: …" after "The
    gated recurrent unit (Cho et al., 2014) simplifies the LSTM". The notes' "It" is the
    GRU; the name the sentence gives it is the other network, named beside it."""
    if not before or not _PRONOUN_SUBJECT.match(source):
        return None
    opening = _ACRONYM.findall(" ".join(strip_citations(sentence).split()[:3]))
    if not opening or overlap(sentence, source) < _COPIED:
        return None
    name = opening[0]
    key = name.lower().removesuffix("s")
    if key in _acronyms(source) or key not in _acronyms(before):
        return None  # the passage sentence names it itself, or nothing names it beside
    subject = _words_of(before)[:_SUBJECT_WORDS]
    initials = (
        "".join(w[0] for w in subject[i:j])
        for i in range(len(subject))
        for j in range(i + 2, len(subject) + 1)
    )
    if any(w.removesuffix("s") == key for w in subject) or key in initials:
        return None  # "Reciprocal rank fusion (RRF) combines …", "The gated recurrent unit"
    return name


def claimed_by_another(sentence: str, source: str, before: str, passages: str) -> str | None:
    """The subject ``sentence`` gives the claim of a passage sentence (``source``) whose
    subject is "It" or "They", when that subject is another of the passages' terms
    (``passages``: their words, as :func:`_words_of` reads them, joined by spaces)
    than what the pronoun stands for (the subject of ``before``, the sentence before
    ``source``): "…, while dense retrieval excels at exact keywords and needs no
    training" from "It excels at exact keywords and needs no training." after "Sparse
    lexical retrieval with BM25 scores documents …". The notes' "It" is BM25; "dense
    retrieval" is the other method they describe. A subject the notes never use for
    anything ("the BM25 scorer") is left to the other checks."""
    pronoun = _PRONOUN_SUBJECT.match(source)
    if not pronoun:
        return None
    words = _words_of(sentence)
    said = _words_of(source[pronoun.end() :])
    # The claim, and each predicate it joins with "and" or "or" ("It computes the Adam
    # update … and applies weight decay directly to the weights"): all said of "It".
    for opening in (0, *(i + 1 for i, w in enumerate(said) if w in _JOINING)):
        claim = said[opening : opening + _COPIED_RUN]
        if len(claim) < _COPIED_RUN:
            continue
        starts = (
            i
            for i in range(1, len(words) - _COPIED_RUN + 1)
            if all(_same_word(a, b) for a, b in zip(words[i : i + _COPIED_RUN], claim, strict=True))
        )
        start = next(starts, None)
        if start is not None:
            name = _claimant(words, start, before, passages)
            if name:
                return name
    return None


def _claimant(words: list[str], start: int, before: str, passages: str) -> str | None:
    """The term before the claim copied at ``words[start]`` when it is another of the
    passages' terms than the subject of ``before`` (:func:`claimed_by_another`)."""
    subject: list[str] = []
    for word in reversed(words[max(0, start - _CLAIMANT_WORDS) : start]):
        if word in _CLAUSE_OPENERS:
            break
        subject.insert(0, word)
    named = [w for w in subject if w not in STOPWORDS]
    antecedent = _words_of(before)[:_SUBJECT_WORDS]
    if not named or all(any(_same_name(w, a) for a in antecedent) for w in named):
        return None  # "It", "BM25", "Sparse retrieval": what the pronoun stands for
    if subject[0] in _DEMONSTRATIVES:
        return None  # "This method can quantize …": it points back, as "It" does
    phrase = " ".join(named)
    if _holds(" ".join(_words_of(before)), phrase) or not _holds(passages, phrase):
        return None
    return phrase


def _holds(words: str, phrase: str) -> bool:
    """Whether ``words`` (joined by spaces) hold ``phrase`` as whole words, or its plural:
    "Adam" is not in "AdamW decouples the two"; "method" is in "two methods"."""
    return any(f" {phrase}{s} " in f" {words} " for s in ("", "s"))


def _same_name(a: str, b: str) -> bool:
    """One name in two forms ("retriever", "retrievers"); unlike :func:`_same_word`, not a
    name and a longer one it begins ("Adam" and "AdamW")."""
    return a == b or stem(a) == stem(b)


_JOINING = frozenset({"and", "or"})
_DEMONSTRATIVES = frozenset({"this", "that", "these", "those", "such"})
# The words before a copied claim that may name what it is said of ("dense retrieval"),
# up to a word that opens a clause ("…, while dense retrieval excels at …").
_CLAIMANT_WORDS = 3
_CLAUSE_OPENERS = frozenset(
    "while whereas but and or so because since that which unlike like than".split()  # noqa: SIM905
)


# The words that open a sentence, where its subject stands ("The gated recurrent unit").
_SUBJECT_WORDS = 6
# A list item, as the sentence splitter leaves it: "- Update gate: …", "2) Merge …".
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d{1,2}[.)])\s")


def _pronoun_readings(sentences: list[str], owner: np.ndarray) -> list[tuple[str, str]]:
    """(sentence, the sentence before) for each passage sentence whose subject is
    "It" or "They" and that has a sentence before it in its passage; one that ends with a
    colon is read with the list items after it ("uses two gates:" and the two gates)."""
    readings = []
    for i, sentence in enumerate(sentences):
        if i == 0 or owner[i - 1] != owner[i] or not _PRONOUN_SUBJECT.match(sentence):
            continue
        whole = [sentence]
        if sentence.rstrip().endswith(":"):
            for after in range(i + 1, len(sentences)):
                if owner[after] != owner[i] or not _LIST_ITEM.match(sentences[after]):
                    break
                whole.append(sentences[after])
        readings.append((" ".join(whole), sentences[i - 1]))
    return readings


def _acronyms(text: str) -> set[str]:
    """The names written in capitals ("LSTM", "GRU"), lower-cased as :func:`_words_of`."""
    return {m.lower().removesuffix("s") for m in _ACRONYM.findall(text)}


def _words_of(text: str) -> list[str]:
    return [_spelled(w) for w in _WORD_PIECE.findall(strip_citations(text).lower())]


def _same_word(a: str, b: str) -> bool:
    """One word in two forms: "size" and "sizes", "norm" and "normalisation"."""
    if a == b or stem(a) == stem(b):
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and long.startswith(short)


def _differing(words: list[str], other: list[str]) -> list[str]:
    return [w for w in words if w not in STOPWORDS and not any(_same_word(w, o) for o in other)]


def _moved_terms(
    mine: list[str], theirs: list[str], known: set[tuple[str, str]], names: set[str]
) -> set[str]:
    """The terms of ``known`` in ``mine`` that stand, aligned, where ``theirs`` has another
    two-word term sharing a word with it; and the ``names`` that stand for another name
    ("LSTM uses two gates" copied from "The GRU uses two gates")."""
    moved = set()
    opcodes = SequenceMatcher(None, mine, theirs, autojunk=False).get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal" and _other_name_before(mine, theirs, (i1, j1, i2 - i1), names):
            moved.add(mine[i1 - 1])  # "… is that LSTM has three weight blocks instead of four"
        if tag != "replace" or i2 - i1 > 2 or j2 - j1 > 2:
            continue
        ours, others = mine[i1:i2], theirs[j1:j2]
        mine_only, theirs_only = _differing(ours, others), _differing(others, ours)
        if len(mine_only) != 1 or len(theirs_only) != 1:
            continue  # one term's word for another's, not "old cell" for "previous"
        if mine_only[0] in names and theirs_only[0] in names:
            moved.add(mine_only[0])
        beside = []  # (the sentence's pair, the source's pair) around the replaced words
        if n + 1 < len(opcodes) and opcodes[n + 1][0] == "equal":
            beside.append(((mine[i2 - 1], mine[i2]), (theirs[j2 - 1], theirs[j2])))
        if n > 0 and opcodes[n - 1][0] == "equal":
            beside.append(((mine[i1 - 1], mine[i1]), (theirs[j1 - 1], theirs[j1])))
        if i2 - i1 == 2 and j2 - j1 == 2:  # "batch norm" for "layer normalisation"
            beside.append(((mine[i1], mine[i1 + 1]), (theirs[j1], theirs[j1 + 1])))
        for term, their_term in beside:
            if term in known and all(_term_word(w) for w in (*term, *their_term)):
                moved.add(" ".join(term))
    return moved


def _other_name_before(
    mine: list[str], theirs: list[str], run: tuple[int, int, int], names: set[str]
) -> bool:
    """Whether the ``run`` of words the two sentences share (start in each, length), a
    copied claim of _COPIED_RUN words or more, follows a name in each and not the same
    one: "The difference between LSTM and GRU is that LSTM has three weight blocks instead
    of four" from "A GRU has three weight blocks instead of four", however the words
    before the claim align."""
    i, j, length = run
    if length < _COPIED_RUN or i == 0 or j == 0:
        return False
    ours, their = mine[i - 1], theirs[j - 1]
    return ours in names and their in names and not _same_word(ours, their)


# Words in a row a sentence shares with its passage sentence after a name: a copied claim.
_COPIED_RUN = 4


# Sentence openers that name nothing, beside the stop words.
_FUNCTION_WORDS = STOPWORDS | frozenset(
    "while because since unlike like every either neither".split()  # noqa: SIM905
)


# The support score from which an answer sentence counts: 0.6 -> 0.7 raised auto's
# contains-gold on SQuAD dev, re-scored offline with eval.bench.strategies (BENCHMARKS.md).
DEFAULT_SUPPORT_THRESHOLD = 0.70


class GroundingChecker:
    """Scores answer sentences against numbered passages."""

    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_SUPPORT_THRESHOLD) -> None:
        self._embedder = embedder
        self.threshold = threshold

    def check(
        self,
        answer: str,
        passages: Sequence[str],
        vectors: Embedder | None = None,
        vocabulary: Collection[str] = frozenset(),
    ) -> Verdict:
        """Verdict on each sentence of ``answer``; ``vectors`` embeds in place of the
        checker's embedder (one answer's :class:`SentenceVectors`); ``vocabulary`` is the
        collection's stemmed terms (:func:`unsupported_terms`)."""
        raw = answer_sentences(answer)
        if not raw or not passages:
            return Verdict("", [])
        cleaned = [_keep_valid_citations(s, len(passages)) for s in raw]
        # A sentence that tells the model what to say is not evidence of anything.
        passages = [as_evidence(p) for p in passages]
        quoted = [_quoted_in(strip_citations(t), cites, passages) for t, cites in cleaned]
        holders = [n for n in quoted if n is not None]
        if len(holders) == len(cleaned):
            return _verbatim(cleaned, holders)  # a quoted unit: nothing to embed
        passage_sentences = [split_sentences(p) or [p] for p in passages]
        flat = [s for group in passage_sentences for s in group]
        owner = np.repeat(np.arange(len(passages)), [len(g) for g in passage_sentences])
        embedded = (vectors or self._embedder).embed(
            [strip_citations(t) for t, _ in cleaned] + flat
        )
        claims, evidence = embedded[: len(cleaned)], embedded[len(cleaned) :]
        pronouns = _pronoun_readings(flat, owner)
        view = _Evidence(
            passages,
            flat,
            owner,
            claims @ evidence.T,
            _pairs("\n".join(passages)),
            [content_words(s) for s in flat],
            pronouns,
            " ".join(_words_of("\n".join(passages))) if pronouns else "",
        )
        checked: list[CheckedSentence] = []
        for row, (text, cites) in enumerate(cleaned):
            judged = self._judge(view, row, text, [n - 1 for n in cites], vocabulary)
            model_cites: list[int] = []
            better = self._better_source(view, row, text, cites, judged, vocabulary)
            if better is not None:
                model_cites, judged = cites, better
                text, cites = _recited(text, better.passage + 1), [better.passage + 1]
            elif not cites and judged.supported:
                # An uncited but supported sentence gets the passage that supports it.
                text, cites = _recited(text, judged.passage + 1), [judged.passage + 1]
            if checked and leans_back(strip_citations(text)) and _misnamed(checked[-1]):
                # "Top-p sampling is a newer alternative to min-p. It keeps tokens whose
                # probability is at least a fraction of the top token's": the second is the
                # passage's own words about min-p, said of the first one's wrong subject.
                foreign = judged.foreign + checked[-1].unsupported_terms
                judged = replace(judged, supported=False, foreign=tuple(dict.fromkeys(foreign)))
            checked.append(
                CheckedSentence(
                    text,
                    cites,
                    judged.support,
                    judged.supported,
                    judged.foreign,
                    model_cites,
                    view.closest(row, cites[0] - 1) if cites else None,
                )
            )
        return Verdict(" ".join(c.text for c in checked), _lead_ins_answered(checked))

    def _judge(
        self,
        view: _Evidence,
        row: int,
        text: str,
        scope: list[int],
        vocabulary: Collection[str],
    ) -> _Judged:
        """How well the passages ``scope`` (0-based; all when empty) support one sentence."""
        scope = scope or list(range(len(view.passages)))
        support_by_passage = {i: view.support(row, i, text) for i in scope}
        best = max(support_by_passage, key=support_by_passage.__getitem__)
        support = round(support_by_passage[best], 4)
        foreign = unsupported_terms(text, "\n".join(view.passages[i] for i in scope), vocabulary)
        # The sentence it copies may stand in any passage: "Top-p sampling keeps only the k
        # most probable tokens [1]" copies the top-k sentence of [2], not [1]'s on top-p.
        for copied in view.copied(row, text):
            # A clause's words around another verb, negated: copied, however long the rest.
            found = [negated_verb(text, copied)]
            if overlap(text, copied) >= _COPIED:
                # Its words, another term's claim; or its words, the opposite claim.
                found += [
                    *swapped_terms(text, copied, view.pairs),
                    flipped_negation(text, copied),
                    flipped_comparison(text, copied),
                    dropped_head(text, copied),
                ]
            foreign += [t for t in found if t and t not in foreign]
        # Or its words said of a name the sentence before names, not of what "It" stands for.
        misread = view.misread_subject(text)
        if misread and misread not in foreign:
            foreign.append(misread)
        supported = support >= self.threshold and not foreign
        return _Judged(best, support, supported, tuple(foreign))

    def _better_source(
        self,
        view: _Evidence,
        row: int,
        text: str,
        cites: list[int],
        judged: _Judged,
        vocabulary: Collection[str],
    ) -> _Judged | None:
        """Another passage that alone supports a cited sentence, when the cited ones do not
        or when it supports the sentence clearly better: the citation a learner follows
        should lead to the words. Support is never pooled across passages to get there."""
        if not cites or len(content_words(strip_citations(text))) < _MIN_WORDS_TO_MOVE:
            return None  # a span of a few words ("1704 [1]") turns up in a passage by chance
        cited = {n - 1 for n in cites}
        others = sorted(
            (i for i in range(len(view.passages)) if i not in cited),
            key=lambda i: -view.support(row, i, text),
        )
        for i in others:
            alone = self._judge(view, row, text, [i], vocabulary)
            if not alone.supported:
                continue
            if not judged.supported or alone.support >= judged.support + _CLEARLY_BETTER:
                return alone
            if alone.support >= judged.support and self._phrases(view, text, [i]) >= (
                self._phrases(view, text, sorted(cited)) + _CLEARLY_MORE_PHRASES
            ):
                return alone  # as well supported, and it has the sentence's phrases
            return None  # the best other passage is not clearly better
        return None

    @staticmethod
    def _phrases(view: _Evidence, text: str, scope: list[int]) -> float:
        """Share of the sentence's two-word phrases that the passages ``scope`` hold."""
        return phrase_overlap(strip_citations(text), "\n".join(view.passages[i] for i in scope))


def _lead_ins_answered(checked: list[CheckedSentence]) -> list[CheckedSentence]:
    """``checked`` with each sentence that only introduces the next ("The formula for the
    Adam update is given by:", "2. **Load the adapter**:") supported when what it
    introduces is and it names nothing the passages do not: it claims nothing of its own,
    and was counted as an unsupported sentence, failing formula answers whose formula
    the notes state."""
    found = list(checked)
    for n in range(len(found) - 2, -1, -1):
        lead, after = found[n], found[n + 1]
        introduces = strip_citations(lead.text).rstrip().endswith(":")
        if introduces and after.supported and not lead.supported and not lead.unsupported_terms:
            found[n] = replace(lead, supported=True)
    return found


# A passage other than the cited one takes the citation, for a sentence of at least
# _MIN_WORDS_TO_MOVE content words, when its support is _CLEARLY_BETTER higher, or as high
# with _CLEARLY_MORE_PHRASES more of the sentence's phrases: "The forget gate controls how
# much of the old cell state to keep [2]", cited to a GRU section that has all its words,
# moves to the LSTM section that has "old cell state" too. (On the demo notes the sentence
# also says "in an LSTM", a name only the GRU section holds, so its citation stands.)
_CLEARLY_BETTER = 0.1
_CLEARLY_MORE_PHRASES = 0.25
_MIN_WORDS_TO_MOVE = 5


@dataclass(frozen=True, slots=True)
class _Evidence:
    """The passages of one check, split and embedded, with each answer sentence's
    similarity to every passage sentence."""

    passages: list[str]
    sentences: list[str]
    owner: np.ndarray  # the passage (0-based) of each of ``sentences``
    similarity: np.ndarray  # answer sentences x passage sentences
    pairs: set[tuple[str, str]]  # the passages' word pairs (:func:`swapped_terms`)
    words: list[set[str]]  # the content words of each of ``sentences``
    # (sentence, the sentence before) of each sentence whose subject is a pronoun
    pronouns: list[tuple[str, str]]
    # The words of all passages, as _words_of reads them, when ``pronouns`` has any
    passage_words: str
    # What misread_subject found for each answer sentence it was asked about
    misread: dict[str, str | None] = field(default_factory=dict)

    def copied(self, row: int, text: str) -> list[str]:
        """The passage sentences answer sentence ``row`` may copy: the closest in meaning
        and the one holding most of its words. They differ when the words are another
        term's: "Top-p sampling is a newer alternative to min-p sampling" reads closest to
        "Top-k sampling keeps only …" and has the words of "Min-p sampling is a newer
        alternative: …"."""
        closest = int(np.argmax(self.similarity[row]))
        mine = content_words(strip_citations(text))
        most = max(range(len(self.words)), key=lambda i: len(mine & self.words[i]))
        return [self.sentences[i] for i in dict.fromkeys((closest, most))]

    def misread_subject(self, text: str) -> str | None:
        """The name answer sentence ``text`` gives a passage sentence whose subject is a
        pronoun (:func:`misread_subject`, :func:`claimed_by_another`), in any passage:
        "Adam applies weight decay directly to the weights", AdamW's claim, is not made
        Adam's by citing a passage that merely holds its words. Read once per sentence,
        however many passages it is judged against."""
        if text not in self.misread:
            found = (
                misread_subject(text, sentence, before)
                or claimed_by_another(text, sentence, before, self.passage_words)
                for sentence, before in self.pronouns
            )
            self.misread[text] = next((name for name in found if name), None)
        return self.misread[text]

    def closest(self, row: int, passage: int) -> str:
        """The sentence of ``passage`` closest to answer sentence ``row``."""
        rows = np.flatnonzero(self.owner == passage)
        return self.sentences[int(rows[np.argmax(self.similarity[row][rows])])]

    def support(self, row: int, passage: int, text: str) -> float:
        """The better of the closest passage sentence and the share of words it holds."""
        closest = float(self.similarity[row][self.owner == passage].max())
        return max(closest, overlap(strip_citations(text), self.passages[passage]))


@dataclass(frozen=True, slots=True)
class _Judged:
    passage: int  # 0-based: the passage of the scope that supports the sentence best
    support: float
    supported: bool
    foreign: tuple[str, ...]

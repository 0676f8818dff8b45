"""A copied sentence that says the opposite of its passage sentence.

"Keep adapters separate instead of allowing hot-swapping" is the passage's "Keeping
adapters separate instead allows hot-swapping" with one negation put in: every word is the
passage's, so the support check and the names check pass it, and it asserts the reverse.
:func:`flipped_negation` aligns the sentence with the passage sentence it copies and finds
a place where only the polarity changed: a negation added or dropped, with the same
content words on both sides of it and the words it governs the same in both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from service.text import STOPWORDS, WORD, overlap, stem, strip_citations

# Words that turn what follows into its opposite (two-word ones are read as one token).
_NEGATIONS = frozenset(
    "not no never none nothing neither nor without instead-of rather-than".split()  # noqa: SIM905
)
_JOINED = {
    ("instead", "of"): "instead-of",
    ("rather", "than"): "rather-than",
    ("not", "only"): "not-only",  # "not only A but also B" negates nothing (with a "but")
}
# A clause ends at punctuation; a negation governs no further.
_BREAK = "|"
# Words a polarity change may add or drop beside its negation: "instead allows" becomes
# "does not allow", "is no longer needed" becomes "is needed".
_FILLER = STOPWORDS | {_BREAK, "instead", "also", "only", "still", "just", "even", "longer", "ever"}
_CONTRACTED = {"ca": "can", "wo": "will", "sha": "shall"}


_PIECE = re.compile(rf"{WORD.pattern}|[,;:.!?](?=\s|$)")  # "0.67" breaks nothing


def _tokens(text: str) -> list[str]:
    """Lower-cased words and clause breaks, contractions opened ("doesn't" → "does not",
    "cannot" → "can not") and the two-word negations joined."""
    words: list[str] = []
    for word in (w.lower() for w in _PIECE.findall(strip_citations(text))):
        if not word[0].isalnum():
            words.append(_BREAK)
        elif word == "cannot":
            words += ["can", "not"]
        elif word.endswith("n't"):
            words += [_CONTRACTED.get(word[:-3], word[:-3]), "not"]
        else:
            words.append(word)
    joined: list[str] = []
    for n, word in enumerate(words):
        pair = (joined[-1], word) if joined else None
        if pair in _JOINED and (pair != ("not", "only") or "but" in words[n:]):
            joined[-1] = _JOINED[pair]
        else:
            joined.append(word)
    return joined


def _stems(words: list[str]) -> list[str]:
    return [w if w in _NEGATIONS or w == _BREAK else stem(w) for w in words]


def _negations(words: list[str], start: int, end: int) -> int:
    """The negations in the clause of ``words`` that holds ``words[start:end]``."""
    while start > 0 and words[start - 1] != _BREAK:
        start -= 1
    while end < len(words) and words[end] != _BREAK:
        end += 1
    return sum(w in _NEGATIONS for w in words[start:end])


def _said(words: list[str]) -> str:
    return " ".join(words).replace("-of", " of").replace("-than", " than")


def flipped_negation(sentence: str, source: str) -> str | None:
    """Where ``sentence`` adds a negation to ``source`` (the passage sentence it copies) or
    drops one, the words that differ, as ``'"…" (the notes: "…")'``; None when its
    polarity is the passage's everywhere.

    Only a pure change of polarity counts: the other content words of the changed stretch
    must be the passage's (stems compared), and the rest of the sentence's clause must be
    the passage's words too ("does not train the base weights" against "trains A and B;
    the base weights are frozen" changes more than polarity, and so does "keeps the base
    model in 4-bit" against "does not keep the base model in 16-bit")."""
    mine, theirs = _tokens(sentence), _tokens(source)
    stems_mine, stems_theirs = _stems(mine), _stems(theirs)
    matcher = SequenceMatcher(None, stems_mine, stems_theirs, autojunk=False)
    opcodes = matcher.get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            continue
        added = sum(w in _NEGATIONS for w in mine[i1:i2])
        dropped = sum(w in _NEGATIONS for w in theirs[j1:j2])
        if added == dropped or _negations(mine, i1, i2) == _negations(theirs, j1, j2):
            continue  # "does not need a" against "needs no": the clause's polarity holds
        rest_mine = {stems_mine[i] for i in range(i1, i2) if mine[i] not in _NEGATIONS | _FILLER}
        rest_theirs = {
            stems_theirs[j] for j in range(j1, j2) if theirs[j] not in _NEGATIONS | _FILLER
        }
        if rest_mine != rest_theirs:
            continue  # the sentence says something else here, not the opposite
        following = opcodes[n + 1] if n + 1 < len(opcodes) else None
        if following is None or following[0] != "equal":
            continue
        _, k1, k2, l1, _ = following
        governed = mine[k1:k2]
        clause = governed[: governed.index(_BREAK)] if _BREAK in governed else governed
        if not any(w not in _FILLER for w in clause):
            continue  # nothing the negation governs is the passage's
        if len(clause) == len(governed) and k2 < len(mine) and mine[k2] != _BREAK:
            continue  # the clause goes on with other words than the passage's
        said, noted = _said([*mine[i1:i2], mine[k1]]), _said([*theirs[j1:j2], theirs[l1]])
        return f'"{said}" (the notes: "{noted}")'
    return None


def negated_verb(sentence: str, source: str) -> str | None:
    """Where ``sentence`` puts a negated verb in place of the verb of a passage sentence
    (``source``) whose words it copies on both sides, in a clause with nothing negative
    in it: "changing the learning rate schedule does not affect the effective
    regularisation" from "changing the learning rate schedule also changes the effective
    regularisation". The words that differ, as ``'"…" (the notes: "…")'``; None otherwise.

    :func:`flipped_negation` needs the passage's own verb; this one the copied words
    around another: at least two content words on each side, in the same clause. A
    passage clause that already says a negative thing ("prevents", "keeps … frozen",
    "unchanged", "only") may be said again with a "not", and is left alone."""
    mine, theirs = _tokens(sentence), _tokens(source)
    opcodes = SequenceMatcher(None, _stems(mine), _stems(theirs), autojunk=False).get_opcodes()
    for n in range(1, len(opcodes) - 1):
        (before, *_), (tag, i1, i2, j1, j2), (after, k1, k2, *_) = opcodes[n - 1 : n + 2]
        if tag != "replace" or before != "equal" or after != "equal":
            continue
        if i2 - i1 > _VERB_WORDS + 1 or j2 - j1 > _VERB_WORDS:
            continue
        if not any(w in _NEGATIONS for w in mine[i1:i2]):
            continue
        left = _clause_words(reversed(mine[opcodes[n - 1][1] : i1]))
        right = _clause_words(mine[k1:k2])
        if len(left) < _AROUND or len(right) < _AROUND:
            continue
        start, end = j1, j2
        while start > 0 and theirs[start - 1] != _BREAK:
            start -= 1
        while end < len(theirs) and theirs[end] != _BREAK:
            end += 1
        if any(w in _NEGATIONS or _NEGATIVE.match(w) for w in theirs[start:end]):
            continue
        return f'"{_said(mine[i1:i2])}" (the notes: "{_said(theirs[j1:j2])}")'
    return None


def _clause_words(words: Iterable[str]) -> list[str]:
    """The content words of ``words`` up to the first clause break."""
    found = []
    for word in words:
        if word == _BREAK:
            break
        if word not in STOPWORDS:
            found.append(word)
    return found


# The passage's verb and what stands beside it ("also changes"), at most; a negated verb
# one word more ("does not affect").
_VERB_WORDS = 3
# Content words copied on each side of the verb.
_AROUND = 2
# Words that already say something negative: the passage's clause may be said again with
# a "not" ("keeps W frozen": "does not update W").
_NEGATIVE = re.compile(
    r"(?:prevent|avoid|stop|block|los[et]|lack|fail|miss|ignor|exclud|remov|drop|skip|forbid"
    r"|disabl|reduc|cut|lower|freez|frozen|keep|kept|leav|left|hid|mask|limit|cap|only|less"
    r"|fewer|zero|un|non|independ|instead|rather)"
)


# A bound a sentence states: "T < 1", "$p \geq 0.9$", "x ≤ 0".
_BOUND = re.compile(
    r"\b([A-Za-z_]\w*)\s*(<=|>=|<|>|\u2264|\u2265|\\leq?\b|\\geq?\b|\\lt\b|\\gt\b)\s*(-?\d+(?:\.\d+)?)"
)
_BELOW = frozenset({"<", "<=", "\u2264", "\\le", "\\leq", "\\lt"})
# Where one claim of a passage sentence ends: a list item run into the line ("- T < 1
# sharpens it. - T > 1 flattens it"), or a semicolon.
_CLAUSE = re.compile(r"(?<=[.!?:;])\s+(?=[-*+]\s)|;\s")


def _bounds(text: str) -> set[tuple[str, str, bool]]:
    """(symbol, value, whether it bounds from above) for each bound ``text`` states."""
    return {(m[1], m[3], m[2] in _BELOW) for m in _BOUND.finditer(text)}


def flipped_comparison(sentence: str, source: str) -> str | None:
    """Where ``sentence`` copies a clause of ``source`` (the passage sentence it copies; a
    list item or a part between semicolons) but bounds the same symbol by the same value
    the other way, that bound, as ``'"…" (the notes: "…")'``: "When T < 1, the distribution
    becomes sharper, making unlikely tokens more likely" takes its claim from "T > 1
    flattens it, making unlikely tokens more likely". None when the sentence also states
    the clause's bound."""
    mine = _bounds(strip_citations(sentence))
    if not mine:
        return None
    clauses = [c for c in _CLAUSE.split(source) if _bounds(c)]
    if not clauses:
        return None
    copied = max(clauses, key=lambda c: overlap(sentence, c))
    for symbol, value, below in _bounds(copied):
        if (symbol, value, below) in mine or (symbol, value, not below) not in mine:
            continue
        said, noted = ("<", ">") if not below else (">", "<")
        return f'"{symbol} {said} {value}" (the notes: "{symbol} {noted} {value}")'
    return None

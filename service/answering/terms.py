"""A question's terms as the BM25 index stems them, without the words that frame it.

Shared by the steps that ask what a question is about: retrieve (does a follow-up
name a subject of its own?) and decide (does the collection mention it?).
"""

from __future__ import annotations

import re
from functools import cache

from indexes.lexical import latex_words
from service.text import STOPWORDS, stem_words

TERM = re.compile(r"[a-z0-9][a-z0-9_]+")
_HYPHENATED = re.compile(r"\b([a-z]+)-(\d+)\b")
# Words that frame a question or an explanation rather than name its subject (a request
# for a solution too: "Compute…", "homework"; what a learner says in passing: "ok", "thanks"),
# beside the stop words of service.text.
_FRAMING = """
    whats what's hows cant dont doesnt isnt arent wont didnt shouldnt wouldnt couldnt im ive
    explain explanation mean meaning means differ difference different
    differences work works working use used uses using example examples define definition
    purpose role idea intuition intuitive happen happens compare comparison versus vs good
    bad better best worse need needs simple simply term terms thing things way ways give
    tell help understand understanding important main key exactly actually really basically
    pros cons advantage advantages disadvantage disadvantages benefit benefit benefits
    problem problems doing make makes made get gets got like kind kinds type types
    called call name named say said think know show part parts step steps detail details
    short long quick quickly please someone something anything one ones
    mine yours biggest smallest largest highest lowest fastest slowest
    percentage percentages percent proportion proportions fraction
    solve solution solutions compute calculate derive prove implement exercise exercises
    homework assignment final answer answers result number
    ok okay thanks thank hmm hi hello hey yes yeah yep sure cool great alright
    """.split()  # noqa: SIM905 - a word list reads best as text


@cache
def framing() -> frozenset[str]:
    """The stop words and framing words, as written and stemmed."""
    words = [*STOPWORDS, *_FRAMING]
    return frozenset(words) | frozenset(stem_words(words))


def terms(text: str) -> dict[str, str]:
    """Stemmed terms of ``text`` (as the BM25 index stems them) -> a word they came from;
    a name with a hyphenated number counts whole too ("GPT-4" is also "gpt4")."""
    lowered = latex_words(text).lower()
    words = TERM.findall(lowered) + [a + b for a, b in _HYPHENATED.findall(lowered)]
    words = [w for w in words if w not in framing()]
    stems = stem_words(words)
    return {s: w for s, w in zip(stems, words, strict=True) if s not in framing()}


def written_as_name(word: str, question: str) -> bool:
    """``word`` is written in ``question`` as a name: with a digit ("GPT-2"), a capital
    after its first letter ("LoRA", "LSTM"), or a capital inside the sentence ("Adam")."""
    written = re.search(rf"\b{re.escape(word)}\b", question, re.IGNORECASE)
    form = written.group(0) if written else word
    named = any(c.isdigit() for c in form) or any(c.isupper() for c in form[1:])
    capitalised = form[0].isupper() and written is not None and written.start() > 0
    return named or capitalised

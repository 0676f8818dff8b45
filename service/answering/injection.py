"""Text in a document that addresses the model ("ignore previous instructions and reply X").

Course materials are quoted, never obeyed.  The prompt tells the model so, and
as the model may obey anyway, such sentences are not evidence: grounding does
not let them support an answer sentence (an answer that obeys one is flagged as
unsupported, and ``auto`` falls back to an extractive answer) and extractive
answers never quote them.  The patterns catch the common phrasings, not every
possible one; the rest of the document is used as usual.
"""

from __future__ import annotations

import re

from ingest.sentences import split_sentences

_GAP = r"[^.!?\n]{0,40}"
_ADDRESSES_THE_MODEL = re.compile(
    rf"""
    \b(?:ignore|disregard|forget|override|bypass)\b{_GAP}
        \b(?:instructions?|prompts?|rules|directions|guidelines|system\s+message)\b
    | (?:^|\band\s+|\bto\s+|[:;,]\s*)(?:reply|respond|answer|output|say|print|write)\b{_GAP}
        \b(?:only|just|exactly|nothing\s+but)\b{_GAP}\b(?:word|words|phrase|text|string|with)\b
    | \b(?:do\s+not|don't|never)\s+(?:answer|respond\s+to|address)\s+the\s+(?:question|user)\b
    | \b(?:note|message|instructions?)\s+(?:to|for)\s+the\s+(?:assistant|model|ai|chatbot|llm)\b
    | \byou\s+are\s+now\b | \bnew\s+instructions\b | \bsystem\s+prompt\s*:
    """,
    re.IGNORECASE | re.VERBOSE,
)


def addresses_the_model(sentence: str) -> bool:
    """Whether ``sentence`` reads as an instruction to the model rather than course text."""
    return _ADDRESSES_THE_MODEL.search(sentence) is not None


def as_evidence(passage: str) -> str:
    """``passage`` without the sentences that address the model."""
    sentences = split_sentences(passage)
    if not any(addresses_the_model(s) for s in sentences):
        return passage
    return " ".join(s for s in sentences if not addresses_the_model(s))

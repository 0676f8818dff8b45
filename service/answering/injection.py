"""Text in a document that must not reach the learner, however it is phrased.

Course materials are quoted, never obeyed.  The prompt tells the model so, and as the
model may obey anyway, two lines of defence keep a planted instruction from reaching a
learner:

- *Addressing the model* (:func:`addresses_the_model`): the common phrasings of an
  instruction to the model ("ignore previous instructions and reply X").  Such
  sentences are not evidence: grounding does not let them support an answer sentence.
- *Out of place for the question* (:func:`out_of_place`), which does not depend on the
  wording: whatever an injection says, to harm a learner it must carry one of a few
  things, and none of them is quoted or shown in a generated answer unless the
  question asked for it: a link or e-mail address (unless the question asks where to
  find something), a request for credentials (unless the question is about them),
  speech about the conversation itself (to the assistant, about "the student", "from
  now on", "the above"), or a sentence in another language than the course's.

What is left (residual risk, in the README): a planted *false statement* in the
notes' own subject and language, without a link or a request, reads as course text
and is quoted like any other; the defence is the notes' provenance, not this module.
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

_TLD = r"(?:com|org|net|io|ai|example|xyz|info|biz|ru|cn|co|me|app|dev|edu|gov|link|site|online)"
_LINK = re.compile(
    rf"""
    \b(?:https?|ftp)://\S+ | \bwww\.\S+
    | \b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b
    | \b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.{_TLD}\b(?:/\S*)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "where can I read more about it", "link to the paper": then a link is the answer.
_ASKS_FOR_LINK = re.compile(
    r"\b(?:links?|urls?|websites?|web\s*pages?|sites?|resources?|read\s+more|further\s+reading"
    r"|download\w*|repo\w*|github|references?|endpoints?|address(?:es)?|e-?mail"
    r"|where\s+(?:can|do|does|should|to|is|are))\b",
    re.IGNORECASE,
)
# A request for credentials: a verb that asks for them near the word ("enter their
# university password", "email your login details"); "social security rights" or "his
# Mongolian credentials" ask for nothing.
_CREDENTIALS = re.compile(
    rf"""
    \b(?:enter|type|provide|send|share|submit|confirm|give|e-?mail|post|reveal|verify|update
        |paste|tell\s+(?:us|me))\b{_GAP}
    \b(?:pass(?:word|phrase|code)s?|credentials?|log\s*-?\s*in\s+details|login\s+details
        |user\s*names?|pin\s+(?:codes?|numbers?)|(?:credit\s+)?card\s+(?:numbers?|details)
        |credit\s+cards?|bank\s+(?:details|logins?)|social\s+security\s+numbers?
        |one-time\s+codes?|(?:verification|security)\s+codes?|api[\s_-]?keys?)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CONVERSATION = re.compile(
    r"""
    ^\W*(?:assistant|ai|chatbot|bot|system|gpt|llm)\s*[,:]
    | \b(?:tell|ask|instruct|remind|inform|advise|urge|direct|warn|send)
        \s+(?:the|your|every|all|each)\s+(?:students?|users?|learners?|readers?|humans?|people)\b
    | \b(?:the|this)\s+(?:student|user|learner|human)\s+(?:must|should|needs?\s+to|has\s+to)\b
    | \bfrom\s+now\s+on\b | \bhenceforth\b | \bfor\s+the\s+rest\s+of\s+(?:the|this)\s+conversation\b
    | \b(?:disregard|ignore|override|bypass)\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?
        (?:above|preceding|previous|prior|earlier|foregoing)\b
    | \b(?:as\s+an?\s+(?:ai|assistant|language\s+model))\b
    | \b(?:your|the\s+assistant's)\s+(?:system\s+prompt|instructions|guidelines|rules|programming)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words of the languages an injection is most often written in (not the particles
# of names: "de Klerk", "du Plessis", "van Gend"); a sentence with several of them and fewer
# English ones is not in the course's language.
_FOREIGN = _words(
    "la les au aux une est et vous nous ce cette dans pour pas avec sur sont leur votre "
    "notre qui à el los las del por para una como pero sus usted ustedes también con das "
    "und ist nicht mit sie ein eine sich auf für dem den ihre bitte nur dass alle il che "
    "è non sono questo della gli"
)
_ENGLISH = _words(
    "the a an of and to in is are was be it that this for on with as by not or you your "
    "from at which can has have its their than then when what"
)
_MIN_FOREIGN = 3


def addresses_the_model(sentence: str) -> bool:
    """Whether ``sentence`` reads as an instruction to the model rather than course text."""
    return _ADDRESSES_THE_MODEL.search(sentence) is not None


def _foreign(sentence: str) -> bool:
    words = [w.lower() for w in _WORD.findall(sentence)]
    foreign = sum(w in _FOREIGN for w in words)
    return foreign >= _MIN_FOREIGN and foreign > sum(w in _ENGLISH for w in words)


_LOOPBACK = re.compile(r"^(?:\w+://)?(?:localhost|127\.[\d.]+|0\.0\.0\.0|\[::1\])(?:[:/]|$)")


def _links(text: str) -> bool:
    """Whether ``text`` holds a link to somewhere else ("http://localhost:8000/v1" in a
    setup example is not one)."""
    return any(not _LOOPBACK.match(m.group()) for m in _LINK.finditer(text))


def out_of_place(text: str, question: str) -> str | None:
    """Why ``text`` (a sentence, or a list item of several) must not be shown to a learner
    who asked ``question``, or None."""
    for sentence in split_sentences(text) or [text]:
        if reason := _out_of_place(sentence, question):
            return reason
    return None


def _out_of_place(sentence: str, question: str) -> str | None:
    if addresses_the_model(sentence) or _CONVERSATION.search(sentence):
        return "it speaks to the assistant or about the conversation"
    if _links(sentence) and not (_ASKS_FOR_LINK.search(question) or _links(question)):
        return "it carries a link the question did not ask for"
    if _CREDENTIALS.search(sentence) and not _CREDENTIALS.search(question):
        return "it mentions credentials the question did not ask about"
    if _foreign(sentence) and not _foreign(question):
        return "it is not in the language of the course"
    return None


def in_place(passage: str, question: str) -> str:
    """``passage`` as a citation shows it to the learner who asked ``question``: each
    sentence out of place for the question replaced by "[…]"."""
    for sentence in split_sentences(passage):
        if out_of_place(sentence, question):
            passage = passage.replace(sentence, "[…]")
    return passage


def as_evidence(passage: str) -> str:
    """``passage`` without the sentences that address the model."""
    sentences = split_sentences(passage)
    if not any(addresses_the_model(s) for s in sentences):
        return passage
    return " ".join(s for s in sentences if not addresses_the_model(s))


_LEADING_MARKS = re.compile(r"(?:\[\d+\]\s*)+")


class StreamGate:
    """What of a generated answer may be shown while it streams, before verification.

    Text is let through a sentence at a time, once the sentence is complete (the next
    has begun, or the model has finished) and only while it is not :func:`out_of_place`
    for the question: no piece of a sentence with a link, a request for credentials or
    speech to the assistant is shown, and nothing streams after it (the verified answer
    replaces what was shown). The draft stays on screen meanwhile.
    """

    def __init__(self, question: str) -> None:
        self._question = question
        self._shown = 0
        self.stopped = False

    def admit(self, text: str) -> str:
        """The part of ``text`` (everything generated so far) newly fit to show: its
        complete sentences not shown yet."""
        sentences = split_sentences(text)
        end = text.rfind(sentences[-1]) if sentences else -1
        if end >= 0 and (marks := _LEADING_MARKS.match(text, end)):
            end = marks.end()  # "… gradient. [1] Now …": the marks close the sentence before
        return self._let_through(text, end)

    def finish(self, text: str) -> str:
        """The rest of ``text`` once the model has finished, if it is fit to show."""
        return self._let_through(text, len(text))

    def _let_through(self, text: str, end: int) -> str:
        if self.stopped or end <= self._shown:
            return ""
        admitted = text[self._shown : end]
        if out_of_place(admitted, self._question):
            self.stopped = True
            return ""
        self._shown = end
        return admitted

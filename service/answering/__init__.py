"""Answering a question, as small steps over the passages a question retrieves.

::

    retrieve  (retrieve.py)  the passages, numbered as the answer cites them
    decide    (decide.py)    answer, or abstain: off-topic, or the subject is absent
    compose   (compose.py)   the best answer unit of the passages, quoted (the draft)
    generate  (prompt.py)    the model writes from a few numbered passages
    verify    (verify.py)    every sentence checked; an unsupported answer is not shown
                             as grounded, and the quoted unit stands instead
    guide     (guide.py)     teaching mode guide: a request for a solution gets the
                             idea and a hint, never the worked result

``core.Answerer`` runs them as one stream of events.
"""

from service.answering.core import (
    EXTRACTIVE_MODEL,
    Answerer,
    AnswerPolicy,
    Event,
)
from service.answering.prompt import NOT_COVERED, declines
from service.answering.retrieve import Question, citation, retrieval_query
from service.answering.verify import GroundingChecker
from service.course import Strategy

__all__ = [
    "EXTRACTIVE_MODEL",
    "NOT_COVERED",
    "AnswerPolicy",
    "Answerer",
    "Event",
    "GroundingChecker",
    "Question",
    "Strategy",
    "citation",
    "declines",
    "retrieval_query",
]

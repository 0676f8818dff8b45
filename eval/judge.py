"""LLM-judged faithfulness and answer relevancy, as RAGAS defines them (off by default).

* **Faithfulness**: the share of the answer's statements that the judge says
  can be inferred from the passages the answer rests on.  RAGAS has the LLM
  split the answer into statements; we take its sentences, which is what a
  small local judge can do reliably.
* **Answer relevancy**: the judge writes the question the answer responds to;
  the score is the cosine similarity of that question's embedding to the
  asked question's.  RAGAS averages several generated questions; with greedy
  decoding one is as many as there are.

The judge is the configured generator, so its verdicts are only as good as
that model: SmolLM2-135M gives a working pipeline, not a trustworthy score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexes import Embedder
from service.answering.verify import answer_sentences
from service.generation.base import GenerationParams, Generator, Message

_VERDICT = GenerationParams(max_tokens=4, temperature=0.0)
_QUESTION = GenerationParams(max_tokens=48, temperature=0.0)
_CONTEXT_CHARS = 3000


def faithfulness_messages(statement: str, passages: Sequence[str]) -> list[Message]:
    context = "\n\n".join(passages)[:_CONTEXT_CHARS]
    return [
        Message("system", "You check statements against a context. Reply with yes or no only."),
        Message(
            "user",
            f"Context:\n{context}\n\nStatement: {statement}\n\n"
            "Can the statement be inferred from the context? Answer yes or no.",
        ),
    ]


def relevancy_messages(answer: str) -> list[Message]:
    return [
        Message("system", "You write the one question that a given answer responds to."),
        Message("user", f"Answer: {answer}\n\nWrite the question this answers, and nothing else."),
    ]


def verdict(text: str) -> bool:
    """Whether a judge's reply says yes (its first word, any case)."""
    words = text.strip().lower().split()
    return bool(words) and words[0].strip(".,!:;") == "yes"


class Judge:
    """Scores an answer with a generator and an embedder."""

    def __init__(self, generator: Generator, embedder: Embedder) -> None:
        self._generator = generator
        self._embedder = embedder

    async def _complete(self, messages: list[Message], params: GenerationParams) -> str:
        return "".join([piece async for piece in self._generator.stream(messages, params)])

    async def faithfulness(self, answer: str, passages: Sequence[str]) -> float | None:
        statements = answer_sentences(answer)
        if not statements or not passages:
            return None
        votes = [
            verdict(await self._complete(faithfulness_messages(s, passages), _VERDICT))
            for s in statements
        ]
        return sum(votes) / len(votes)

    async def answer_relevancy(self, question: str, answer: str) -> float:
        generated = (await self._complete(relevancy_messages(answer), _QUESTION)).strip()
        if not generated:
            return 0.0
        vectors = self._embedder.embed([question, generated])
        return float(np.clip(vectors[0] @ vectors[1], 0.0, 1.0))

    async def score(self, question: str, answer: str, passages: Sequence[str]) -> dict[str, float]:
        scores = {"answer_relevancy": await self.answer_relevancy(question, answer)}
        faithful = await self.faithfulness(answer, passages)
        if faithful is not None:
            scores["faithfulness"] = faithful
        return scores

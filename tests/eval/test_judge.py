"""The optional LLM judge, with a scripted generator and the fake embedder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from eval.judge import Judge, verdict
from service.generation.base import GenerationParams, Message
from tests.fakes import FakeEmbedder


class ScriptedJudge:
    """Says yes to statements that mention 'Paris'; echoes a question otherwise."""

    model_name = "scripted"
    queue_depth = 0

    def __init__(self) -> None:
        self.prompts: list[list[Message]] = []

    async def stream(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[str]:
        self.prompts.append(messages)
        prompt = messages[-1].content
        if "Statement:" in prompt:
            statement = prompt.split("Statement:")[1].split("\n")[0]
            yield "Yes." if "Paris" in statement else "No"
        else:
            yield "What is the capital of France?"

    async def first_token_probability(self, messages: list[Message]) -> float | None:
        return None

    async def aclose(self) -> None:
        return None


def test_verdict_reads_the_first_word() -> None:
    assert verdict(" Yes, it can.") and verdict("YES")
    assert not verdict("No.") and not verdict("") and not verdict("Maybe yes")


def test_faithfulness_is_the_share_of_statements_judged_supported() -> None:
    generator = ScriptedJudge()
    judge = Judge(generator, FakeEmbedder())
    answer = "The capital is Paris. It has ten million bridges."
    scores = asyncio.run(judge.score("What is the capital of France?", answer, ["Paris..."]))
    assert scores["faithfulness"] == 0.5
    # the generated question is the asked one, so relevancy is the cosine of equal vectors
    assert scores["answer_relevancy"] > 0.99
    assert "Context:\nParis..." in generator.prompts[1][-1].content


def test_no_passages_means_no_faithfulness_score() -> None:
    judge = Judge(ScriptedJudge(), FakeEmbedder())
    assert asyncio.run(judge.faithfulness("Paris.", [])) is None

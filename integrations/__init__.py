"""Syllabus inside other frameworks: LangChain and LlamaIndex retrievers.

``integrations.client`` finds passages in an index in this process or through a
Syllabus service's ``POST /v1/search``; ``integrations.langchain`` and
``integrations.llamaindex`` wrap it in each framework's retriever.  Those two
import their framework, installed with the ``langchain`` and ``llamaindex``
extras; this package imports neither.
"""

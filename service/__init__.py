"""The Syllabus service: HTTP API, generation, grounding, and the ``syllabus`` CLI."""

"""Learner questions about corpus/ with the note that answers each, and the metadata
every retrieved passage carries."""

from __future__ import annotations

# (question, the note that answers it), as learners would ask about corpus/.
LSTM = ("What does the forget gate in an LSTM do?", "corpus/rnns-and-lstms.md")
QUANTIZATION = (
    "How much memory do the weights of a 7B model take in 4-bit?",
    "corpus/quantization.pdf",
)


HNSW = ("What does the efSearch parameter of HNSW control?", "corpus/vector-databases.md")
METADATA = {
    "source",
    "title",
    "page",
    "heading_path",
    "chunk_id",
    "score",
    "dense_score",
    "lexical_score",
    "start",
    "end",
    "url",
}

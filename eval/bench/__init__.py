"""Every benchmark, one module each, run as ``python -m eval.bench.NAME``; commands and
figures in BENCHMARKS.md, reports under ``var/bench/``.

retrieval (retrieval_report), ingestion, ingest_memory, embedding, synthetic, scale:
    retrieval quality and speed, ingestion throughput and memory, the int8 embedder
squad_answers (strategies), course_calibration:
    abstention thresholds and answering strategies
latency, load, connections, coldstart, generation, profile:
    the service's speed, under load, from a cold start; llama.cpp against bare llama.cpp
peers, peer_answers, injections:
    LangChain and LlamaIndex on the same work; instructions planted in the notes
"""

"""Benchmarks against peers and at scale."""

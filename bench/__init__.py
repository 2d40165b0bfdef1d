"""Benchmarks of the manual passes against JAX, generated from the registry."""

"""The engine: the op registry, the samples, the checks and their tolerance policy, and the runners.

It imports neither the grader (`gradref.grade`) nor the benchmarks (`bench`): they are uses of it.
"""

"""A missing function becomes a stub that fails its own checks and nothing else."""

import types

from conformance import checks, registry


def test_a_module_missing_a_backward_fails_only_that_op():
    partial = types.ModuleType("student")
    import manual_grads as mg

    partial.relu_forward = mg.relu_forward  # relu_backward is missing
    partial.tanh_forward, partial.tanh_backward = mg.tanh_forward, mg.tanh_backward
    relu = registry.SPECS["relu"].bind(partial)
    tanh = registry.SPECS["tanh"].bind(partial)
    relu_result = checks.run_check("vjp", checks.Case(relu, "small", "float64"))
    assert not relu_result.passed and "student.relu_backward is not defined" in relu_result.message
    assert checks.run_check("vjp", checks.Case(tanh, "small", "float64")).passed

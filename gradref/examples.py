"""`gradref example`: the course notes' worked examples, printed stage by stage."""

from dataclasses import dataclass

import numpy as np
from rich.markup import escape

from conformance.registry import REGISTRY
from reference import oracle

from . import output
from .console import out
from .output import UsageError


@dataclass(frozen=True)
class Example:
    inputs: dict
    stages: tuple  # (cache key, formula) in forward order
    chain_rule: tuple  # backward, one line per local gradient


EXAMPLES = {
    "add_mul_circuit": Example(
        {"x": -2.0, "y": 5.0, "z": -4.0},
        (("q", "x + y"), ("f", "q * z")),
        ("df/dz = q", "df/dq = z", "df/dx = df/dq * 1", "df/dy = df/dq * 1"),
    ),
    "sigmoid_neuron": Example(
        {"w": [2.0, -3.0, -3.0], "x": [-1.0, -2.0]},
        (("dot", "w0*x0 + w1*x1 + w2"), ("f", "sigma(dot)")),
        ("ddot = (1 - f) * f", "dx = [w0, w1] * ddot", "dw = [x0, x1, 1] * ddot"),
    ),
    "staged_expression": Example(
        {"x": 3.0, "y": -4.0},
        (
            ("sigy", "sigma(y)"),
            ("num", "x + sigy"),
            ("sigx", "sigma(x)"),
            ("xpy", "x + y"),
            ("xpysqr", "xpy^2"),
            ("den", "sigx + xpysqr"),
            ("invden", "1 / den"),
            ("f", "num * invden"),
        ),
        (
            "dnum = invden",
            "dinvden = num",
            "dden = -1/den^2 * dinvden",
            "dsigx = dden",
            "dxpysqr = dden",
            "dxpy = 2 xpy * dxpysqr",
            "dx = dxpy; dy = dxpy",
            "dx += (1 - sigx) sigx * dsigx",
            "dx += dnum",
            "dy += (1 - sigy) sigy * dnum",
        ),
    ),
    "max_gate": Example(
        {"x": [4.0, -1.0, 3.0], "y": [2.0, 5.0, 3.0]},
        (("f", "max(x, y), elementwise"),),
        ("dx = df where x > y, else 0", "dy = df where x <= y (ties go to y), else 0"),
    ),
    "matmul": Example(
        {"W": [[1.0, 2.0], [3.0, 4.0]], "X": [[1.0, -1.0], [0.5, 2.0]]},
        (("D", "W @ X"),),
        ("dW = dD @ X^T", "dX = W^T @ dD"),
    ),
}


def _plain(value):
    value = np.asarray(value, dtype=np.float64)
    return float(value) if value.ndim == 0 else value.tolist()


def run_example(name):
    """Forward and backward of a worked example with df = 1, and JAX's gradients beside them."""
    if name not in EXAMPLES:
        raise UsageError(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}")
    example, op = EXAMPLES[name], REGISTRY[name]
    args = [np.asarray(example.inputs[n], dtype=np.float64) for n in op.signature]
    out, cache = op.forward(*args)
    dout = np.ones_like(np.asarray(out))
    grads = op.backward(dout, cache)
    _, jax_grads, _ = oracle.vjp(op.reference, args, list(range(len(args))), dout)
    stages = (
        {key: _plain(cache[key]) for key, _ in example.stages}
        if isinstance(cache, dict)
        else {example.stages[-1][0]: _plain(out)}
    )
    agrees = all(np.allclose(g, j, rtol=1e-12, atol=1e-12) for g, j in zip(grads, jax_grads))
    return {
        "example": name,
        "inputs": example.inputs,
        "value": _plain(out),
        "stages": stages,
        "grads": {n: _plain(g) for n, g in zip(op.wrt, grads)},
        "jax_grads": {n: _plain(g) for n, g in zip(op.wrt, jax_grads)},
        "jax_agrees": bool(agrees),
    }


def format_example(result):
    """The example as text: inputs, forward stages with values, backward rules, gradients."""
    example = EXAMPLES[result["example"]]
    lines = [
        f"{result['example']}: {REGISTRY[result['example']].description}",
        "inputs: " + ", ".join(f"{k} = {v}" for k, v in result["inputs"].items()),
        "forward:",
    ]
    lines += [f"  {key:<7} = {formula:<24} = {_short(result['stages'][key])}" for key, formula in example.stages]
    lines.append("backward (df = 1), chain rule stage by stage:")
    lines += [f"  {rule}" for rule in example.chain_rule]
    lines.append("gradients:")
    lines += [f"  df/d{n} = {_short(v)}" for n, v in result["grads"].items()]
    verdict = "agrees" if result["jax_agrees"] else "DISAGREES"
    lines.append(
        f"jax.vjp in float64 {verdict}: " + ", ".join(f"df/d{n} = {_short(v)}" for n, v in result["jax_grads"].items())
    )
    return "\n".join(lines)


def _short(value):
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return f"{value:.6g}"


# ----- the command -----


def cmd_example(args):
    output.check_writable(args.json)
    result = run_example(args.name)
    if args.json != "-":
        out.print(escape(format_example(result)))
    if args.json:
        output.write_json(args.json, result)
    return 0 if result["jax_agrees"] else 1


def register(sub):
    """Add `example` to the subcommands."""
    example = sub.add_parser(
        "example",
        help="print a course-notes example stage by stage",
        description="Run a worked example from the course notes forward and "
        "backward, stage by stage, and compare with JAX.",
    )
    example.add_argument("name", choices=sorted(EXAMPLES), metavar="NAME", help=f"one of: {', '.join(EXAMPLES)}")
    example.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    example.set_defaults(run=cmd_example)

"""`gradref precision`: how far float32 gradients sit from float64, by matmul precision setting.

For affine, two_layer_net and matmul at a few sizes, the float32 gradients of JAX at matmul precision
"default", "high" and "highest", of the manual code on NumPy (and on CuPy on a GPU), are compared with
the float64 oracle on the same device. On a GPU with tensor cores "default" is TF32: the numbers here
are the ones to look at when GPU results drift.
"""

import numpy as np

from reference import oracle
from reference.lazy import LazyModule

from . import tolerance as policy
from .backends import backend_for, to_numpy_tree
from .checks import as_tuple, run_manual
from .registry import REGISTRY

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")


JAX_MODES = ("default", "high", "highest")

# (label, sizes): affine N x D x M, matmul n x d x m, two_layer_net N x D x H x C
SIZES = {
    "affine": [(64, 256, 128), (1024, 1024, 1024), (4096, 4096, 4096)],
    "matmul": [(256, 256, 256), (1024, 1024, 1024), (4096, 4096, 4096)],
    "two_layer_net": [(32, 100, 50, 10), (256, 1024, 1024, 100), (4096, 3072, 4096, 1000)],
}


def make_args(op_name, size, rng):
    """float32 arguments in the op's signature order, drawn in float64 first."""
    if op_name == "affine":
        n, d, m = size
        args = [rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)]
    elif op_name == "matmul":
        n, d, m = size
        args = [rng.standard_normal((n, d)), rng.standard_normal((d, m))]
    else:
        n, d, h, c = size
        args = [
            rng.standard_normal((n, d)),
            rng.integers(0, c, n),
            rng.standard_normal((d, h)) / np.sqrt(d),
            rng.standard_normal(h) * 0.1,
            rng.standard_normal((h, c)) / np.sqrt(h),
            rng.standard_normal(c) * 0.1,
            1e-3,
        ]
    return [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]


def jax_float32_grads(op, args, positions, dout, device, mode):
    """jax.vjp in float32 with x64 off at matmul precision `mode`; returns (grads, precision read back)."""
    with jax.enable_x64(False), jax.default_matmul_precision(mode), jax.default_device(oracle.jax_device(device)):
        jargs = [
            jnp.asarray(a.astype(np.int32) if a.dtype.kind == "i" else a) if isinstance(a, np.ndarray) else a
            for a in args
        ]

        def of_wrt(*diff):
            full = list(jargs)
            for position, value in zip(positions, diff):
                full[position] = value
            return op.reference(*full)

        out, pullback = jax.vjp(of_wrt, *[jargs[i] for i in positions])
        grads = pullback(jnp.asarray(dout, dtype=jnp.float32))
        read_back = str(jax.config.jax_default_matmul_precision)
        return [np.asarray(g, np.float64) for g in grads], read_back


def normwise(got, want):
    """||got - want|| / ||want|| (Frobenius)."""
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


def measure(op_name, size, device):
    """Rows for one op and size on one device: each mode's worst gradient against float64."""
    op = REGISTRY[op_name]
    rng = np.random.default_rng(0)
    args = make_args(op_name, size, rng)
    positions = [op.signature.index(n) for n in op.wrt]
    _, want, dout = oracle.vjp(
        op.reference,
        args,
        positions,
        lambda shape: rng.standard_normal(shape).astype(np.float32) if shape else np.float32(1.0),
        device,
    )
    dout = np.asarray(dout, np.float32)
    tol = policy.tolerance("float32", max(max(np.shape(a)) for a in args if np.ndim(a)), 1.0, op.tol_factor)
    candidates = {
        f"jax {mode}": (lambda m=mode: jax_float32_grads(op, args, positions, dout, device, m)) for mode in JAX_MODES
    }
    backend = backend_for(device)
    if device == "cpu" or backend.name != "numpy":
        candidates[f"manual {backend.name}"] = lambda: (
            [
                np.asarray(to_numpy_tree(g, backend), np.float64)
                for g in as_tuple(run_manual(op, args, dout, backend).grads)
            ],
            "n/a",
        )
    rows = []
    for label, compute in candidates.items():
        grads, read_back = compute()
        errors = {name: normwise(g, w) for name, g, w in zip(op.grad_names, grads, want)}
        comparisons = [policy.compare(n, g, w, tol, "float32") for n, g, w in zip(op.grad_names, grads, want)]
        worst_grad = max(errors, key=errors.get)
        rows.append(
            {
                "op": op_name,
                "size": "x".join(map(str, size)),
                "device": device,
                "impl": label,
                "matmul_precision": read_back,
                "worst_grad": worst_grad,
                "normwise_rel_error": errors[worst_grad],
                "errors": errors,
                "policy_ratio": max(c.ratio for c in comparisons),
                "passes_policy": all(c.passed for c in comparisons),
            }
        )
    return rows


def run(devices, ops=None, full=False, advance=None):
    """All rows; on the CPU the largest size only with `full` (it takes minutes on 2 cores)."""
    ops = ops or tuple(SIZES)
    plan = [
        (op_name, size, device)
        for device in devices
        for op_name in ops
        for size in SIZES[op_name]
        if full or device != "cpu" or size != SIZES[op_name][-1]
    ]
    rows = []
    for done, (op_name, size, device) in enumerate(plan, 1):
        rows.extend(measure(op_name, size, device))
        if advance:
            advance(done, len(plan), f"{op_name} {'x'.join(map(str, size))} {device}")
    return rows

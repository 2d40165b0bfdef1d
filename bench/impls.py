"""What is timed, per impl: each returns a zero-argument callable that blocks until its result is ready.

numpy      manual_grads on NumPy arrays
jax_eager  jax.vjp of the jax.numpy reference, op by op (not compiled)
jax_jit    jax.jit of that vjp
numpy_jit  the same manual_grads code under jax.jit, on jax arrays
cupy       manual_grads on CuPy arrays (GPU)
torch      manual_grads on torch tensors (the CPU, CUDA with --device gpu), through array-api-compat

Layers time the backward pass alone (forward and cache made beforehand); losses and the two-layer net
time forward + backward, which they compute together.
"""

import time
from dataclasses import dataclass
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from conformance import backends
from conformance.checks import fresh
from conformance.registry import LOSS, UPDATE
from reference import oracle

IMPLS = ("numpy", "jax_eager", "jax_jit", "numpy_jit", "cupy", "torch")
# --quick times what the project compares, the manual code against JIT-compiled JAX (and CuPy on a
# GPU); eager JAX (whose first call compiles every primitive: a third of the sweep, and it never wins)
# and numpy_jit (a compile per row) only when --impl names them.
QUICK_IMPLS = ("numpy", "jax_jit", "cupy")


@dataclass
class Prepared:
    run: Callable  # one timed call, blocking
    compile_s: Optional[float] = None  # jit rows: lower + compile, apart from the steady state


def block(tree):
    """Wait for every JAX array in `tree`."""
    return jax.block_until_ready(tree)


def _positions(op):
    return [op.signature.index(n) for n in op.wrt]


def _with_wrt(op, args):
    positions = _positions(op)
    return oracle.with_wrt(op.reference, args, positions), [args[i] for i in positions]


def _jax_args(args, device):
    dev = oracle.jax_device(device)
    return [jax.device_put(a, dev) if isinstance(a, np.ndarray) else a for a in args]


def _compile(fn, *args):
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def prepare_numpy(op, args, dout):
    if op.kind in (LOSS, UPDATE):  # the forward is the whole computation
        return Prepared(lambda: op.forward(*args))
    _, cache = op.forward(*args)
    return Prepared(lambda: op.backward(dout, cache))


def prepare_cupy(op, args, dout):
    import cupy

    backend = backends.cupy_backend()
    cargs = [fresh(a, backend) for a in args]  # arrays inside parameter dicts move too
    cdout = cupy.asarray(dout)
    stream = cupy.cuda.get_current_stream()
    inner = prepare_numpy(op, cargs, cdout).run

    def run():
        result = inner()
        stream.synchronize()
        return result

    return Prepared(run)


def prepare_torch(op, args, dout, device):
    import torch

    backend = backends.torch_backend(device)
    targs = [fresh(a, backend) for a in args]
    inner = prepare_numpy(op, targs, fresh(dout, backend)).run
    if backend.name == "torch":
        return Prepared(inner)

    def run():
        result = inner()
        torch.cuda.synchronize()
        return result

    return Prepared(run)


def prepare_jax_eager(op, args, dout, device):
    jargs = _jax_args(args, device)
    fn, wrt = _with_wrt(op, jargs)
    if op.kind == LOSS:
        value_and_grad = jax.value_and_grad(fn, argnums=tuple(range(len(wrt))))
        return Prepared(lambda: block(value_and_grad(*wrt)))
    _, pullback = jax.vjp(fn, *wrt)
    jdout = jax.device_put(dout, oracle.jax_device(device))
    return Prepared(lambda: block(pullback(jdout)))


def prepare_jax_jit(op, args, dout, device):
    jargs = _jax_args(args, device)
    positions = _positions(op)
    statics = {i: a for i, a in enumerate(jargs) if i not in positions}

    def full_args(diff):
        merged = dict(statics)
        merged.update(zip(positions, diff))
        return [merged[i] for i in range(len(jargs))]

    wrt = [jargs[i] for i in positions]
    if op.kind == LOSS:

        def step(*diff):
            return jax.value_and_grad(lambda *d: op.reference(*full_args(d)), argnums=tuple(range(len(diff))))(*diff)

        compiled, compile_s = _compile(step, *wrt)
        return Prepared(lambda: block(compiled(*wrt)), compile_s)

    def backward(jdout, *diff):
        _, pullback = jax.vjp(lambda *d: op.reference(*full_args(d)), *diff)
        return pullback(jdout)

    jdout = jax.device_put(dout, oracle.jax_device(device))
    compiled, compile_s = _compile(backward, jdout, *wrt)
    return Prepared(lambda: block(compiled(jdout, *wrt)), compile_s)


def prepare_numpy_jit(op, args, dout, device):
    jargs = _jax_args(args, device)
    if op.kind == LOSS:
        arrays = {i: a for i, a in enumerate(jargs) if isinstance(a, jax.Array)}
        scalars = {i: a for i, a in enumerate(jargs) if i not in arrays}

        def forward(*array_args):
            merged = dict(scalars)
            merged.update(zip(arrays, array_args))
            return op.forward(*[merged[i] for i in range(len(jargs))])

        values = list(arrays.values())
        compiled, compile_s = _compile(forward, *values)
        return Prepared(lambda: block(compiled(*values)), compile_s)
    _, cache = op.forward(*jargs)
    jdout = jax.device_put(dout, oracle.jax_device(device))
    # The cache may hold strings and numbers (a mode, a conv_param): they stay static, arrays are traced.
    leaves, treedef = jax.tree_util.tree_flatten(cache)
    traced = [i for i, leaf in enumerate(leaves) if isinstance(leaf, jax.Array)]

    def backward(d, *arrays):
        merged = list(leaves)
        for i, a in zip(traced, arrays):
            merged[i] = a
        return op.backward(d, jax.tree_util.tree_unflatten(treedef, merged))

    arrays = [leaves[i] for i in traced]
    compiled, compile_s = _compile(backward, jdout, *arrays)
    return Prepared(lambda: block(compiled(jdout, *arrays)), compile_s)


def available(impl, device, op=None):
    """Which impls run where: NumPy on the CPU only, CuPy on the GPU only (where installed); the manual
    code under jax.jit only for ops whose manual code is traceable."""
    if impl == "numpy_jit" and op is not None and not op.traceable:
        return False
    if impl == "numpy":
        return device == "cpu"
    if impl == "cupy":
        return device == "gpu" and backends.cupy_available()
    if impl == "torch":
        return backends.torch_available() and (device == "cpu" or _torch_cuda())
    return True


def _torch_cuda():
    import torch

    return torch.cuda.is_available()


def why_unavailable(impl, device, ops):
    """A sentence saying why `impl` cannot time any of `ops` on `device` ("" when it can)."""
    if any(available(impl, device, op) for op in ops):
        return ""
    if impl == "numpy":
        return "--impl numpy runs on the CPU only (--impl cupy times the manual code on the GPU)"
    if impl == "cupy" and device != "gpu":
        return "--impl cupy runs on the GPU only: add --device gpu"
    if impl == "cupy":
        return "--impl cupy needs CuPy, which is not installed (pip install cupy-cuda12x)"
    if impl == "numpy_jit":
        return "--impl numpy_jit needs a traceable op; the chosen ops write into their own arrays"
    if impl == "torch" and not backends.torch_available():
        return "--impl torch needs PyTorch, which is not installed: pip install 'gradref[torch]'"
    if impl == "torch":
        return "--impl torch on --device gpu needs a torch that sees a CUDA GPU"
    return f"--impl {impl} cannot run on {device}"


def prepare_update_jax(impl, op, args, device):
    """Update rules have no backward: the JAX impls time one step of the rule."""
    jargs = jax.tree_util.tree_map(
        lambda a: jax.device_put(a, oracle.jax_device(device)) if isinstance(a, np.ndarray) else a, args
    )
    if impl == "jax_eager":
        return Prepared(lambda: block(op.reference(*jargs)))
    fn = op.reference if impl == "jax_jit" else op.forward
    compiled, compile_s = _compile(fn, *jargs)
    return Prepared(lambda: block(compiled(*jargs)), compile_s)


def prepare(impl, op, args, dout, device):
    """A Prepared call of `impl` for the op on these float arrays."""
    if op.kind == UPDATE and impl not in ("numpy", "cupy", "torch"):
        return prepare_update_jax(impl, op, args, device)
    if impl == "numpy":
        return prepare_numpy(op, args, dout)
    if impl == "cupy":
        return prepare_cupy(op, args, dout)
    if impl == "torch":
        return prepare_torch(op, args, dout, device)
    return {"jax_eager": prepare_jax_eager, "jax_jit": prepare_jax_jit, "numpy_jit": prepare_numpy_jit}[impl](
        op, args, dout, device
    )


# ----- the machine's own limits, measured with each library -----


def library_of(impl):
    return {"numpy": "numpy", "cupy": "cupy", "torch": "torch"}.get(impl, "jax")


def peak_matmul(library, shape, dtype, device):
    """A plain (n, k) @ (k, m) product in `library`: the GEMM limit for that shape."""
    n, k, m = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)
    if library == "numpy":
        return lambda: np.matmul(a, b)
    if library == "cupy":
        import cupy

        ca, cb = cupy.asarray(a), cupy.asarray(b)
        return lambda: (cupy.matmul(ca, cb), cupy.cuda.get_current_stream().synchronize())
    if library == "torch":
        import torch

        backend = backends.torch_backend(device)
        ta, tb = backend.asarray(a), backend.asarray(b)
        synchronize = torch.cuda.synchronize if backend.name != "torch" else (lambda: None)
        return lambda: (torch.matmul(ta, tb), synchronize())
    ja, jb = _jax_args([a, b], device)
    compiled, _ = _compile(jnp.matmul, ja, jb)
    return lambda: block(compiled(ja, jb))


def copy_library(device):
    """Who measures the copy limit: NumPy's memcpy on the CPU, CuPy's device copy (else JAX's) on a GPU."""
    if device == "cpu":
        return "numpy"
    return "cupy" if available("cupy", device) else "jax"


def peak_copy(library, nbytes, dtype, device):
    """A plain copy of `nbytes` bytes (counted as nbytes read + nbytes written)."""
    n = max(nbytes // np.dtype(dtype).itemsize // 2, 1)
    src = np.random.default_rng(0).standard_normal(n).astype(dtype)
    if library == "numpy":
        dst = np.empty_like(src)
        return lambda: np.copyto(dst, src)
    if library == "cupy":
        import cupy

        csrc = cupy.asarray(src)
        cdst = cupy.empty_like(csrc)
        return lambda: (cupy.copyto(cdst, csrc), cupy.cuda.get_current_stream().synchronize())
    (jsrc,) = _jax_args([src], device)
    # XLA may turn a copy into an alias; a negation reads and writes the same bytes and cannot be elided.
    compiled, _ = _compile(jnp.negative, jsrc)
    return lambda: block(compiled(jsrc))

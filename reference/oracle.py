"""The oracle: jax.vjp of a reference function in float64 at matmul precision "highest".

Inputs are cast from the dtype under test to float64; results come back as NumPy float64.
The precision actually in force is read back from JAX and probed on the device, never assumed.
"""

import contextlib
import functools

import numpy as np

from reference.in_order import as_numpy_computes
from reference.lazy import LazyModule

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")


MATMUL_PRECISION = "highest"


class NoDevice(RuntimeError):
    """The requested device is not visible to JAX."""


class PrecisionError(RuntimeError):
    """The oracle would compute in less precision than it claims."""


def jax_device(device="cpu"):
    """The first JAX device of platform `device` ("cpu" or "gpu")."""
    try:
        return jax.devices(device)[0]
    except RuntimeError:
        raise NoDevice(
            f"no {device.upper()} is visible to JAX (jax.devices({device!r}) found none); "
            "install JAX's CUDA plugin with pip install -e '.[cuda]' or use --device cpu"
        ) from None


def gpu_available():
    """True when JAX sees a GPU."""
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@contextlib.contextmanager
def exact_mode(device="cpu"):
    """x64 on, matmul precision "highest", strict promotion, on `device`."""
    with (
        jax.enable_x64(True),
        jax.default_matmul_precision(MATMUL_PRECISION),
        jax.numpy_rank_promotion("raise"),
        jax.numpy_dtype_promotion("strict"),
        jax.default_device(jax_device(device)),
    ):
        yield


def precision_in_force(device="cpu"):
    """The settings JAX reports inside the oracle's context (read back, not assumed)."""
    with exact_mode(device):
        return {
            "x64": bool(jax.config.jax_enable_x64),
            "matmul_precision": str(jax.config.jax_default_matmul_precision),
            "rank_promotion": str(jax.config.jax_numpy_rank_promotion),
            "dtype_promotion": str(jax.config.jax_numpy_dtype_promotion),
            "device": str(jax_device(device)),
        }


def probe_matmuls(device="cpu", precision=MATMUL_PRECISION):
    """Run the probe products in the oracle's context; returns {name: (got, want)}.

    `precision` overrides the matmul precision, to show what the probe catches (e.g. "default").

    1 + 2**-12 survives float32 but not TF32 (10 mantissa bits) or bf16, so a reduced-precision
    float32 matmul returns 16.0 for the first product; the second checks float64 is real float64.
    """
    with exact_mode(device), jax.default_matmul_precision(precision):
        a32 = jnp.full((16, 16), 1 + 2.0**-12, dtype=jnp.float32)
        got32 = float((a32 @ jnp.ones((16, 16), jnp.float32))[0, 0])
        a64 = jnp.full((8, 8), 1 + 2.0**-40, dtype=jnp.float64)
        got64 = float((a64 @ jnp.ones((8, 8), jnp.float64))[0, 0])
    return {"float32_matmul": (got32, 16 * (1 + 2.0**-12)), "float64_matmul": (got64, 8 * (1 + 2.0**-40))}


def verify_precision(device="cpu", probes=None):
    """Raise PrecisionError unless the oracle really runs x64 at full float32/float64 precision."""
    settings = precision_in_force(device)
    if not settings["x64"]:
        raise PrecisionError(f"x64 is not enabled on {device} (jax_enable_x64 reads back False)")
    if settings["matmul_precision"] != MATMUL_PRECISION:
        raise PrecisionError(
            f"matmul precision on {device} reads back {settings['matmul_precision']!r}, not {MATMUL_PRECISION!r}"
        )
    for name, (got, want) in (probes or probe_matmuls(device)).items():
        if got != want:
            raise PrecisionError(
                f"the {name} probe on {device} returned {got!r} where full precision gives {want!r}: "
                f"jax_default_matmul_precision={settings['matmul_precision']!r} is not honoured "
                "(a reduced-precision mode such as TF32 is in force)"
            )
    return settings


def _to_jax(value, dtype=np.float64):
    if isinstance(value, (bool, int, float, str)) or value is None:  # Python scalars stay weakly typed
        return value
    if isinstance(value, dict):  # parameter dicts (bn_param, conv_param, ...): their arrays too
        return {k: _to_jax(v, dtype) for k, v in value.items()}
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(dtype)
    return _put(arr)


def _put(arr):
    """A NumPy array on the default device, as it is: jax.device_put copies it, where jnp.asarray
    compiles a program per shape and dtype to do the same (a third of a cold check's compiles)."""
    return jax.device_put(np.asarray(arr))


def with_wrt(fn, args, wrt):
    """fn as a function of the arguments at positions `wrt` alone, the others fixed to `args`."""

    def fn_of_wrt(*diff):
        moved = list(args)
        for position, value in zip(wrt, diff):
            moved[position] = value
        return fn(*moved)

    return fn_of_wrt


def _pullback(fn, args, wrt, cotangent):
    """The gradients of fn at args, for the positions in wrt, pulled back from `cotangent`."""
    return jax.vjp(with_wrt(fn, args, wrt), *[args[i] for i in wrt])[1](cotangent)


def _split(jargs):
    """(treedef, dynamic positions, static leaves) of the arguments: arrays are traced, the rest
    (Python numbers, strings such as a mode) stays part of the program."""
    leaves, treedef = jax.tree_util.tree_flatten(jargs)
    dynamic = tuple(i for i, leaf in enumerate(leaves) if isinstance(leaf, jax.Array))
    static = tuple((i, leaf) for i, leaf in enumerate(leaves) if not isinstance(leaf, jax.Array))
    return leaves, treedef, dynamic, static


@functools.lru_cache(maxsize=1024)
def _programs(fn, wrt, treedef, dynamic, static, in_order=False):
    """jax.jit'ed forward, and forward with pullback in one program, of fn for one argument
    structure: each reference is traced and compiled once per shape, not once per primitive as eager
    JAX does, and a vjp compiles one program, not a forward beside it (the forward alone is only
    traced, for its output's shape, except in XLA's own float32 run, whose loss rounds apart inside
    the vjp's program). in_order: computed in NumPy, its sums over leading axes one entry at a time,
    as NumPy takes them (reference.in_order). Every result is the same to the bit as from the two programs apart
    (bench/slack: 48,400 comparisons, none changed)."""

    def rebuild(arrays):
        leaves = [None] * (len(dynamic) + len(static))
        for i, array in zip(dynamic, arrays):
            leaves[i] = array
        for i, value in static:
            leaves[i] = value
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def value(arrays):
        return fn(*rebuild(arrays))

    def value_and_pulled(arrays, cotangent):
        # The output from its own trace of fn, not from jax.vjp's: XLA then computes it to the bit as
        # the forward alone does (vjp's primal output rounded differently in norms and losses).
        args = rebuild(arrays)
        return fn(*args), _pullback(fn, args, wrt, cotangent)

    if in_order:  # evaluated in NumPy, nothing compiled
        return as_numpy_computes(value), as_numpy_computes(value_and_pulled)
    return jax.jit(value), jax.jit(value_and_pulled)


def program(fn, args, wrt, device="cpu"):
    """The jaxpr (with its constants) of fn's value and pullback at args, in the oracle's mode: what
    the oracle computes, whatever modules, globals, closures or custom rules fn draws on."""
    with exact_mode(device):
        jargs = [_to_jax(a) for a in args]
        of_wrt = with_wrt(fn, jargs, wrt)
        primals = [jargs[i] for i in wrt]

        def value_and_pullback(primals, cotangent):
            out, pull = jax.vjp(of_wrt, *primals)
            return out, pull(cotangent)

        shape = jax.eval_shape(of_wrt, *primals)
        return jax.make_jaxpr(value_and_pullback)(primals, jnp.zeros(shape.shape, shape.dtype))


def vjp(fn, args, wrt, cotangent, device="cpu", dtype="float64", in_order=False):
    """(out, grads, cotangent) of fn(*args) for the argument positions in `wrt`, as NumPy float64.

    `args` hold NumPy arrays (any float dtype: cast to float64), integer arrays and Python scalars.
    `cotangent` is an array, or a function of the output's shape that makes one. dtype="float32"
    computes in float32 instead (the tolerance's estimate of what correct float32 code reaches;
    never the oracle's answer); in_order=True takes its sums over leading axes one entry at a time, as
    NumPy does (reference.in_order), or XLA's way where a user's reference holds a primitive the
    interpreter cannot re-bind.
    """
    if in_order:
        try:
            return _vjp(fn, args, wrt, cotangent, device, dtype, True)
        except Exception:  # noqa: BLE001 - XLA's sums then; a fault of the reference itself shows again below
            pass
    return _vjp(fn, args, wrt, cotangent, device, dtype, False)


def _vjp(fn, args, wrt, cotangent, device, dtype, in_order):
    low = np.dtype(dtype) != np.float64
    promotion = jax.numpy_dtype_promotion("standard") if low else contextlib.nullcontext()
    with exact_mode(device), promotion:
        jargs = [_to_jax(a, np.dtype(dtype)) for a in args]
        leaves, treedef, dynamic, static = _split(jargs)
        try:
            forward, both = _programs(fn, tuple(wrt), treedef, dynamic, static, in_order)
        except TypeError:  # an unhashable static argument: no program to keep, run eagerly (XLA's sums)
            return _eager_vjp(fn, jargs, wrt, cotangent, dtype)
        arrays = [leaves[i] for i in dynamic]
        if not wrt:  # an update rule: its value alone
            out = np.asarray(forward(arrays), np.float64)
            return out, (), cotangent(out.shape) if callable(cotangent) else cotangent
        alone = low and not in_order  # XLA's float32 loss rounds apart inside the vjp's program (measured)
        out = forward(arrays) if alone else None
        if callable(cotangent):
            cotangent = cotangent(out.shape if alone else forward.eval_shape(arrays).shape)
        jcot = _put(np.asarray(cotangent, np.float64).astype(dtype))
        out_with_grads, grads = both(arrays, jcot)
        out = out_with_grads if out is None else out
        return np.asarray(out, np.float64), tuple(np.asarray(g, np.float64) for g in grads), cotangent


def _eager_vjp(fn, jargs, wrt, cotangent, dtype):
    """_vjp without a compiled program (eager JAX, XLA's sums)."""
    out = np.asarray(fn(*jargs), np.float64)
    if callable(cotangent):
        cotangent = cotangent(out.shape)
    if not wrt:
        return out, (), cotangent
    jcot = _put(np.asarray(cotangent, np.float64).astype(dtype))
    return out, tuple(np.asarray(g, np.float64) for g in _pullback(fn, jargs, wrt, jcot)), cotangent


def vjp_of_vjp(fn, args, wrt, cotangent, direction, device="cpu"):
    """The second derivative of fn, as gradgradcheck takes it: the VJP of g(x, dout) = vjp(fn, x)(dout)
    at the cotangent `direction` (one array per gradient). Returns a tuple of NumPy float64 arrays:
    d<direction, g>/dx for each x in `wrt`, then d<direction, g>/d(dout)."""
    with exact_mode(device):
        jargs = [_to_jax(a) for a in args]

        def grads_of(*diff_and_dout):
            *diff, dout = diff_and_dout
            return jax.vjp(with_wrt(fn, jargs, wrt), *diff)[1](dout)

        @jax.jit
        def second(primals, direction):
            return jax.vjp(grads_of, *primals)[1](direction)

        primals = [jargs[i] for i in wrt] + [_put(np.asarray(cotangent, np.float64))]
        result = second(primals, tuple(_put(np.asarray(d, np.float64)) for d in direction))
        return tuple(np.asarray(s, np.float64) for s in result)

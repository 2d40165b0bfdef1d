"""Sample inputs: named draws per op, kept clear of kinks, in the course's sizes and larger.

Every sample is drawn in float64 from a seeded generator and then cast to the dtype under test,
so the manual pass and the oracle see exactly the same numbers.
"""

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

KINK_MARGIN = 1e-4  # relative to the RMS of the kink quantities
MAX_REDRAWS = 200


@dataclass(frozen=True)
class SampleSpec:
    """How to draw one named sample: `draw(rng) -> {arg name: value}`."""

    name: str
    draw: Callable
    small: bool = False  # small enough for finite differences
    margin: float = KINK_MARGIN
    stress: bool = False  # extreme values: a student's code that fails here gets a warning, not a failure
    convention: str = ""  # a course year's other convention (e.g. gamma (C,)): graded if the code follows it
    graded: bool = True  # False: pins gradref's own code tighter than the course judges students
    # (exact kinks, a large eps, x far from 0); `gradref grade` leaves it out
    at_kinks: bool = False  # values placed exactly on kinks (relu at 0, ties): the conventions are checked
    # against the oracle's, and no finite differences are taken across them


@dataclass
class Sample:
    name: str
    args: dict
    small: bool = False
    stress: bool = False


# ----- seeds: every draw is named by a label and a seed (0: the registry's own draws) -----


def seeded(label, seed=0):
    """The text a generator for `label` is seeded from (it names the draw in the oracle's cache)."""
    return label if seed == 0 else f"seed {seed}: {label}"


def rng_for(label, seed=0):
    """A generator seeded by `label` and `seed`: the same label and seed, the same draws."""
    return np.random.default_rng(zlib.crc32(seeded(label, seed).encode()))


# ----- drawing helpers -----


def normal(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def uniform(rng, *shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, shape)


def away_from_zero(values, margin=0.1):
    """Shift every value at least `margin` away from 0, keeping its sign."""
    sign = np.where(values >= 0, 1.0, -1.0)
    return sign * (np.abs(values) + margin)


def labels(rng, n, c):
    return rng.integers(0, c, size=n)


# ----- casting and layouts -----


def cast(args, dtype):
    """Float arrays to `dtype` (inside parameter dicts too); integer arrays and scalars unchanged."""
    out = {}
    for name, value in args.items():
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
            value = value.astype(dtype)
        elif isinstance(value, dict):
            value = cast(value, dtype)
        out[name] = value
    return out


def _each_array(transform):
    def apply(a):
        if isinstance(a, dict):
            return {k: apply(v) for k, v in a.items()}
        return transform(a)

    return apply


def fortran_order(a):
    return np.asfortranarray(a) if isinstance(a, np.ndarray) and a.ndim >= 2 else a


def strided(a):
    """The same values as a non-contiguous view (every other element of a larger buffer)."""
    if not isinstance(a, np.ndarray) or a.ndim == 0:
        return a
    buffer = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    buffer[..., ::2] = a
    return buffer[..., ::2]


LAYOUTS = {"fortran": _each_array(fortran_order), "strided": _each_array(strided)}


def with_layout(sample, layout):
    """The sample with every array argument in another memory layout."""
    transform = LAYOUTS[layout]
    return Sample(
        f"{sample.name}/{layout}", {k: transform(v) for k, v in sample.args.items()}, sample.small, sample.stress
    )


def map_floats(value, fn):
    """fn(array) for a float array, and for the float arrays inside a parameter dict; anything else
    (integer labels, scalars, strings) unchanged."""
    if isinstance(value, dict):
        return {name: map_floats(item, fn) for name, item in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return fn(value)
    return value


def cast_floats(value, dtype):
    """A float array in `dtype`, and the float arrays inside a parameter dict; anything else unchanged."""
    return map_floats(value, lambda array: array.astype(dtype))


def as_float64(args):
    """Float arrays as float64 (inside parameter dicts too); integer arrays and scalars unchanged."""
    return cast_floats(args, np.float64)


def clear_of_kinks(spec, kinks, rng, dtype):
    """Draw `spec` (cast to dtype) until every kink quantity is at least margin * RMS from 0
    (a sample meant to sit on the kinks is drawn once, as it is)."""
    for _ in range(MAX_REDRAWS):
        args = cast(spec.draw(rng), dtype)
        if kinks is None or spec.at_kinks:
            return args
        k = np.asarray(kinks(**as_float64(args)), dtype=np.float64)
        scale = float(np.sqrt(np.mean(k * k))) if k.size else 0.0
        if k.size == 0 or np.min(np.abs(k)) > spec.margin * scale:
            return args
    raise RuntimeError(f"sample {spec.name!r}: no draw clear of kinks in {MAX_REDRAWS} tries")

"""What a failing comparison leaves for the HTML reports: a fingerprint of the wrong values (students
whose outputs agree to 1e-9 share it) and a small grid of |got - want| for a heat map."""

import hashlib

import numpy as np

AGREE = 9  # decimal places of got / max|want| that two wrong outputs must share to count as one
MAX_CELLS = 48  # a heat map's largest side; larger arrays are pooled by their maximum


def fingerprint(got, want):
    """A short digest of got, relative to want's scale and rounded to AGREE places; "" without values."""
    try:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    except (TypeError, ValueError):
        return ""
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    with np.errstate(all="ignore"):
        rounded = np.round(got / scale, AGREE) + 0.0  # + 0.0 makes -0.0 and 0.0 one value
    digest = hashlib.sha256(str(got.shape).encode() + np.nan_to_num(rounded, nan=7e300).tobytes())
    return digest.hexdigest()[:16]


def _as_grid(diff):
    """|got - want| as 2-D, in the course's layouts: (N, D) as is; (N, T, D) -> (T, D) and
    (N, C, H, W) -> (H, W), the largest over the leading axes (where in a sample or image it is wrong)."""
    if diff.ndim == 0:
        return diff.reshape(1, 1), ("", "")
    if diff.ndim == 1:
        return diff.reshape(1, -1), ("", "entry")
    if diff.ndim == 2:
        return diff, ("row", "column")
    if diff.ndim == 3:
        return diff.max(axis=0), ("time step", "feature")
    return diff.reshape(-1, *diff.shape[-2:]).max(axis=0), ("row", "column")


def _pooled(grid):
    rows, cols = (max(1, -(-n // MAX_CELLS)) for n in grid.shape)
    if rows == cols == 1:
        return grid
    padded = np.pad(grid, ((0, -grid.shape[0] % rows), (0, -grid.shape[1] % cols)))
    return padded.reshape(padded.shape[0] // rows, rows, padded.shape[1] // cols, cols).max(axis=(1, 3))


def heatmap(got, want):
    """{"shape", "axes", "grid"} of |got - want| relative to max|want|, or None when the shapes differ."""
    try:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    except (TypeError, ValueError):
        return None
    if got.shape != want.shape or got.size == 0:
        return None
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    with np.errstate(all="ignore"):
        diff = np.nan_to_num(np.abs(got - want) / scale, nan=np.inf, posinf=np.inf)
    grid, axes = _as_grid(np.minimum(diff, 1e300))
    return {"shape": list(got.shape), "axes": list(axes), "grid": np.round(_pooled(grid), 6).tolist()}

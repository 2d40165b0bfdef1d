"""The caches the course documents, so that a backward is graded even where its own forward failed.

CS231n's starter code fixes what these forwards return as their cache (`cache = (x, w, b)` in
affine_forward, `cache = x` in relu_forward, ...); a backward written for the course reads exactly
that. Where a student's forward fails (or is still a stub), the grader builds the cache from the
sample and the reference forward's output and hands it to the student's backward, saying so. Other
ops' caches are the student's own design and cannot be built for them.
"""

import numpy as np


def _affine(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b


COURSE_CACHES = {
    "affine": ("(x, w, b)", lambda a, out: (a["x"], a["w"], a["b"])),
    "relu": ("x", lambda a, out: a["x"]),
    "affine_relu": (
        "((x, w, b), the affine output)",
        lambda a, out: ((a["x"], a["w"], a["b"]), _affine(a["x"], a["w"], a["b"]).astype(a["x"].dtype)),
    ),
    "conv": ("(x, w, b, conv_param)", lambda a, out: (a["x"], a["w"], a["b"], a["conv_param"])),
    "max_pool": ("(x, pool_param)", lambda a, out: (a["x"], a["pool_param"])),
    "temporal_affine": ("(x, w, b, out)", lambda a, out: (a["x"], a["w"], a["b"], np.asarray(out, a["x"].dtype))),
}


def documented(op_name):
    """Whether the course documents this op's cache."""
    return op_name in COURSE_CACHES


def course_cache(op_name, args, out):
    """(how the course writes the cache, the cache) for one sample's arguments and the reference output."""
    layout, build = COURSE_CACHES[op_name]
    return layout, build(args, out)

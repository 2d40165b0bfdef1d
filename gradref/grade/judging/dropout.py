"""Dropout as the course grades it: the mask is the student's own draw.

The notebook seeds the generator and checks statistics (the fraction of units kept, the mean of the
output), so any mask drawn with the right probability is correct. Here: every output is 0 or x
scaled by 1/keep; the fraction kept is the keep probability within 5 standard deviations; and the
backward passes dout through the student's OWN mask, dx = dout * out / x, so that a forward that
went wrong is not penalised twice. `p` is the keep probability in CS231n since 2017, the drop
probability in its 2016 handout and in EECS 498; the teacher's setting (`--dropout-p`, the
assignment's) decides, else the course's; code that follows the other one is told so.
"""

import math

import numpy as np

KEEP, DROP = "keep", "drop"


def keep_probability(p, convention):
    return p if convention == KEEP else 1.0 - p


def _follows(x, out, keep):
    """(fraction kept is plausible, kept units are scaled by 1/keep) for one reading of p."""
    kept = out != 0
    sd = np.sqrt(keep * (1 - keep) / x.size)
    plausible = abs(kept.mean() - keep) <= max(5 * sd, 1.5 / x.size)
    scaled = bool(np.allclose(out[kept], x[kept] / keep, rtol=1e-5, atol=0)) if kept.any() else True
    return plausible, scaled


def _distinguishable(units, p):
    """Whether the fraction kept on this many units tells keep probability p from 1 - p."""
    sd = np.sqrt(p * (1 - p) / units)
    return abs(p - (1 - p)) > 10 * sd


def _drawn_from_normal(kept, p, convention):
    """Whether the fraction kept is what `np.random.randn(...) < p` (or `> p`) keeps, and not p's."""
    phi = 0.5 * (1 + math.erf(p / math.sqrt(2)))
    fraction = phi if convention == KEEP else 1 - phi
    sd = np.sqrt(fraction * (1 - fraction) / kept.size)
    return abs(kept.mean() - fraction) <= 5 * sd and abs(fraction - keep_probability(p, convention)) > 10 * sd


def own_scale(x, out):
    """The student's mask as drawn and scaled by their forward: out / x where kept, 0 where dropped."""
    if np.shape(out) != np.shape(x):
        return None
    kept = out != 0
    return np.where(kept, out / np.where(kept, x, 1.0), 0.0)


def check_forward(entry, x, out, p, convention):
    """Checks on a train-mode output against the statistics the notebook looks at."""
    convention = convention or KEEP  # a trial run, before the grader has read what p means
    keep = keep_probability(p, convention)
    if np.shape(out) != np.shape(x):
        entry.check("out", False, f"out.shape={np.shape(out)}, want {np.shape(x)}")
        return
    plausible, scaled = _follows(x, out, keep)
    other = KEEP if convention == DROP else DROP
    other_plausible, other_scaled = _follows(x, out, keep_probability(p, other))
    # Named only where the fraction kept tells the two readings apart: on a few units, a mask that keeps
    # the right fraction and scales by 1/(1 - p) is a wrong scale, not the other convention.
    if not (plausible and scaled) and other_plausible and other_scaled and _distinguishable(x.size, p):
        words = {
            KEEP: "p is the probability of keeping a unit (CS231n since 2017)",
            DROP: "p is the probability of dropping a unit (CS231n in 2016, EECS 498)",
        }
        entry.check(
            "mask convention",
            False,
            f"the code follows the other convention: {words[other]}; this grading uses "
            f"'{words[convention]}' (--dropout-p {other} grades the other)",
        )
        entry.hints.append(f"the code follows the other convention of p: {words[other]}.")
        return
    kept = out != 0
    if plausible and not scaled and kept.any() and np.allclose(out[kept], x[kept], rtol=1e-12, atol=0):
        entry.hints.append(
            "train mode keeps units unscaled (out = x where kept): inverted dropout divides them by the keep "
            "probability, so that test mode can return x unchanged."
        )
        entry.mistakes.append("not_inverted")
    if not plausible and _drawn_from_normal(kept, p, convention):
        entry.hints.append(
            "the mask is drawn with np.random.randn (normal: it keeps a fraction Phi(p), not p); "
            "draw it with np.random.rand (uniform on [0, 1))."
        )
        entry.mistakes.append("mask_randn")
    entry.check(
        "fraction kept",
        plausible,
        f"kept {kept.mean():.3f} of the units, want about {keep:.3f} (p={p}, {convention} probability)",
    )
    entry.check(
        "kept units scaled by 1/keep",
        scaled,
        "kept units must be x / keep (inverted dropout scales at train time, so test time is x)",
    )


def expected_dx(dout, scale):
    """The backward through the student's own mask."""
    return dout * scale

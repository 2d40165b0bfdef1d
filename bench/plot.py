"""A log-log plot of time against size, one panel per op, one line per impl and device."""

import math
import os
import tempfile


def plot(results, path):
    """Write the plot as PNG to `path` (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(r["op"] for r in results))
    cols = min(3, len(ops))
    rows = math.ceil(len(ops) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax, op in zip(axes.flat, ops):
        mine = [r for r in results if r["op"] == op]
        for key in dict.fromkeys((r["impl"], r["device"], r["dtype"]) for r in mine):
            line = sorted(
                (r for r in mine if (r["impl"], r["device"], r["dtype"]) == key),
                key=lambda r: r["flops"] if r["bound"] == "gemm" else r["bytes"],
            )
            xs = [r["flops"] if r["bound"] == "gemm" else r["bytes"] for r in line]
            ax.loglog(xs, [r["median_s"] for r in line], marker="o", label=" ".join(key))
        ax.set_title(op)
        ax.set_xlabel("flops" if mine[0]["bound"] == "gemm" else "bytes moved")
        ax.set_ylabel("median time (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(ops) :]:
        ax.set_visible(False)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)

"""Plain words for plain situations: Python 2 syntax and NumPy 2 removals, named with the fix."""

import importlib.util
import re

from ..untrusted import protocol as P

# (pattern in the error message, what to say): NumPy 2.x removed these aliases and keywords.
NUMPY2 = (
    (r"numpy' has no attribute 'product'", "np.product was removed in NumPy 2: use np.prod"),
    (r"numpy' has no attribute 'cumproduct'", "np.cumproduct was removed in NumPy 2: use np.cumprod"),
    (r"numpy' has no attribute 'alltrue'", "np.alltrue was removed in NumPy 2: use np.all"),
    (r"numpy' has no attribute 'sometrue'", "np.sometrue was removed in NumPy 2: use np.any"),
    (r"numpy' has no attribute 'asscalar'", "np.asscalar was removed: use x.item()"),
    (r"numpy' has no attribute 'float'", "np.float was removed: use float (or np.float64)"),
    (r"numpy' has no attribute 'int'", "np.int was removed: use int (or np.int64)"),
    (r"numpy' has no attribute 'bool'", "np.bool was removed in NumPy 1.24 and back as np.bool_: use bool"),
    (r"numpy' has no attribute 'object'", "np.object was removed: use object"),
    (r"numpy' has no attribute 'NaN'", "np.NaN was removed in NumPy 2: use np.nan"),
    (r"numpy' has no attribute 'Inf'", "np.Inf was removed in NumPy 2: use np.inf"),
    (r"numpy' has no attribute 'float_'", "np.float_ was removed in NumPy 2: use np.float64"),
    (
        r"unexpected keyword argument 'newshape'|'newshape' is an invalid keyword",
        "reshape(newshape=...) was removed in NumPy 2: pass the shape by position, x.reshape(shape)",
    ),
    (r"numpy' has no attribute 'in1d'", "np.in1d was removed: use np.isin"),
    (r"numpy' has no attribute 'row_stack'", "np.row_stack was removed: use np.vstack"),
)

PYTHON2 = (
    (r"Missing parentheses in call to 'print'", "Python 2 print statement: write print(...) with parentheses"),
    (r"Missing parentheses in call to 'exec'", "Python 2 exec statement: write exec(...)"),
    (r"multiple exception types must be parenthesized", "Python 2 'except X, e:': write 'except X as e:'"),
    (r"invalid decimal literal|leading zeros in decimal integer", ""),
)


# (pattern in the message, pattern in the line it names, mistake key, what to say): exceptions whose
# line shows a mistake students really make. The worker names the line: "(line 12 of layers.py: ...)".
KNOWN_LINES = (
    (
        r"",
        r"\[[^\]]*\bpad\w*\s*:\s*-\s*\w*pad\b",
        "pad_slice",
        "x[pad:-pad] is empty when pad = 0: slice to pad + H instead (x_padded[:, :, pad:pad + H, pad:pad + W])",
    ),
    (
        r"'float' object cannot be interpreted as an integer|only integers, slices|must be integer",
        r"",
        "python2_division",
        "a size or an index is a float: Python 3's / divides exactly; compute output sizes with // "
        "(1 + (H + 2 * pad - HH) // stride)",
    ),
    (
        r"got Float for the destination and Double|expected scalar type (Float|Double) but found (Double|Float)"
        r"|Found dtype (Float|Double) but expected (Double|Float)",
        r"",
        "tensor_dtype",
        "a tensor made without dtype= (torch.zeros(shape)) is float32 while the inputs are float64: make new "
        "tensors with dtype=x.dtype, device=x.device",
    ),
    (
        r"could not be broadcast together with shapes \((\d+),\d+\) \(\1,\)",
        r"axis\s*=\s*1|dim\s*=\s*1",
        "keepdims_missing",
        "a sum, mean or maximum over axis 1 without keepdims=True has shape (N,), which lines up with the "
        "columns, not the rows: keep the axis (x.sum(axis=1, keepdims=True), shape (N, 1)) or index it [:, None]",
    ),
    (
        r"torch\.return_types\.(max|min)\b",
        r"",
        "torch_max_pair",
        "torch.max(x, dim=d) (and torch.min) returns a pair (values, indices), not a tensor: take its .values "
        "(x.max(dim=1, keepdim=True).values), or use x.amax(dim=1, keepdim=True)",
    ),
    (
        r"view size is not compatible with input tensor's size and stride",
        r"\.view\(",
        "view_not_contiguous",
        "x.view(...) needs x's entries laid out in order, and this x is a transposed or sliced view: use "
        "x.reshape(...), which copies where it must",
    ),
    (
        r"Torch not compiled with CUDA|Found no NVIDIA driver|No CUDA GPUs are available|CUDA driver",
        r"",
        "cuda_call",
        "the code moves tensors to a GPU (.cuda() or .to('cuda')) on a machine without one: make new tensors "
        "with device=x.device instead (the course says not to call .to() or .cuda() in an implementation)",
    ),
)


def mistake_in_error(message):
    """(mistake key, sentence) when the line an exception names shows a known mistake, else None."""
    line = re.search(r"\(line \d+ of [^:]*: (.*?)\)(?: \(called from line \d+ of [^:]*: .*\))?\s*$", message or "")
    for in_message, in_line, key, words in KNOWN_LINES:
        if line and re.search(in_line, line.group(1)) and re.search(in_message, message):
            return key, words
    return None


# A course-environment package's stand-in, used (worker.Missing): "scipy.special.expit was used, but scipy
# is not installed where the grader runs the code".
STAND_IN_USED = re.compile(rf"([\w.]+) was used, but (\w+) {re.escape(P.NOT_INSTALLED)}")
# What NumPy alone writes for what students take from SciPy.
IN_NUMPY = {
    "scipy.special.expit": "the sigmoid is 1 / (1 + np.exp(-x))",
    "scipy.special.logsumexp": "log-sum-exp is m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)) with "
    "m = x.max(axis=1, keepdims=True)",
    "scipy.special.softmax": "softmax is e / e.sum(axis=1, keepdims=True) with e = np.exp(x - x.max(axis=1, "
    "keepdims=True))",
    "scipy.special.log_softmax": "log-softmax is x - m - np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)) with "
    "m = x.max(axis=1, keepdims=True)",
}


# Packages that show things (plots, progress bars, notebook displays): never what a graded function needs.
SHOWING = frozenset({"matplotlib", "seaborn", "IPython", "tqdm", "PIL", "imageio", "cv2"})


def _not_open_to_submissions(message):
    """Where the package behind a used stand-in is installed on this machine after all (scipy comes with
    JAX), say that it is not open to submissions, how a teacher opens it, and the NumPy way; else None."""
    used = STAND_IN_USED.search(message or "")
    if used is None or importlib.util.find_spec(used.group(2)) is None:
        return None
    name, top = used.groups()
    said = message.replace(used.group(0), f"{name} was used, but {top} is not open to submissions here")
    if top in SHOWING:
        return f"{said} — plotting and printing progress do not belong in a graded function: leave it out"
    numpy_way = IN_NUMPY.get(name, "write it with NumPy")
    return f"{said} — a teacher can allow it (gradref grade --allow-imports {top}); otherwise {numpy_way}"


def explain_error(message):
    """The error message, followed by the fix where it is a known NumPy 2 removal or a known mistake."""
    for pattern, fix in NUMPY2:
        if re.search(pattern, message or ""):
            return f"{message} — {fix}"
    known = mistake_in_error(message)
    if known:
        return f"{message} — {known[1]}"
    opened = _not_open_to_submissions(message)
    if opened:
        return opened
    if "xrange" in (message or "") and "is not defined" in message:
        return f"{message} — xrange is Python 2: use range"
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", message or "")
    if missing:  # the libraries a course uses get a stand-in: this is mostly a file of the student's own
        module = missing.group(1)
        file = f"{module.split('.')[-1]}.py"
        if module.split(".")[0] in ("cs231n", "common"):  # the course's own package: the student's files
            return f"{message} — {module} is not in the submission: hand in {file} with it"
        return (
            f"{message} — {module} is neither in the submission nor installed where it is graded: if it is a "
            f"file of yours, hand in {file} with it; if it is a library, leave the import out"
        )
    return message


def explain_syntax_error(path, error):
    """One sentence for a file that does not parse: the line, and the fix for Python 2 syntax."""
    where = f" on line {error.lineno}" if error.lineno else ""  # a NUL byte has no line
    sentence = f"{path} has a syntax error{where}: {error.msg}"
    for pattern, fix in PYTHON2:
        if fix and re.search(pattern, error.msg or ""):
            return f"{sentence} ({fix}; the grader runs Python 3)"
    text = (error.text or "").strip()
    if re.match(r"^print\s+[^(\s=]", text):
        return f"{sentence} (Python 2 print statement: write print(...) with parentheses; the grader runs Python 3)"
    return sentence


# NumPy's idioms in a diagnosis's "Look at" line, as a torch submission writes them (EECS 498).
TORCH_WORDS = (
    # Where torch's defaults differ from NumPy's: var() divides by N - 1, and max(dim) returns (values, indices).
    (r" \(np\.var's default\)", "; torch's var() divides by N - 1 unless given unbiased=False"),
    (r"\.var\(axis=(\d+|\([\d, ]+\))\)", r".var(dim=\1, unbiased=False)"),
    (r"\.max\(axis=", ".amax(axis="),
    (r"np\.maximum\(0(?:\.0)?, ([^()]+)\)", r"torch.clamp(\1, min=0)"),
    (r"\.transpose\((\d+(?:, \d+)+)\)", r".permute(\1)"),
    (r"keepdims=True", "keepdim=True"),
    (r"\baxis=", "dim="),
    (r"\.dot\(", ".mm("),
    (r"\.astype\(float\)", ".to(x.dtype)"),
    (r"\bnp\.", "torch."),
)


def in_torch_words(text):
    """A diagnosis written with NumPy's idioms, in torch's: np.sum(x, axis=0) -> torch.sum(x, dim=0),
    x.transpose(0, 2, 3, 1) -> x.permute(0, 2, 3, 1), np.maximum(0, x) -> torch.clamp(x, min=0)
    (what EECS 498's students write)."""
    for pattern, replacement in TORCH_WORDS:
        text = re.sub(pattern, replacement, text)
    return text

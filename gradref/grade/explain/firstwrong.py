"""The first wrong value: where in a failing function's own code its values leave every correct derivation.

The worker records the function's array locals line by line on a failing sample (a loop's once it is
left); the reference's own computation gives every correct intermediate value (the outputs of the
primitives of its forward and of its vjp). A recorded value is right when it is one of them, up to a
reshape, a transpose or a broadcast. The line pointed at is the first whose value is wrong while every
value it is computed from is right, and, where the relation is simple, the sentence says how it is
wrong: a constant factor or sign, a term too many or too few that is itself a correct value, a factor
that is a correct value, a correct value summed over an axis. The last line, whose wrong value is what
the function returns, is pointed at only where all its inputs are right; anything less certain points
at nothing. All of it runs in the grader's process on float64 arrays.
"""

import ast
import functools
import itertools
from dataclasses import dataclass

import numpy as np

from .diagnose import close

TINY = 1e-12


@dataclass(frozen=True)
class Record:
    """What a stretch of the function's lines (start up to end; end 0: it returned) left in `name`."""

    start: int
    end: int
    name: str
    value: np.ndarray


@dataclass(frozen=True)
class Statement:
    line: int
    last: int
    stores: frozenset
    loads: frozenset
    in_loop: bool
    indexed: bool = False  # it writes entries into an array (out[:, :, i, j] = ...), not a whole value


@dataclass(frozen=True)
class Finding:
    line: int
    code: str
    name: str
    sentence: str
    file: str = ""  # the file the line is in, where not the failing function's own (its forward's)


@functools.lru_cache(maxsize=8)
def parsed(text):
    """ast.parse(text), once per text: grading a file reads its tree again for each failing function
    (its diagnosis, the line to point at, the forward's cache), which in a file of a whole assignment
    cost most of the grading time. The tree is shared: no caller may change it."""
    return ast.parse(text)


def function_node(text, name):
    """The ast node of `name` in `text` (a top-level function or a Class.method), or None."""
    try:
        tree = parsed(text)
    except (SyntaxError, ValueError):
        return None
    owner, _, method = name.rpartition(".")
    body = tree.body
    if owner:
        cls = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == owner), None)
        body = cls.body if cls is not None else ()
    return next((n for n in body if isinstance(n, ast.FunctionDef) and n.name == (method or name)), None)


def returned_names(node):
    """The names each of the function's return statements hands back, by position (None for a
    position that is no plain name): `return dx, dw, db`, `return next_w, config`."""
    return [
        [p.id if isinstance(p, ast.Name) else None for p in _returned(inner)]
        for inner in ast.walk(node)
        if isinstance(inner, ast.Return) and inner.value is not None
    ]


def worked_on_in_return(node):
    """The names a return statement reads inside an expression it hands back (`return -(dx / n)`):
    where no return hands one back as it is, what it holds is not yet what the function returns."""
    return {
        inner.id
        for statement in ast.walk(node)
        if isinstance(statement, ast.Return) and statement.value is not None
        for part in _returned(statement)
        if not isinstance(part, ast.Name)
        for inner in ast.walk(part)
        if isinstance(inner, ast.Name)
    }


def _returned(statement):
    """The expressions a return statement hands back, by position."""
    value = statement.value
    return value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]


def loop_lines(node):
    """The lines of the function's loops (their headers included): recorded once the loop is left."""
    lines = set()
    for inner in ast.walk(node):
        if isinstance(inner, (ast.For, ast.While, ast.AsyncFor)):
            lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return sorted(lines)


def statements(node):
    """Every simple statement of the function (inside compound ones too), in source order."""
    loops = set(loop_lines(node))
    found = []
    for inner in ast.walk(node):
        if not isinstance(inner, ast.stmt) or isinstance(inner, (ast.FunctionDef, ast.ClassDef)):
            continue
        if hasattr(inner, "body"):  # a compound statement: its header's names only
            continue
        stores, loads = set(), set()
        keyed = {id(p.value) for p in ast.walk(inner) if _keyed_name(p)}  # config of config['cache']
        for part in ast.walk(inner):
            if _keyed_get(part):  # config.get('velocity', ...): the entry's value, as recorded
                loads.add(f"{part.func.value.id}[{part.args[0].value!r}]")
                keyed.add(id(part.func.value))
            elif _keyed_name(part):  # a dict entry under a string key: a value of its own, as recorded
                (stores if isinstance(part.ctx, ast.Store) else loads).add(f"{part.value.id}[{part.slice.value!r}]")
            elif isinstance(part, ast.Name) and id(part) not in keyed:
                (stores if isinstance(part.ctx, ast.Store) else loads).add(part.id)
            elif isinstance(part, (ast.Subscript, ast.Attribute)) and isinstance(part.ctx, ast.Store):
                base = part.value
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name):
                    stores.add(base.id)
        if isinstance(inner, ast.AugAssign) and isinstance(inner.target, ast.Name):
            stores.add(inner.target.id)
        if isinstance(inner, ast.Return) and inner.value is not None:  # what it hands back unnamed
            stores.update(f"return[{i}]" for i, part in enumerate(_returned(inner)) if not isinstance(part, ast.Name))
        found.append(
            Statement(
                inner.lineno,
                inner.end_lineno or inner.lineno,
                frozenset(stores),
                frozenset(loads),
                inner.lineno in loops,
                any(isinstance(t, ast.Subscript) for t in _targets(inner)),
            )
        )
    return sorted(found, key=lambda s: s.line)


def _targets(statement):
    """What an assignment writes to (none for other statements)."""
    if isinstance(statement, ast.Assign):
        return [t for target in statement.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
    return [statement.target] if isinstance(statement, (ast.AugAssign, ast.AnnAssign)) else []


def _keyed_get(node):
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _keyed_name(node):
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    )


def _constant(value):
    """An array of more than one entry, all of them the same number other than 0 (ones, a mask of all
    True): it matches a correct value as r / r or as any number broadcast, which says nothing. Zeros are
    left alone: an accumulator starts at them (dW = np.zeros_like(W))."""
    return value.size > 1 and bool(value.ravel()[0] != 0) and bool(np.all(value.ravel() == value.ravel()[0]))


def _the_same_everywhere(value):
    """ "it is 1 in every entry" of a constant array, True and False as such."""
    first = value.ravel()[0]
    said = str(bool(first)) if value.dtype == bool else f"{float(first):.6g}"
    return f"it is {said} in every entry"


class Correct:
    """The reference's values, indexed for "is this array one of them, up to a reshape, a transpose
    or a broadcast" (holds), or a constant multiple, product or quotient of them (staged code keeps
    such values of its own: 1 / std, dxhat * 1 / std, N * dscores)."""

    def __init__(self, values):
        values = [v for v in values if v.size > 0 and np.all(np.isfinite(v))]
        # Probabilities where the reference keeps their logarithms (log_softmax): code computes them.
        values += [np.exp(v) for v in values if v.size > 1 and np.max(v) <= 0 and np.min(v) > -700]
        self.values = values
        self.sizes = np.array([v.size for v in self.values], dtype=np.int64)
        self.norms = np.array([float(np.linalg.norm(v)) for v in self.values])

    def _near(self, s):
        """The values whose size and norm a reshape or broadcast of them into s could have."""
        if not self.values:
            return []
        norm = float(np.linalg.norm(s))
        fits = (s.size % self.sizes) == 0
        scaled = self.norms * np.sqrt(s.size / self.sizes)
        near = np.abs(norm - scaled) <= 1e-6 * np.maximum(np.maximum(norm, scaled), TINY)
        return [self.values[i] for i in np.nonzero(fits & near)[0]]

    def holds(self, s):
        """Whether s is a correct value (up to reshape, transpose, broadcast)."""
        return s.size == 0 or any(_same(s, r) for r in self._near(s))

    def composed(self, s, constants=True):
        """(COMPOSED, ()) where s is a correct value times or divided by another correct value; (SCALED,
        the factors) where it is a correct value times a constant (where `constants`); (None, ())
        where it is neither."""
        factors = []
        if constants:  # of a value of its own shape, zeros and all (a 0/1 mask times N)
            factors += [f for f in (_factor(s, r) for r in self.same_shape(s.shape)) if f is not None]
        for r in self.values:
            for placed in [r] if r.shape == s.shape else _broadcasts(r, s.shape) if r.size < s.size else []:
                if np.min(np.abs(placed)) <= TINY:
                    continue
                ratio = s / placed
                if float(np.ptp(ratio)) <= 1e-6 * max(float(np.max(np.abs(ratio))), TINY):
                    # a staged scale (N * dscores, dvar / N); a paired value's factor is still caught
                    if constants:
                        factors.append(float(ratio.ravel()[0]))
                    continue
                if self.holds(ratio) or (np.min(np.abs(ratio)) > TINY and self.holds(1 / ratio)):
                    return COMPOSED, ()
        return (SCALED, tuple(factors)) if factors else (None, ())

    def same_shape(self, shape):
        return [r for r in self.values if r.shape == shape]


def _same(s, r):
    if s.size == r.size:
        reshaped = _regrouped(s.shape, r.shape) and close(s.ravel(), r.ravel())
        return reshaped or (s.ndim == r.ndim == 2 and close(s, r.T))
    if r.size == 1:
        return close(s, np.full(s.shape, float(r.ravel()[0])))
    return any(close(s, b) for b in _broadcasts(r, s.shape))


def _regrouped(a, b):
    """Whether one shape is the other with neighbouring axes merged (and axes of length 1 dropped): a
    reshape that keeps every entry's meaning ((N, C, H, W) to (N, C * H * W)), not one that mixes
    axes ((N, C, H, W) to (N * H * W, C) without a transpose first)."""
    ends = [set(np.cumprod([n for n in shape if n != 1]).tolist()) for shape in (a, b)]
    return ends[0] <= ends[1] or ends[1] <= ends[0]


def _broadcasts(r, shape):
    """r placed among the axes of `shape` (its own axes in order, length 1 elsewhere) and broadcast."""
    kept = [n for n in r.shape if n != 1]
    for axes in itertools.combinations(range(len(shape)), len(kept)):
        if all(shape[a] == n for a, n in zip(axes, kept)):
            placed = [1] * len(shape)
            for a, n in zip(axes, kept):
                placed[a] = n
            yield np.broadcast_to(r.reshape(placed), shape)


RIGHT, WRONG, UNKNOWN = "right", "wrong", "unknown"
SCALED, COMPOSED = "scaled", "composed"  # how a value that is no correct one as it is is made of them


def first_wrong(records, reference, pairs, named, node, lines, file, batch=0, scalars=(), inputs=None, constants=True):
    """The Finding for the first wrong value whose inputs are right, or None.

    records: [Record] in the order they were recorded; reference: every value the reference computes;
    pairs: [(primal, cotangent)] of its forward; named: {quantity: right value} of the function's
    outputs (dx, out, ...); node: the function's ast node; lines: its file's lines; scalars: its
    parameters that were handed plain numbers (reg, eps); inputs: a backward's forward arguments
    {name: value} (a cache entry that holds one of them under another name is not vouched for);
    constants: whether a constant multiple of a correct value counts as right (not in an update rule,
    where a bias correction left out is exactly that).

    Only a value whose right value is known can be wrong: the last value of a name that is one of the
    function's outputs, or of a d<name> whose <name> is a value of the forward. Any other value is right
    where it is a correct one, a constant multiple, product or quotient of them, and unknown otherwise; a line is pointed at only
    where every value it reads (its own earlier value too, for an update in place) is right. An
    upstream gradient taken over unchanged under a name of its own (dtanh = dnext_h, dc = dnext_c),
    from which a wrong value is computed, is pointed at itself: a local derivative or a term is missing
    there, as a rule. Where every value is right and only a shape is not, that line is pointed at.

    A wrong value built on values nothing vouches for is followed back (_on_the_way): to its own line
    where it is the right value times a constant, else to the first value on the way made from right
    values alone, where that one is plainly wrong (a factor no staging gives, a sign, a term, an axis)."""
    returned = {n for names in returned_names(node) for n in names if n} | {
        r.name for r in records if r.name.startswith("return[")
    }
    staged = (worked_on_in_return(node) - returned) & set(named)  # an output's name the return still works on
    handed = [r.value for r in records if r.start == records[0].start] if records else []
    correct = Correct([*reference, *handed])  # what the function is handed is right by definition
    found = statements(node)
    final = {record.name: index for index, record in enumerate(records)}
    parameters = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
    opaque = (
        parameters - {record.name for record in records} - set(scalars) - {"self"}
    )  # a cache tuple, a param dict (a model's own settings and params are what it was handed)
    status, wanted, latest, shaped, sources = {}, {}, {}, None, {}
    for stretch in _stretches(records):
        before = dict(latest)  # the values each name had when this stretch of lines began
        for index in stretch:
            record = records[index]
            expected = (
                _expected(record, records, latest, pairs, named, returned) if final[record.name] == index else None
            )
            wanted[index] = expected
            if expected is not None:
                right = (
                    (record.value.size == expected.size and close(record.value.ravel(), expected.ravel()))
                    or (record.name in staged and _mean_left_to_the_return(record.value, expected, batch))
                    or (record.name not in named and _an_earlier_gradient(record, records, latest, pairs))
                )  # a staged name kept on for the next gradient: dhidden masked in place (the pre-activation's)
                statement = _assigning(found, record)
                if right and shaped is None and statement is not None and record.value.shape != expected.shape:
                    shaped = (record, statement, expected.shape)
            elif (
                _an_input_renamed(record, records, parameters)
                or _forward_input_renamed(record, inputs)
                or (final[record.name] == index and _another_name(record, records, latest, parameters))
            ):
                right = False  # dc = dnext_c, s that holds x, mt = m: right by chance, as a rule
            else:
                how, factors = (RIGHT, ()) if correct.holds(record.value) else correct.composed(record.value, constants)
                if _constant(record.value):
                    how = None  # all ones is r / r, and any number broadcast: that says nothing of being right
                # A constant multiple is right where staging gives that factor (N * dscores, dvar / N),
                # not where a normalisation counts wrong (var with ddof=1: N / (N - 1)).
                right = how is not None and (how != SCALED or any(_staging(f, batch) for f in factors))
            status[index] = RIGHT if right else (WRONG if expected is not None else UNKNOWN)
            latest[record.name] = index
        for index in stretch:  # each value's inputs: as they were before it, or as the stretch left them
            sources[index] = _sources(records[index], found, opaque, latest, before, node, correct, records)
        context = (records, correct, named, batch, node, lines, file, found)
        for index in stretch:
            if status[index] != WRONG or sources[index] is None:
                continue
            record = records[index]
            statement, used = sources[index]
            suspects = [records[i] for i in used.values() if status[i] != RIGHT]
            if len(suspects) == 1 and _an_input_renamed(suspects[0], records, parameters):
                return _taken_over(suspects[0], record, found, node, lines, file)
            if suspects:  # built on values nothing says are right: see where they leave the right ones
                unsure = [i for i in used.values() if status[i] != RIGHT]
                finding = _on_the_way(unsure, record, wanted[index], status, sources, context)
                if finding is not None:
                    return finding
                continue
            if wanted[index] is not None and record.value.shape != wanted[index].shape and statement.indexed:
                continue  # its shape was decided where it was made, not where entries are written into it
            label = f"the right {record.name}"
            relation = _relation(record.value, correct, named, batch, wanted[index], label)
            read = sorted(set(used) - {record.name})
            because = f" (what it is computed from, {', '.join(read)}, is right)" if read else ""
            said = relation or f"it differs from {label}"
            if wanted[index] is not None and wanted[index].size != record.value.size:
                said = f"it has shape {record.value.shape}, where {label} has shape {wanted[index].shape}" + (
                    f"; {relation}" if relation else ""
                )
            text = f"is the first value that no correct derivation gives{because}; {said}"
            return _finding(statement.line, record.name, node, lines, file, text)
    if shaped is not None:
        record, statement, shape = shaped
        said = f"has the right values in shape {record.value.shape}, where the right {record.name} has shape {shape}"
        return _finding(statement.line, record.name, node, lines, file, said)
    return None


def _sources(record, found, opaque, latest, before, node, correct, records):
    """(statement, {name read: index of its value}) of a value, or None where what it is computed from
    cannot be told: no statement assigns it, it reads an opaque parameter (a cache tuple) or a number
    that is not recorded and is assigned again later, or it is a loop's value built on values of the
    loop's last iteration that are not correct as they are."""
    statement = _assigning(found, record)
    reads = set(statement.loads if statement else ()) - {record.name}
    if statement is None or reads & opaque:
        return None
    later = {n for s in found if s.line > statement.line for n in s.stores}
    if (reads - set(latest)) & later:  # a number not recorded that changes afterwards (t += 1 after its use)
        return None
    used = {n: latest[n] for n in reads if n in latest}
    if record.name in before:
        used[record.name] = before[record.name]  # its own earlier value, updated in place or accumulated
    loop = _outer_loop(node, statement.line)
    if loop is not None and not all(_known_in_loop(records[i], loop, correct) for i in used.values()):
        return None
    return statement, used


def _on_the_way(unsure, wrong, expected, status, sources, context):
    """A Finding for a wrong value built on values nothing says are right (`unsure`), or None.

    Where the wrong value is the right one times a constant (an array, not a number), the values on
    the way were right up to that factor: its own line is pointed at, with the factor. Otherwise the
    first value on the way that is not a correct one while everything it is computed from is
    (_culprit), where it is plainly wrong: a constant multiple of a correct value, or related to one
    simply (a sign, a term, an axis). A value the reference does not compute (a 0/1 mask, a partial
    sum) is not pointed at: correct code holds such values too."""
    records, correct, named, batch, node, lines, file, found = context
    culprit = _culprit(unsure, status, sources)
    if culprit is None:  # something on the way cannot be traced (a cache of the forward's making)
        return None
    if expected is not None and wrong.value.size > 1 and _factor(wrong.value, expected) is not None:
        label = f"the right {wrong.name}"
        said = _relation(wrong.value, correct, named, batch, expected, label)
        text = f"is wrong, though only by a constant factor; {said}"
        return _finding(sources[records.index(wrong)][0].line, wrong.name, node, lines, file, text)
    value, (statement, used) = records[culprit], sources[culprit]
    if _outer_loop(node, statement.line) is not None or _reads_unset_state(statement, found, named):
        return None  # a loop's range, or a step count never advanced, may be what is wrong
    regrouped = [i for i in used.values() if not _as_computed(records[i].value, correct)]
    if regrouped:  # built on a correct value reshaped its own way: the reshape may be what is wrong
        return _grouped_wrong(regrouped, value, sources, context)
    relation = (
        _the_same_everywhere(value.value)
        if _constant(value.value)
        else _relation(value.value, correct, named, batch) or _wrong_factor_of(value, wrong, expected, correct)
    )
    if relation is None:  # a permutation of what it reads, grouped wrong (channels interleaved)?
        permuted = any(_permutes(value.value, records[i].value) for i in used.values())
        return _grouped_wrong([culprit], None, sources, context) if permuted else None
    read = sorted(set(used) - {value.name})
    because = f" (what it is computed from, {', '.join(read)}, is right)" if read else ""
    text = (
        f"is the first value on the way to the wrong {wrong.name} that no correct derivation gives{because}; {relation}"
    )
    return _finding(statement.line, value.name, node, lines, file, text)


def _wrong_factor_of(value, wrong, expected, correct):
    """Where the wrong value is `value` times right values (di = dc * g), the value it should have
    been is the right one divided by them: said where that is a correct value (the right dc), so
    that `value` alone is what went wrong. None otherwise."""
    if expected is None or not value.value.shape == wrong.value.shape == np.shape(expected):
        return None
    u, w, e = (np.asarray(a, np.float64) for a in (value.value, wrong.value, expected))
    if np.min(np.abs(u)) <= TINY or np.min(np.abs(w)) <= TINY:
        return None
    meant = e * u / w  # the right wrong-value over the right values that multiply `value`
    if close(meant, u) or not correct.holds(meant):
        return None
    return f"{wrong.name} is it times values that are right, and the right {wrong.name} needs another {value.name} here (one the correct derivation computes)"


BLOCK_FUNCTIONS = (("", lambda v: v), ("tanh of ", np.tanh), ("the sigmoid of ", lambda v: 1 / (1 + np.exp(-v))))


def _another_block(s, correct):
    """Where s is a block of columns of a correct value (as it is, or through tanh or a sigmoid: an
    LSTM's gates, slices of one pre-activation), taken at a block no correct derivation takes there,
    the words for it; else None."""
    if s.ndim != 2 or s.shape[1] == 0:
        return None
    width = s.shape[1]
    for r in correct.values:
        if r.ndim != 2 or r.shape[0] != s.shape[0] or r.shape[1] <= width or r.shape[1] % width:
            continue
        for k in range(r.shape[1] // width):
            part = r[:, k * width : (k + 1) * width]
            for said, function in BLOCK_FUNCTIONS:
                with np.errstate(all="ignore"):
                    if close(s, function(part)):
                        return (
                            f"it is {said}columns {k * width}:{(k + 1) * width} of a correct value of shape {r.shape}, "
                            "a block no correct derivation takes for it: check which columns it should take"
                        )
    return None


REORDERS = ("transpose", "swapaxes", "moveaxis", "permute")


def _grouped_wrong(regrouped, culprit, sources, context):
    """Where the first wrong value (`culprit`; None: the regrouped value itself) is computed from a
    correct value regrouped with a reorder (reshape, transpose, reshape) and no sum or mean of that
    regrouped value over any axes is a correct one (channels interleaved into the wrong groups), the
    regrouping line; else None (a reshape that groups rightly leaves the blame where it is: the axes
    of the statistic, say)."""
    records, correct, _, _, node, lines, file, _ = context
    for index in sorted(regrouped, key=lambda i: sources[i][0].line if sources.get(i) else 0):
        value, statement = records[index].value, sources.get(index, (None,))[0]
        if statement is None or value.ndim < 2 or (culprit is not None and culprit.value.size >= value.size):
            continue
        code = " ".join(lines[statement.line - 1 : statement.last])
        if "reshape" not in code or not any(f"{r}(" in code for r in REORDERS):
            continue
        if any(correct.holds(statistic) for _, _, statistic in _statistics(value)):
            continue
        computed = f" ({culprit.name}, computed from it, is none)" if culprit is not None else ""
        text = (
            "holds the right numbers regrouped in an order of its own, and no sum or mean of it over any "
            f"axes is a correct value{computed}: check which entries each group gathers"
        )
        return _finding(statement.line, records[index].name, node, lines, file, text)
    return None


def _permutes(value, source):
    """Whether `value` holds exactly the entries of `source`, in another order."""
    return value.size == source.size > 1 and np.array_equal(np.sort(value, axis=None), np.sort(source, axis=None))


def _statistics(value, size=None):
    """(axes, "summed" or "averaged", the statistic) of `value` over every proper set of its axes (only
    the sets that leave `size` entries, where given)."""
    for count in range(1, value.ndim):
        for axes in itertools.combinations(range(value.ndim), count):
            if size is not None and int(np.prod([value.shape[a] for a in axes])) * size != value.size:
                continue
            total = value.sum(axis=axes)
            yield axes, "summed", total
            yield axes, "averaged", total / (value.size // total.size)


def _as_computed(value, correct):
    """Whether a value is a correct one in the very shape the reference has it (not only regrouped)."""
    return any(close(value, r) for r in correct.same_shape(value.shape))


def _mean_left_to_the_return(value, expected, batch):
    """Whether an output's name that the return still works on holds the right value times the batch
    size (or its inverse): the 1/N of a mean left to the return (dx = p - onehot; return loss, dx / N)."""
    if not batch or np.size(value) != np.size(expected):
        return False
    factor = _factor(np.asarray(value, np.float64), expected)
    return factor is not None and any(abs(factor - c) <= 1e-6 * c for c in (batch, 1 / batch))


def _staging(factor, batch):
    """Whether a constant is one that staged code scales a correct value by: a sign, 2 (the derivative
    of a square), the batch size or its inverse."""
    return any(abs(abs(factor) - c) <= 1e-6 * c for c in (1.0, 2.0, 0.5, *((batch, 1 / batch) if batch else ())))


def _factor(s, expected):
    """c where s is c times `expected` (c not 1), else None."""
    r = np.asarray(expected, np.float64).reshape(np.shape(s))
    scale = float(np.vdot(r, r))
    if scale <= TINY:
        return None
    factor = float(np.vdot(s, r)) / scale
    return factor if abs(factor - 1) > 1e-6 and abs(factor) > TINY and close(s, factor * r) else None


def _reads_unset_state(statement, found, named):
    """Whether a statement reads an entry of the state (config['t']) that should change and that
    nothing in the function assigns: what it reads is then stale, not the statement wrong."""
    stored = {n for s in found for n in s.stores}
    return any("[" in n and n in named and n not in stored for n in statement.loads)


def _culprit(suspects, status, sources):
    """The first value (in source order), among those the suspects are computed from, that is not a
    correct value while everything it is computed from is right: where the values first leave every
    correct derivation. None where some value on the way cannot be traced."""
    frontier, seen, stack = set(), set(), list(suspects)
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        if sources.get(index) is None:
            return None
        unsure = [i for i in sources[index][1].values() if i != index and status[i] != RIGHT]
        if unsure:
            stack.extend(unsure)
        else:
            frontier.add(index)
    return min(frontier, key=lambda i: (sources[i][0].line, i)) if frontier else None


def _another_name(record, records, latest, parameters):
    """Whether a name's (last) value is exactly the value another of the function's own names holds at
    that point (`latest`: name -> index of its record so far; mt = config['m'] where the bias
    correction was meant): two names for one value. A value read as it was handed in
    (running_var = bn_param['running_var'] in test mode) is one name for it, not two."""
    if not np.any(record.value):
        return False
    return any(
        name != record.name
        and name not in parameters
        and records[i].start != records[0].start
        and records[i].value.shape == record.value.shape
        and np.array_equal(records[i].value, record.value)
        for name, i in latest.items()
    )


def forward_input_kept(records, inputs, parameters=()):
    """(local name, argument name) of a backward's last value of a name that is exactly one of its
    forward's arguments under another name (a name of its own before a parameter's), or None."""
    final = {record.name: record for record in records}
    for record in sorted(final.values(), key=lambda r: r.name in parameters):
        if _forward_input_renamed(record, inputs) and np.any(record.value):
            argument = next(
                n for n, v in inputs.items() if np.shape(v) == record.value.shape and np.array_equal(v, record.value)
            )
            return record.name, argument
    return None


def _forward_input_renamed(record, inputs):
    """Whether a backward's value is exactly one of its forward's arguments under another name (the
    cache kept x where the backward reads it as s = sigmoid(x))."""
    return (
        bool(inputs)
        and record.name not in inputs
        and any(np.shape(v) == record.value.shape and np.array_equal(v, record.value) for v in inputs.values())
    )


def _stretches(records):
    """The indices of the records, grouped by the stretch of lines that left them (in order)."""
    groups = []
    for index, record in enumerate(records):
        if groups and (records[groups[-1][0]].start, records[groups[-1][0]].end) == (record.start, record.end):
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _known_in_loop(record, loop, correct):
    """An input of a statement in a loop counts where it was there before the loop, or where its last
    iteration's value is a correct value as it is."""
    return record.end and record.end <= loop.lineno or correct.holds(record.value)


def _taken_over(suspect, wrong, found, node, lines, file):
    statement = _assigning(found, suspect)
    if statement is None:
        return None
    said = (
        f"takes the upstream gradient over unchanged, and {wrong.name}, computed from it, is wrong: "
        "a local derivative (or a term) is missing here"
    )
    return _finding(statement.line, suspect.name, node, lines, file, said)


def line_text(lines, number):
    """The text of line `number` (1-based) of `lines`, stripped; "" past either end."""
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def index_parts(subscript):
    """The indexes of a subscript, one per axis: x[i, j] -> [i, j], x[i] -> [i]."""
    return subscript.slice.elts if isinstance(subscript.slice, ast.Tuple) else [subscript.slice]


def _finding(line, name, node, lines, file, said):
    code = line_text(lines, line)
    place = f"line {line} of {file} `{code[:80]}`"
    loop = _outer_loop(node, line)
    if loop is not None:  # a loop's values are compared once it is left: its range may be what is wrong
        place += f" (in the loop that starts at line {loop.lineno}; {name} is compared once the loop ends)"
    return Finding(line, code, name, f"{place}: {name} {said}.")


def _an_input_renamed(record, records, parameters):
    """Whether a value under a name of its own is exactly an upstream gradient the function is handed
    (dc = dnext_c: a total taken for one of its parts)."""
    if record.name in parameters:
        return False
    upstream = {name for name in parameters if name.startswith("d")}  # dout, dnext_h, dnext_c
    return any(
        r.name in upstream
        and r.start == records[0].start
        and r.value.shape == record.value.shape
        and np.array_equal(r.value, record.value)
        and np.any(r.value)
        for r in records
    )


def _outer_loop(node, line):
    """The outermost for/while statement of the function that holds `line`, or None."""
    loops = [
        n
        for n in ast.walk(node)
        if isinstance(n, (ast.For, ast.While)) and n.lineno <= line <= (n.end_lineno or n.lineno)
    ]
    return min(loops, key=lambda n: n.lineno) if loops else None


def _expected(record, records, latest, pairs, named, returned=()):
    """The right value of a recorded d<name> (the gradient a staged backward keeps for the forward's
    <name>): the function's own output of that name, or the cotangent of the reference's value that
    equals the recorded <name>; None where the name says nothing (dx1, a partial sum, among them)."""
    name, value = record.name, record.value
    if name in named and named[name] is not None and (np.size(named[name]) == value.size or name in returned):
        return np.asarray(named[name], np.float64)  # what it returns: of another size too (db summed over too few axes)
    if not name.startswith("d") or len(name) < 2 or name[-1].isdigit() or name == "dout":
        return None
    base = latest.get(name[1:])
    if base is None:
        return None
    place = _pair_of(records[base].value, pairs)
    return pairs[place][1] if place is not None and records[base].value.size == value.size else None


def _an_earlier_gradient(record, records, latest, pairs):
    """Whether a staged d<name> holds the gradient of a value the forward computed before <name> (the
    backward gone one step further under the same name: dhidden masked in place is the
    pre-activation's), not of one after it (dxhat = dout is a local derivative left out)."""
    place = _pair_of(records[latest[record.name[1:]]].value, pairs)
    return place is not None and any(
        ct.size == record.value.size and close(record.value.ravel(), ct.ravel()) for _, ct in pairs[:place]
    )


def _pair_of(primal, pairs):
    """The index of the (primal, cotangent) pair whose primal is `primal`, or None."""
    return next(
        (i for i, (p, _) in enumerate(pairs) if p.size == primal.size and close(primal.ravel(), p.ravel())), None
    )


def _assigning(found, record):
    """The statement of the stretch that last assigns record.name (source order)."""
    end = record.end if record.end else max((s.last for s in found), default=0) + 1
    inside = [s for s in found if record.start <= s.line < end and record.name in s.stores]
    if not inside and record.start:  # a loop's values: its statements lie beyond the stretch's lines
        inside = [s for s in found if s.line >= record.start and s.in_loop and record.name in s.stores]
    returned_here = [s for s in inside if not record.end and s.line == record.start]
    if returned_here:  # it returned at the line it started on (an early return), not at the last return
        return returned_here[0]
    return inside[-1] if inside else None


def _label(r, named):
    for quantity, value in named.items():
        if value is not None and np.shape(value) == r.shape and close(r, value):
            return f"the right {quantity}"
    return f"a correct value of shape {r.shape}"


def _shape_of(value, correct):
    """The shape of the correct value that `value` is a broadcast of."""
    for r in correct._near(value):
        if _same(value, r):
            return tuple(n for n in r.shape if n != 1) or (1,)
    return value.shape


def _times(factor, label, batch):
    for value, words in (
        (-1.0, f"the negative of {label}: a sign is wrong"),
        (2.0, f"twice {label}: a term counted twice, or a 1/2 left out"),
        (0.5, f"half {label}: a factor 2 left out"),
        (batch, f"{label} times N (the batch size): a 1/N left out"),
        (1 / batch if batch else None, f"{label} divided by N (the batch size): a 1/N too many"),
    ):
        if value and abs(factor - value) <= 1e-6 * abs(value):
            return f"it is {words}"
    return f"it is {label} times {factor:.4g}: a constant factor is off"


def _relation(s, correct, named, batch=0, expected=None, label=None):
    """How s relates to the right value (`expected`, else any correct value of its shape), in words, or None."""
    s = np.asarray(s, np.float64)
    if not np.all(np.isfinite(s)) or s.size == 0 or not np.any(s):
        return None
    if expected is not None and np.size(expected) != s.size:  # only a sum over the wrong axes is told
        expected = None
        label = None
    if s.size == 1:  # a number is a multiple of any other: only a telling factor says more than its value
        if expected is None:
            return None
        got, want = float(s.ravel()[0]), float(np.asarray(expected, np.float64).ravel()[0])
        label = label or "the right value"
        told = _times(got / want, label, batch) if abs(want) > TINY else ""
        return told if "constant factor is off" not in told else f"it is {got:.6g}, where {label} is {want:.6g}"
    same = [np.asarray(expected, np.float64).reshape(s.shape)] if expected is not None else correct.same_shape(s.shape)
    factors = [(factor, r) for r in same if (factor := _factor(s, r)) is not None]
    if factors:  # a constant factor (a sign among them): the one nearest 1 where several fit
        factor, r = min(factors, key=lambda f: abs(np.log(abs(f[0]))))
        return _times(factor, label or _label(r, named), batch)
    for r in same:  # a ReLU too many: the right value with its negative entries set to 0
        if np.any(r < 0) and close(s, np.maximum(r, 0)):
            return (
                f"it is {label or _label(r, named)} passed through a ReLU (its negative entries are 0): "
                "no ReLU belongs here"
            )
    for r in same:  # a term too many or too few, itself a correct value
        difference = s - r
        if float(np.max(np.abs(difference))) <= 1e-6 * max(float(np.max(np.abs(r))), TINY):
            continue
        if correct.holds(difference):
            return (
                f"it is {label or _label(r, named)} plus a term that should not be there (a correct value on its own)"
            )
        if correct.holds(-difference):
            return f"it is {label or _label(r, named)} with a term left out (a correct value on its own)"
    for r in same:  # a term's sign flipped: a + t where a - t belongs (half their sum, or their difference, is correct)
        if float(np.max(np.abs(s - r))) <= 1e-6 * max(float(np.max(np.abs(r))), TINY):
            continue
        if any(correct.holds(half) for half in ((s + r) / 2, (s - r) / 2, (r - s) / 2)):
            return (
                f"it is {label or _label(r, named)} with the sign of one of its terms flipped (a correct value "
                "added where it is subtracted, or subtracted where it is added)"
            )
    for r in same if expected is not None else ():  # a factor too many or too few, itself a correct value
        if np.min(np.abs(r)) <= TINY or np.min(np.abs(s)) <= TINY:
            continue
        ratio = s / r
        if float(np.ptp(ratio)) <= 1e-6 * float(np.max(np.abs(ratio))):
            continue
        if correct.holds(1 / ratio):
            return f"it is {label} without a factor it needs (a correct value of shape {_shape_of(1 / ratio, correct)})"
        if correct.holds(ratio):
            return f"it is {label} times a factor that should not be there (a correct value of shape {_shape_of(ratio, correct)})"
    block = _another_block(s, correct)
    if block is not None:
        return block
    for q in correct.values:  # a correct value summed or averaged over axes (a norm's statistics)
        for axes, how, value in _statistics(q, s.size):
            if close(s.ravel(), value.ravel()):
                over = f"axis {axes[0]}" if len(axes) == 1 else f"axes {axes}"
                return f"it is a correct value of shape {q.shape} {how} over {over}: check the axes and what is {how}"
    return None


def loop_stops_short(records, named, node, lines, file, intermediates=False):
    """A Finding at a loop that never reaches an output's first or last index along one axis: the
    output's last value is 0 across that whole slab, where the right value is not, and the loop's
    variable indexes that axis where the function writes into the output (dx[:, t, :] = ...,
    dx[n, c, i * s:i * s + ph, ...] += ...). Every other entry may be wrong too (a recurrence that
    skips its last step hands the earlier ones a wrong gradient): the slab left untouched says which
    loop to look at. `intermediates`: instead of the outputs, the other arrays the loops write into (a
    padded dxp whose crop is the output), where an array's other end is not all 0 (its right value is
    not known). None where no array is left like that."""
    final = {}
    for record in records:
        final[record.name] = record
    # For an intermediate, its other end stands in for its right value: written there, so it is not 0.
    others = {n: None for n in final if n not in named and np.ndim(final[n].value) >= 2}
    wanted = others if intermediates else named
    for name, want in wanted.items():
        record = final.get(name)
        if want is None and record is not None:
            want = np.flip(record.value, axis=tuple(range(record.value.ndim)))  # each end read by the other
        if record is None or not isinstance(want, np.ndarray) or record.value.shape != np.shape(want):
            continue
        for axis, end in _untouched_slabs(record.value, np.asarray(want)):
            loop = _loop_indexing(node, name, axis)
            if loop is None:
                continue
            side = "last" if end else "first"
            code = line_text(lines, loop.lineno)
            where = f"where the right {name} is not" if name in named else "where the loop wrote its other end"
            said = (
                f"the loop never reaches the {side} index along axis {axis} of {name}: {name} is still 0 there, "
                f"{where} (the loop's range is one step short)"
            )
            return Finding(loop.lineno, code, name, f"line {loop.lineno} of {file} `{code[:80]}`: {said}.")
    return None


def _untouched_slabs(got, want):
    """(axis, at the end?) of each first or last slab along an axis where `got` is all 0 and `want` is not."""
    found = []
    for axis in range(got.ndim):
        if got.shape[axis] < 2:
            continue
        for end in (True, False):
            index = -1 if end else 0
            slab, right = np.take(got, index, axis=axis), np.take(want, index, axis=axis)
            if not np.any(slab) and np.any(np.abs(right) > TINY):
                found.append((axis, end))
    return found


def _loop_indexing(node, name, axis):
    """The for loop whose variable indexes `axis` of `name` where the function writes into it."""
    loops = {}
    for inner in ast.walk(node):
        if isinstance(inner, ast.For) and isinstance(inner.target, ast.Name):
            loops[inner.target.id] = inner
    for inner in ast.walk(node):
        targets = []
        if isinstance(inner, ast.Assign):
            targets = [
                t for target in inner.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])
            ]
        elif isinstance(inner, ast.AugAssign):
            targets = [inner.target]
        for target in targets:
            if not (
                isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == name
            ):
                continue
            parts = index_parts(target)
            if axis >= len(parts):
                continue
            used = {n.id for n in ast.walk(parts[axis]) if isinstance(n, ast.Name)}
            for variable in used & set(loops):
                return loops[variable]
    return None

"""Reading a failing function's own code for what its values cannot show.

- A statement that is only an expression whose value is thrown away: `+ gamma * dxhat` on a line of its
  own after an assignment is the classic missing-parentheses continuation (Python ends the assignment
  at the line break and computes the next line for nothing).
- A key read from a parameter dict that the course never sets (`config['mu']`, `bn_param['epsilon']`):
  the read raises, or `.get` quietly falls back on its default.
- A softmax that never takes a row maximum before exp (in whatever form the rest takes): large scores
  overflow.
- A name read that the function never assigns while it assigns the same name in another case (`dw`
  read where `dW` is computed): the value comes from somewhere else (a global, a notebook's earlier
  cell), or the read raises.
- A padded array cropped by a fixed 1 (`dx_pad[:, :, 1:-1, 1:-1]`, `[1:H + 1]`) in a convolution,
  whose padding is conv_param['pad']: right for pad = 1 only.
- An svm loss that never adds the margin (no 1, no delta anywhere in it): `np.maximum(0, s - s_y)`; or
  one that adds another number than 1 to a score difference (`s - s_y + 2.5`).
- A group norm that never reads its number of groups G (`x.reshape(N, 1, -1)`): right for G = 1 only.
- A pooling window's height read into a name that says width, or the reverse (`pw, ph = pool_param[
  'pool_height'], pool_param['pool_width']`): right for square windows only.
- A value multiplied by a literal 0 inside a larger expression or a call (`step(dout, 0 * dprev_c)`):
  it never counts (a whole right-hand side `dprev = 0 * dh[:, 0]` is the zeros idiom, not this).
- An update rule's step count (config['t']) raised to as a power but never increased, or increased only
  after its use: Adam's bias correction then divides by 1 - beta ** 0 = 0 at the first step, or
  corrects every step by the one before.

Each finding names its line and the text on it, for the student to go to.
"""

import ast
import re

from ...text import listed
from .firstwrong import function_node, index_parts, line_text, parsed

# The keys the course puts in each parameter dict a function is handed (any edition).
COURSE_KEYS = {
    "conv_param": {"stride", "pad"},
    "pool_param": {"pool_height", "pool_width", "stride"},
    "bn_param": {"mode", "eps", "momentum", "running_mean", "running_var", "layernorm"},
    "ln_param": {"mode", "eps", "momentum", "running_mean", "running_var", "layernorm"},
    "gn_param": {"mode", "eps", "momentum", "running_mean", "running_var", "layernorm"},
    "dropout_param": {"mode", "p", "seed"},
    "config": {
        "learning_rate",
        "momentum",
        "velocity",
        "decay_rate",
        "epsilon",
        "cache",
        "beta1",
        "beta2",
        "m",
        "v",
        "t",
    },
}


def findings(text, name):
    """Sentences on what `name`'s own code does that values cannot show, each naming its line."""
    node = function_node(text, name)
    if node is None:
        return []
    lines = text.splitlines()
    return (
        _exp_without_max(node, lines)
        + _thrown_away(node, lines)
        + _unknown_keys(node, lines)
        + _fixed_crops(node, lines)
        + _case_twins(node, lines)
        + _overwritten_sums(node, lines)
        + _step_count(node, lines)
        + _swapped_sizes(node, lines)
        + _groups_unread(node, lines)
        + _margin_missing(node, lines)
        + _margin_not_one(node, lines)
        + _windows_assigned(node, lines)
        + _carries_dropped(node, lines)
        + _time_run_forward(node, lines)
        + _windows_counted_without_stride(node, lines)
        + _layer_skipped(node, lines)
        + _channels_not_last(node, lines)
        + _conv_parameters_misread(node, lines)
        + _times_zero(node, lines)
    )


NEVER_SHIFTED = "takes exp of the scores without subtracting each row's maximum first"


def _exp_without_max(function, lines):
    """A softmax whose code never takes a maximum (in whatever form: x.max(...), np.max, np.amax)
    before exp: large scores overflow to inf, whatever it does after."""
    if "softmax" not in function.name:
        return []
    calls = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
    called = {_called(c) for c in calls}
    if called & {"max", "amax", "nanmax", "logsumexp"}:
        return []
    exps = sorted(
        (c for c in calls if "exp" == (c.func.attr if isinstance(c.func, ast.Attribute) else "")),
        key=lambda c: c.lineno,
    )
    if not exps:
        return []
    line = exps[0].lineno
    return [
        f"{_at(lines, line)} {NEVER_SHIFTED}: exp of a large score overflows to inf, "
        "and everything computed from it is inf or nan; shift every row by its maximum before exp (the "
        "softmax does not change)"
    ]


def _called(call):
    """What a call calls: `maximum` of np.maximum(...) and of x.maximum(...), `max` of max(...)."""
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _at(lines, number):
    """How a finding names its line: `line N `its text``, the text cut at 80 characters."""
    return f"line {number} `{line_text(lines, number)[:80]}`"


def _at_first(lines, nodes, said):
    """One finding at the first line of `nodes` (none where there are none)."""
    return [f"{_at(lines, min(n.lineno for n in nodes))} {said}"] if nodes else []


def _thrown_away(function, lines):
    found = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Expr) or _is_docstring(node):
            continue
        value = node.value
        if isinstance(value, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)):
            continue
        if isinstance(value, ast.Constant) and value.value is Ellipsis:
            continue
        text = line_text(lines, node.lineno)
        continuation = text.startswith(("+", "-"))
        why = (
            "a continuation line without parentheses: Python ended the statement above at its line break, "
            "so this term is computed and thrown away; wrap the whole expression in parentheses"
            if continuation
            else "an expression on its own: its value is computed and thrown away (an assignment missing?)"
        )
        found.append(f"line {node.lineno} `{text[:80]}` is {why}")
    return found


ZEROS = ("zeros", "zeros_like")


def _overwritten_sums(function, lines):
    """A sum started at zero before a loop and assigned anew inside it from values that do not include
    it (dw = np.zeros_like(w); for ...: dw = dout[...] * window): each iteration throws the last away."""
    found = []
    for loop in (n for n in ast.walk(function) if isinstance(n, (ast.For, ast.While))):
        started = _zeroed_before(function, loop.lineno)
        for node in ast.walk(loop):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            name = node.targets[0].id
            reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if name in started and name not in reads and not any(f.startswith(f"line {node.lineno} ") for f in found):
                found.append(
                    f"{_at(lines, node.lineno)} assigns {name} anew on every pass of "
                    f"the loop at line {loop.lineno}, though {name} starts at zero before it: only the last pass's "
                    f"term is kept; add each pass's term to it (+=)"
                )
    return found


def _windows_assigned(function, lines):
    """A window of an array started at zero written with = inside a loop over windows (dx[n, c, i * s:i *
    s + ph, ...] = ...): where windows overlap, the later one overwrites what the earlier one wrote."""
    found = []
    for loop in (n for n in ast.walk(function) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)):
        started = _zeroed_before(function, loop.lineno)
        for node in ast.walk(loop):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
                continue
            name = target.value.id
            parts = index_parts(target)
            windows = [p for p in parts if _window_of(p, loop.target.id)]
            reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            said = f"line {node.lineno} "
            if name in started and windows and name not in reads and not any(f.startswith(said) for f in found):
                found.append(
                    f"{_at(lines, node.lineno)} writes a window of {name} with =: "
                    "where windows overlap, a later window overwrites what an earlier one wrote there; add each "
                    "window's share to it (+=)"
                )
    return found


def _top_level_loops(function):
    """(position, loop, the names set before it, the names read inside it) for each for-loop at the
    top level of a function's body: where a recurrence carries a value from pass to pass."""
    for position, loop in enumerate(function.body):
        if isinstance(loop, ast.For):
            before = {t for node in function.body[:position] for t in _assigned_names(node)}
            read = {n.id for n in ast.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            yield position, loop, before, read


def _carries_dropped(function, lines):
    """A value set before a loop, assigned anew on every pass, never read inside it and read after it
    (dprev from each step's backward, never added to the next step's upstream gradient): the
    recurrence drops it on every step but the last."""
    found = []
    for position, loop, before, read in _top_level_loops(function):
        after = {n.id for node in function.body[position + 1 :] for n in ast.walk(node) if isinstance(n, ast.Name)}
        looped = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        for node in (n for n in ast.walk(loop) if isinstance(n, (ast.Assign, ast.AnnAssign))):
            for name in sorted(_assigned_names(node) & before & after - read - looped):
                if not any(f"assigns {name} " in f for f in found):
                    found.append(
                        f"{_at(lines, node.lineno)} assigns {name} on every pass of "
                        f"the loop at line {loop.lineno}, and no pass reads it: every pass's {name} but the last is "
                        "lost; a recurrence hands it on to the next step (its upstream gradient plus it, say)"
                    )
    return found


def _time_run_forward(function, lines):
    """A backward's loop over time steps run from the first up, `for t in range(T)`, indexing with t
    itself and carrying a value set before it from each pass to the next (dprev): backpropagation
    through time runs from the last step down."""
    if "backward" not in function.name:
        return []
    for _, loop, before, read in _top_level_loops(function):
        counter = loop.target.id if isinstance(loop.target, ast.Name) else ""
        iterated = loop.iter
        plain = isinstance(iterated, ast.Call) and _called(iterated) == "range" and 1 <= len(iterated.args) <= 2
        if not counter or not plain or any(_arithmetic_on(node, counter) for node in loop.body):
            continue  # reversed(...), a negative step or an index computed from t (T - 1 - t) runs backward
        carried = sorted(
            name
            for node in ast.walk(loop)
            if isinstance(node, ast.Assign)
            for name in _assigned_names(node)
            if name in read and name in before and name != counter
        )
        if carried and _indexes_with(loop, counter):
            return [
                f"{_at(lines, loop.lineno)} runs the steps from the first up, handing {carried[0]} on from each "
                "step to the next: a backward through time starts at the last step and runs down "
                "(reversed(range(T))), each step's gradient going to the step before it"
            ]
    return []


def _arithmetic_on(node, name):
    return any(
        isinstance(n, ast.BinOp) and any(isinstance(m, ast.Name) and m.id == name for m in (n.left, n.right))
        for n in ast.walk(node)
    )


def _indexes_with(loop, name):
    """Whether the loop indexes an array with its counter itself (dh[:, t, :], cache[t])."""
    for node in ast.walk(loop):
        if isinstance(node, ast.Subscript):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if any(isinstance(p, ast.Name) and p.id == name for p in parts):
                return True
    return False


def _windows_counted_without_stride(function, lines):
    """A pooling forward that counts its windows as H // pool_height (or W // pool_width) in a function
    that reads a stride: right only where the stride is the window's size."""
    if "pool" not in function.name or "stride" not in ast.unparse(function):
        return []
    for node in ast.walk(function):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.FloorDiv):
            left, right = (_dimension_of(side) for side in (node.left, node.right))
            if left and left == right and _names_the_window(node.right):
                return [
                    f"{_at(lines, node.lineno)} counts the windows as the input's {left} // the window's: with a "
                    f"stride there are 1 + ({left} - pool {left}) // stride of them"
                ]
    return []


def _dimension_of(node):
    """ "height"/"width" of a name (H, ph) or of pool_param['pool_height'], else ""."""
    if isinstance(node, ast.Name):
        return (
            "height"
            if node.id in ("H", "Hin", "H_in")
            else "width"
            if node.id in ("W", "Win", "W_in")
            else _dimension(node.id)
        )
    _, key, _ = _key_read(node)
    return key.split("_")[1] if key in ("pool_height", "pool_width") else ""


def _names_the_window(node):
    if isinstance(node, ast.Name):
        return node.id.lower() not in ("h", "w", "hin", "win", "h_in", "w_in")
    _, key, _ = _key_read(node)
    return key in ("pool_height", "pool_width")


def last_assignment(text, name, key):
    """(line number, its text) of the last line of `name`'s code that computes `key` (a name, or a dict
    entry with that key: running_mean, bn_param['running_mean']), or None; a line that only stores a
    name (bn_param['running_mean'] = running_mean) is passed over for the one that computed it."""
    function = function_node(text, name)
    if function is None:
        return None
    assigned = sorted(
        (node.lineno, node.value)
        for node in ast.walk(function)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if (isinstance(target, ast.Name) and target.id == key)
        or (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant) and target.slice.value == key)
    )
    computed = [line for line, value in assigned if not isinstance(value, ast.Name)] or [line for line, _ in assigned]
    return (computed[-1], line_text(text.splitlines(), computed[-1])) if computed else None


def _times_zero(function, lines):
    """A value multiplied by a literal 0 where the product is part of something larger (a call's
    argument, a sum): whatever the value holds, it never counts there."""
    whole = set()  # x = 0 * y, return dx * 0, db: the zeros idiom, a value of its own
    for statement in ast.walk(function):
        if isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)) and statement.value:
            value = statement.value
            whole.update(map(id, value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]))
    found = []
    for product in ast.walk(function):
        if isinstance(product, ast.BinOp) and isinstance(product.op, ast.Mult) and id(product) not in whole:
            zero, other = _zero_and_other(product)
            if zero is not None:
                found.append((product.lineno, ast.unparse(other)))
    return [
        f"{_at(lines, line)} multiplies {other} by 0: the product is always 0, so {other} never counts here"
        for line, other in sorted(found)[:1]
    ]


def _zero_and_other(product):
    """(the literal 0, the other operand) of `0 * x` or `x * 0`, else (None, None)."""
    for zero, other in ((product.left, product.right), (product.right, product.left)):
        if isinstance(zero, ast.Constant) and type(zero.value) in (int, float) and zero.value == 0:
            return zero, other
    return None, None


def _layer_skipped(function, lines):
    """A composite's backward that unpacks a layer's cache (conv_cache, relu_cache, pool_cache = cache)
    and never uses one: the gradient skips that layer. Named at the line that hands the gradient on to
    the layer before it (the one whose cache comes first): relu_cache unused, the conv's backward."""
    if not function.name.endswith("_backward") or not function.args.args:
        return []
    cache = function.args.args[-1].arg
    found = []
    for position, node in enumerate(function.body):
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple)):
            continue
        if not (isinstance(node.value, ast.Name) and node.value.id == cache):
            continue
        names = [e.id if isinstance(e, ast.Name) else "" for e in node.targets[0].elts]
        rest = function.body[position + 1 :]
        read = {n.id for later in rest for n in ast.walk(later) if isinstance(n, ast.Name)}
        for index, name in enumerate(names):
            if index == 0 or "cache" not in name or name in read or not names[index - 1]:
                continue
            before = names[index - 1]
            user = next((s for s in rest if before in {n.id for n in ast.walk(s) if isinstance(n, ast.Name)}), None)
            if user is not None:
                layer = name.replace("_cache", "").replace("cache", "") or name
                found.append(
                    f"{_at(lines, user.lineno)} hands the gradient to the layer of "
                    f"{before} without going through the {layer} between them: {name} is unpacked from the cache "
                    f"(line {node.lineno}) and never used; pass the gradient through its backward first"
                )
    return found


def _channels_not_last(function, lines):
    """A spatial norm that reshapes its (N, C, H, W) argument into rows of C without moving C last
    first (x.reshape(-1, C)): each row then mixes channels."""
    if not function.name.startswith("spatial_"):
        return []
    channels = {}  # argument -> the name its shape's second entry is bound to (N, C, H, W = x.shape)
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple) and len(node.targets[0].elts) == 4:
            value, second = node.value, node.targets[0].elts[1]
            if isinstance(value, ast.Attribute) and value.attr == "shape" and isinstance(value.value, ast.Name):
                if isinstance(second, ast.Name):
                    channels[value.value.id] = second.id
    found = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "reshape"):
            continue
        receiver, args = node.func.value, node.args
        if isinstance(receiver, ast.Name) and receiver.id in channels and len(args) == 2:
            last = args[-1]
            if isinstance(last, ast.Name) and last.id == channels[receiver.id]:
                name = receiver.id
                found.append(
                    f"{_at(lines, node.lineno)} reshapes {name} of shape (N, C, H, W) "
                    f"into rows of {last.id} without moving the channels last first: each row then mixes channels; "
                    f"transpose it to (N, H, W, C) before the reshape (and back after)"
                )
    return found


def _conv_parameters_misread(function, lines):
    """A conv forward that flips its filter (w[:, :, ::-1, ::-1]: the course's convolution is a
    cross-correlation) or adds the first filter's bias to every filter's output (b[0])."""
    parameters = [a.arg for a in function.args.args]
    if not function.name.startswith("conv_forward") or len(parameters) < 3:
        return []
    weights, bias = parameters[1], parameters[2]
    found = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            continue
        parts = index_parts(node)
        said = ""
        if node.value.id == weights and any(_reversing(p) for p in parts):
            said = (
                f"flips the filter {weights}: the course's convolution is a cross-correlation, each window "
                f"is multiplied by {weights} as it is"
            )
        elif node.value.id == bias and len(parts) == 1 and _is_int(parts[0], 0):
            said = f"adds {bias}[0], the first filter's bias, to every filter's output: filter f takes {bias}[f]"
        if said and not any(f.startswith(f"line {node.lineno} ") for f in found):
            found.append(f"{_at(lines, node.lineno)} {said}")
    return found


def _reversing(part):
    """A slice ::-1."""
    step = part.step if isinstance(part, ast.Slice) else None
    negated = isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub) and _is_int(step.operand, 1)
    return step is not None and (negated or _is_int(step, -1))


def _assigned_names(node):
    """The plain names an assignment statement binds (tuple targets unpacked)."""
    if not isinstance(node, (ast.Assign, ast.AnnAssign)):
        return set()
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _window_of(part, variable):
    """A slice `start:start + size` whose start reads the loop's variable (i * stride: a window that
    may overlap the next one, unlike a block k * size:(k + 1) * size)."""
    if not (isinstance(part, ast.Slice) and part.lower is not None and isinstance(part.upper, ast.BinOp)):
        return False
    upper = part.upper
    starts = isinstance(upper.op, ast.Add) and ast.dump(upper.left) == ast.dump(part.lower)
    return starts and variable in {n.id for n in ast.walk(part.lower) if isinstance(n, ast.Name)}


def _zeroed_before(function, line):
    """The names the function sets to zeros (np.zeros, np.zeros_like, 0, 0.0) before `line`, outside loops."""
    names = set()
    for node in function.body:
        if node.lineno >= line:
            break
        if isinstance(node, ast.Assign):
            targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for target, value in zip(targets, values if len(values) == len(targets) else []):
                if isinstance(target, ast.Name) and _is_zero(value):
                    names.add(target.id)
    return names


def _is_zero(value):
    if isinstance(value, ast.Constant):
        return value.value == 0 and not isinstance(value.value, bool)
    function = value.func if isinstance(value, ast.Call) else None
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name in ZEROS


def _fixed_crops(function, lines):
    """Slices [1:-1] or [1:n + 1] of a convolution that reads its padding from conv_param."""
    if "conv" not in function.name or "pad" not in ast.unparse(function):
        return []
    found = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Subscript) or not isinstance(node.ctx, ast.Load):
            continue
        parts = index_parts(node)
        if any(_crops_one(part) for part in parts) and node.lineno not in {int(f.split()[1]) for f in found}:
            found.append(
                f"{_at(lines, node.lineno)} crops a fixed 1 from each side: the padding is "
                "conv_param['pad'], and this is right for pad = 1 only; crop with it ([pad:pad + H])"
            )
    return found


def _crops_one(part):
    if not isinstance(part, ast.Slice) or not _is_int(part.lower, 1) or part.upper is None:
        return False
    upper = part.upper
    minus_one = isinstance(upper, ast.UnaryOp) and isinstance(upper.op, ast.USub) and _is_int(upper.operand, 1)
    plus_one = isinstance(upper, ast.BinOp) and isinstance(upper.op, ast.Add) and _is_int(upper.right, 1)
    return minus_one or plus_one


def _is_int(node, value):
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == value


def _is_docstring(node):
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _unknown_keys(function, lines):
    arguments = {a.arg for a in function.args.args} & set(COURSE_KEYS)
    found, said = [], set(_keys_written(function))
    for node in ast.walk(function):
        target, key, default = _key_read(node)
        if target not in arguments or key is None or key in COURSE_KEYS[target] or (target, key) in said:
            continue
        said.add((target, key))
        falls = f" (so .get falls back on {default})" if default else ""
        found.append(
            f"{_at(lines, node.lineno)} reads {target}['{key}'], a key the course "
            f"never sets{falls}; it sets {', '.join(sorted(COURSE_KEYS[target]))}"
        )
    return found


def _case_twins(function, lines):
    """Names read, never assigned in the function, whose twin in another case is assigned there."""
    arguments = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
    assigned = {a.arg for a in arguments}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            assigned.add(node.id)
    found, said = [], set()
    for node in sorted(ast.walk(function), key=lambda n: getattr(n, "lineno", 0)):
        if not isinstance(node, ast.Name) or not isinstance(node.ctx, ast.Load) or node.id in assigned | said:
            continue
        twins = sorted(a for a in assigned if a.lower() == node.id.lower())
        if twins:
            said.add(node.id)
            found.append(
                f"{_at(lines, node.lineno)} reads {node.id}, which this function never "
                f"assigns, while it computes {twins[0]}: a typo? {node.id} here is whatever the name holds outside it"
            )
    return found


def computes_nothing(function):
    """Whether a function is untouched starter code: it only binds None, names and tuples of them,
    passes, raises NotImplementedError and returns such values (no call, no arithmetic)."""
    for node in function.body:
        if isinstance(node, ast.Pass) or _is_docstring(node):
            continue
        if isinstance(node, ast.Assign) and _plain(node.value):
            continue
        if isinstance(node, ast.Return) and (node.value is None or _plain(node.value)):
            continue
        if isinstance(node, ast.Raise) and "NotImplementedError" in ast.unparse(node):
            continue
        return False
    return True


def returns_its_starting_zeros(function):
    """Whether a function is untouched starter code that sets its results to zero and returns them:
    CS231n's classifiers start `loss = 0.0; dW = np.zeros_like(W)` (or `np.zeros(W.shape)`; EECS
    498's `torch.zeros_like(W)`), then `pass` where the student's code goes. Every name it returns is
    one it set to zero (or None, {}), never an argument passed through."""
    zeros, some_zero = set(), False  # a starter that only binds None is a None stub, said at run time
    for node in function.body:
        if isinstance(node, ast.Pass) or _is_docstring(node):
            continue
        if isinstance(node, ast.Assign) and _zero_binding(node.targets, node.value):
            zeros |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            some_zero |= any(not (isinstance(v, ast.Constant) and v.value is None) for v in _values(node.value))
            continue
        if isinstance(node, ast.Return) and node.value is not None and _made_of(node.value, zeros):
            continue
        return False
    return some_zero


def _values(value):
    return value.elts if isinstance(value, ast.Tuple) else [value]


def _zero_binding(targets, value):
    """`loss = 0.0`, `dW = np.zeros_like(W)`, `loss, grads = 0, {}`, `dx, dw = None, None`."""
    if len(targets) == 1 and isinstance(targets[0], ast.Tuple) and isinstance(value, ast.Tuple):
        return len(targets[0].elts) == len(value.elts) and all(
            _zero_binding([t], v) for t, v in zip(targets[0].elts, value.elts)
        )
    return all(isinstance(t, ast.Name) for t in targets) and _zero_like(value)


def _zero_like(value):
    if isinstance(value, ast.Constant):
        return value.value is None or (type(value.value) in (int, float) and value.value == 0)
    if isinstance(value, (ast.Dict, ast.List)):
        return not (value.keys if isinstance(value, ast.Dict) else value.elts)
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in ("zeros", "zeros_like")
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id in ("np", "numpy", "torch")
        and all(_names_a_shape(a) for a in [*value.args, *(k.value for k in value.keywords)])
    )


def _names_a_shape(node):
    """A zeros() argument that only names a shape, a dtype or a device: W, W.shape, (N, D), np.float64,
    'float', W.device."""
    if isinstance(node, ast.Tuple):
        return all(_names_a_shape(e) for e in node.elts)
    if isinstance(node, ast.Attribute):
        return _names_a_shape(node.value)
    return isinstance(node, (ast.Name, ast.Constant))


def _made_of(value, names):
    """A returned value made only of `names` (and tuples of them)."""
    if isinstance(value, ast.Tuple):
        return all(_made_of(v, names) for v in value.elts)
    return isinstance(value, ast.Name) and value.id in names


def _plain(value):
    if isinstance(value, ast.Tuple):
        return all(_plain(v) for v in value.elts)
    return isinstance(value, ast.Name) or (isinstance(value, ast.Constant) and value.value is None)


def _keys_written(function):
    """(dict name, key) the function sets itself: its own keys are its own business."""
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                yield node.value.id, node.slice.value
        target, key, default = _key_read(node)
        if key is not None and not default and isinstance(node, ast.Call) and node.func.attr == "setdefault":
            yield target, key


def _key_read(node):
    """(dict name, key, the default's source or "") of `d['key']` read or `d.get('key', default)`."""
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Name)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.value.id, node.slice.value, ""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "setdefault")
        and isinstance(node.func.value, ast.Name)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        default = ast.unparse(node.args[1]) if len(node.args) > 1 else "None"
        return node.func.value.id, node.args[0].value, default if node.func.attr == "get" else ""
    return None, None, ""


def _step_count(function, lines):
    """config['t'] (or a name holding it) used as a power, never increased or increased after its
    first use, in an update rule handed `config`."""
    if "config" not in {a.arg for a in function.args.args}:
        return []
    names, steps, uses, raised = set(), [], [], []
    for node in sorted(ast.walk(function), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            kind, target = _step_value(node.value, names), node.targets[0]
            if kind == "add":
                raised.append(node)
            elif kind and not _is_step(target, names):  # read into a name of its own (or elsewhere)
                steps.append(node)
            if kind and isinstance(target, ast.Name):
                names.add(target.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and _is_step(node.target, names):
            raised.append(node)
        elif isinstance(node, ast.Expr) and _is_step(node.value, names):  # config.setdefault('t', 0)
            steps.append(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and _step_value(node.right, names):
            uses.append(node)
    if not uses:
        return []
    numbers = sorted({u.lineno for u in uses})
    used = f"line{'s' if len(numbers) > 1 else ''} {listed(numbers)}"
    if not raised:
        where = (steps or uses)[0].lineno
        return [
            f"{_at(lines, where)}: the step count config['t'] is never increased, yet "
            f"{used} raise{'s' if len(numbers) == 1 else ''} to its power: increase it by one before the bias correction (at the "
            "first step beta ** 0 = 1 makes it divide by zero)"
        ]
    first = raised[0].lineno
    if first > uses[0].lineno:
        return [
            f"{_at(lines, first)} increases the step count config['t'] after "
            f"{used} used it: increase it first, so that the first step's bias correction uses t = 1"
        ]
    return []


def _is_step(node, names):
    """config['t'] (read or written), config.get('t', ...), config.setdefault('t', ...), or a name
    that holds one of them."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Subscript):
        key = node.slice.value if isinstance(node.slice, ast.Constant) else None
        return getattr(node.value, "id", "") == "config" and key == "t"
    return _key_read(node)[:2] == ("config", "t")


def _step_value(value, names):
    """ "read" for the step count itself, "add" for it plus a number, "" for anything else."""
    if _is_step(value, names):
        return "read"
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        sides = (value.left, value.right)
        if any(_is_step(n, names) for n in sides) and any(isinstance(n, ast.Constant) for n in sides):
            return "add"
    return ""


# The words a name of a pooling window's height or width is made of.
HEIGHT_WORDS = {"h", "hh", "ph", "hp", "height", "poolh", "hpool"}
WIDTH_WORDS = {"w", "ww", "pw", "wp", "width", "poolw", "wpool"}


def _swapped_sizes(function, lines):
    """pool_param['pool_height'] read into a name that says width, or pool_width into one that says
    height."""
    found = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        pairs = zip(target.elts, value.elts) if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) else []
        pairs = list(pairs) or [(target, value)]
        for name, read in pairs:
            dict_name, key, _ = _key_read(read)
            said = _dimension(name.id) if isinstance(name, ast.Name) else ""
            if dict_name != "pool_param" or key not in ("pool_height", "pool_width") or not said:
                continue
            if said != key.split("_")[1]:
                found.append(
                    f"{_at(lines, node.lineno)} reads pool_param['{key}'] into "
                    f"{name.id}, a name of the window's {said}: the {key.split('_')[1]} where the {said} belongs, "
                    "right for square windows only"
                )
                break
    return found


def _dimension(name):
    """ "height" or "width" where a name's words say one of them, else ""."""
    words = set(re.split(r"_+", name.lower()))
    height, width = bool(words & HEIGHT_WORDS), bool(words & WIDTH_WORDS)
    return "height" if height and not width else "width" if width and not height else ""


def _groups_unread(function, lines):
    """A group norm's forward handed G that never reads it but to return it: named at its first
    reshape, where x is split into groups."""
    if "groupnorm" not in function.name or "G" not in {a.arg for a in function.args.args}:
        return []
    returned = {id(n) for r in ast.walk(function) if isinstance(r, ast.Return) for n in ast.walk(r)}
    if any(isinstance(n, ast.Name) and n.id == "G" and id(n) not in returned for n in ast.walk(function)):
        return []  # read to group x (G kept in the cache for the backward does not count)
    reshapes = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "reshape"
    ]
    return _at_first(
        lines,
        reshapes,
        "splits x into groups without G (the function only hands it on): the channels go into G groups, and "
        "this is right for G = 1 only",
    )


def _margin_not_one(function, lines):
    """An svm loss that adds a number other than 1 (or 0) to a score difference: its margin. Named at
    that addition."""
    if "svm" not in function.name:
        return []
    found = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
            continue
        for number, other in ((node.left, node.right), (node.right, node.left)):
            value = number.value if isinstance(number, ast.Constant) else None
            differs = any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) for n in ast.walk(other))
            if type(value) in (int, float) and value not in (0, 1) and differs:
                found.append((node, value))
    if not found:
        return []
    node, value = min(found, key=lambda f: f[0].lineno)
    return [
        f"{_at(lines, node.lineno)} adds {value:g} to the score difference as the margin, where the svm's "
        "margin (delta) is 1"
    ]


def _margin_missing(function, lines):
    """An svm loss with no margin anywhere in its arithmetic (no 1 added or assigned, no name with
    delta in it): named at its max(0, ...)."""
    if "svm" not in function.name:
        return []
    terms = [t for n in ast.walk(function) if isinstance(n, ast.BinOp) for t in (n.left, n.right)]
    terms += [n.value for n in ast.walk(function) if isinstance(n, (ast.Assign, ast.AugAssign))]
    numbers = [t.value for t in terms if isinstance(t, ast.Constant) and type(t.value) in (int, float)]
    if any(abs(v) == 1 for v in numbers) or any("delta" in getattr(n, "id", "").lower() for n in ast.walk(function)):
        return []  # a 1 in arithmetic (an axis=1 or an index [1] is none) or a delta: a margin is there
    clipped = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Call)
        and _called(n) in ("maximum", "clip")
        and any(isinstance(a, ast.BinOp) and isinstance(a.op, ast.Sub) for a in n.args)
    ]
    return _at_first(
        lines,
        clipped,
        "takes max(0, ...) of the score differences with no margin: the function adds no 1 (delta) anywhere, so "
        "a wrong class scoring just under the right one costs nothing",
    )


def imaginary_part_read(text, name):
    """(line, its text) where the function or class `name` reads the imaginary part of a value
    (`z.imag`, `np.imag(z)`), or None. Nothing in a derived gradient is complex; the complex step
    (f(x + ih).imag / h) is a numerical gradient exact to rounding, which no value or cost can tell
    apart where the op's structure makes it a few calls (a pool's windows, an elementwise op)."""
    node = function_node(text, name) or _class_node(text, name)
    if node is None:
        return None
    for part in ast.walk(node):
        reads = (isinstance(part, ast.Attribute) and part.attr == "imag") or (
            isinstance(part, ast.Call) and _called(part) == "imag"
        )
        if reads:
            return part.lineno, line_text(text.splitlines(), part.lineno)
    return None


def _class_node(text, name):
    try:
        tree = parsed(text)
    except (SyntaxError, ValueError):
        return None
    return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)

"""Does `gradref similar` rank planted copies above independent work, and how long does a large class take?

`python -m bench.similarity` builds a class of independent assignment-2 solutions (affine, relu,
softmax_loss, svm_loss, batchnorm, dropout, naive conv and max pooling, sgd_momentum and adam, each op
drawn from one of several styles: the course-style test files, the examples, the loop corpus and
bench/similarity_corpus.py's own, each written with the student's own small choices (_Restyle); half
of them with one mistake of the corpus's own, made in the student's own version of the op (MISTAKES),
its constant one that several students get wrong alike or one of their own), checks that the grader
sees the class as it was written (every student without a mistake passes, every one with one fails
something), plants copies of some of them under each obfuscation (names changed, functions
reordered, comments, dead code, all of these together, a function rewritten in another style, and
a copied mistake in otherwise rewritten code), grades the class and ranks every pair. For behaviour
alone, code alone and both it reports per obfuscation whether each planted pair ranks above every
independent pair, precision among the top pairs, and the false-flag rate: the share of independent
pairs that score at least as high as the lowest planted pair. `--seeds N` draws N such classes (seeds
0 to N - 1, or from `--first-seed`) and sums up over them, with the lowest ratio of a copy that keeps
its original's code to the highest independent pair; `--size` sets how many independent students a
class has and `--public N` adds N independent solutions as a public folder (graded: their wrong
results count in how rare one is);
`--scale` also times a class of 1,000 submissions against 2,000 public files (code only), beside the
float32 GEMM rate.
"""

import argparse
import ast
import os
import random
import sys
import tempfile
import time

from bench import obfuscate
from bench.hostile import gemm_rate
from bench.similarity_corpus import BUGS, CONSTANTS, STYLES
from gradref import similarity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The assignment-2 functions a student writes (each op from one of its styles): the short layers every
# honest student writes alike, and the longer ones (norms, dropout, naive conv and pooling, update
# rules) where students differ more, as a class does.
OPS = {
    "affine": ("affine_forward", "affine_backward"),
    "relu": ("relu_forward", "relu_backward"),
    "softmax_loss": ("softmax_loss",),
    "svm_loss": ("svm_loss",),
    "batchnorm": ("batchnorm_forward", "batchnorm_backward"),
    "dropout": ("dropout_forward", "dropout_backward"),
    "conv": ("conv_forward_naive", "conv_backward_naive"),
    "max_pool": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "sgd_momentum": ("sgd_momentum",),
    "adam": ("adam",),
}
STYLE_FILES = {
    "course": "tests/course/layers_student.py",
    "examples": "examples/layers_correct.py",
    "loops": "bench/cost_corpus/loops.py",
    "norms": "tests/course/norms_student.py",
    "staged": "tests/course/staged_student.py",
    "fcn": "tests/course/fcn_student.py",
    "conv": "tests/course/conv_student.py",
    "dropout": "tests/course/dropout_student.py",
    "optim": "tests/course/optim_student.py",
}
HEADER = "import numpy as np\n\n"


def pools():
    """{op: {style: source of the op's functions}}."""
    found = {op: {} for op in OPS}
    for style, rel in STYLE_FILES.items():
        with open(os.path.join(ROOT, rel)) as handle:
            functions = similarity.functions_of(handle.read())
        for op, names in OPS.items():
            if all(n in functions for n in names):
                found[op][style] = "\n\n".join(functions[n][0] for n in names)
    for style, ops in STYLES.items():
        for op, source in ops.items():
            found[op][style] = source.strip()
    for op, styles in found.items():  # two files that hold one source verbatim are one style, not two
        first = {}
        for style, source in sorted(styles.items()):
            first.setdefault(source, style)
        found[op] = {style: source for source, style in first.items()}
    return found


class _Restyle(ast.NodeTransformer):
    """The small choices each student makes their own way: a.dot(b), np.dot(a, b) or a @ b;
    np.sum(a, axis=k) or a.sum(axis=k); np.maximum(0, x) or np.maximum(x, 0); np.zeros_like(a) or
    np.zeros(a.shape); x.shape[0] or len(x); a.T or np.transpose(a); a ** 2 or a * a; the order of
    a product's or a sum's two terms; a += b or a = a + b; a result named before it is returned."""

    def __init__(self, rng):
        self.rng = rng

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "dot" and len(node.args) == 1:
            a, b = (f.value, node.args[0]) if not _is_np(f.value) else (None, None)
            if a is not None:
                pick = self.rng.randrange(3)
                if pick == 1:
                    return ast.BinOp(a, ast.MatMult(), b)
                if pick == 2:
                    return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "dot", ast.Load()), [a, b], [])
        if isinstance(f, ast.Attribute) and f.attr == "sum" and _is_np(f.value) and len(node.args) == 1:
            if self.rng.random() < 0.5:
                return ast.Call(ast.Attribute(node.args[0], "sum", ast.Load()), [], node.keywords)
        if isinstance(f, ast.Attribute) and f.attr == "maximum" and _is_np(f.value) and len(node.args) == 2:
            if self.rng.random() < 0.5:
                node.args = node.args[::-1]
        if isinstance(f, ast.Attribute) and f.attr == "zeros_like" and _is_np(f.value) and len(node.args) == 1:
            if self.rng.random() < 0.5:
                shape = ast.Attribute(node.args[0], "shape", ast.Load())
                return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "zeros", ast.Load()), [shape], [])
        return node

    def visit_Subscript(self, node):
        """x.shape[0] or len(x)."""
        self.generic_visit(node)
        shape = node.value
        if (
            isinstance(shape, ast.Attribute)
            and shape.attr == "shape"
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == 0
            and self.rng.random() < 0.5
        ):
            return ast.Call(ast.Name("len", ast.Load()), [shape.value], [])
        return node

    def visit_Attribute(self, node):
        """a.T or np.transpose(a)."""
        self.generic_visit(node)
        if node.attr == "T" and isinstance(node.ctx, ast.Load) and self.rng.random() < 0.5:
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "transpose", ast.Load()), [node.value], [])
        return node

    def visit_BinOp(self, node):
        """a ** 2 or a * a (for a name); a * b or b * a, a + b or b + a (elementwise, broadcasting alike)."""
        self.generic_visit(node)
        squared = isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and node.right.value == 2
        if squared and isinstance(node.left, ast.Name) and self.rng.random() < 0.5:
            return ast.BinOp(node.left, ast.Mult(), ast.Name(node.left.id, ast.Load()))
        if isinstance(node.op, (ast.Add, ast.Mult)) and self.rng.random() < 0.5:
            node.left, node.right = node.right, node.left
        return node

    def visit_AugAssign(self, node):
        """a += b or a = a + b (for a name)."""
        self.generic_visit(node)
        if isinstance(node.target, ast.Name) and self.rng.random() < 0.5:
            value = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
            return ast.Assign([ast.Name(node.target.id, ast.Store())], value)
        return node

    def visit_Return(self, node):
        """return <expression> or a name for it first (a tuple's parts as they are)."""
        self.generic_visit(node)
        if isinstance(node.value, (ast.BinOp, ast.Call)) and self.rng.random() < 0.5:
            return [
                ast.Assign([ast.Name("result", ast.Store())], node.value),
                ast.Return(ast.Name("result", ast.Load())),
            ]
        return node


def _is_np(node):
    return isinstance(node, ast.Name) and node.id == "np"


def written_by(source, rng):
    """The source as one student writes it (_Restyle's choices, drawn from `rng`)."""
    return ast.unparse(ast.fix_missing_locations(_Restyle(rng).visit(ast.parse(source))))


def student(choice, styles):
    """The source of a submission: {op: style or bug name}; choice["c"] is its bug's own constant and
    choice["s"] the style of the op its bug is in: the mistake is made in the student's own code,
    as students make it (the corpus's own buggy version where that style gives it no place)."""
    parts = []
    for op in OPS:
        if choice[op] not in BUGS:
            parts.append(styles[op][choice[op]])
            continue
        constant = choice.get("c", "2.0")
        own = styles[op].get(choice.get("s", ""))
        made = own and with_mistake(own, choice[op], constant)
        parts.append(made or BUGS[choice[op]][1].strip().replace("{c}", constant))
    return HEADER + "\n\n\n".join(parts) + "\n"


def with_mistake(source, bug, constant):
    """An op's source with the mistake `bug` made in it, or None where the code gives it no place."""
    tree = ast.parse(source)
    if not MISTAKES[bug](tree, float(constant)):
        return None
    return ast.unparse(ast.fix_missing_locations(tree))


def _function(tree, name):
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _wrap_returned(tree, name, index, wrap):
    """Each `return a, b, ...` of the function with its index-th value wrapped; whether there was one."""
    function, done = _function(tree, name), False
    for node in ast.walk(function) if function else ():
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) > index:
            node.value.elts[index], done = wrap(node.value.elts[index], function), True
    return done


def _arg(function, i):
    return ast.Name(function.args.args[i].arg, ast.Load())


def _shape(function, axis):
    """`<first argument>.shape[axis]`."""
    return ast.Subscript(ast.Attribute(_arg(function, 0), "shape", ast.Load()), ast.Constant(axis), ast.Load())


def _sum_keeps_dims(tree, _):
    """db summed with keepdims=True: shape (1, M)."""
    function, done = _function(tree, "affine_backward"), False
    for node in ast.walk(function) if function else ():
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sum":
            if len(node.args) == (2 if _is_np(node.func.value) else 1):  # an axis given by position
                node.keywords.append(ast.keyword("axis", node.args.pop()))
            node.keywords.append(ast.keyword("keepdims", ast.Constant(True)))
            done = True
    return done


def _compare_with_zero(tree, name, change):
    function, done = _function(tree, name), False
    for node in ast.walk(function) if function else ():
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.comparators[0], ast.Constant)
            and node.comparators[0].value == 0
        ):
            done = change(node, function) or done
    return done


def _mask_of_dout(node, function):
    node.left = _arg(function, 0)
    return True


def _times_n(tree, _):
    """softmax_loss neither averaged: its loss and its gradient each N times too large."""
    return all(
        [_wrap_returned(tree, "softmax_loss", i, lambda e, f: ast.BinOp(e, ast.Mult(), _shape(f, 0))) for i in (0, 1)]
    )


def _counts_correct_class(tree, _):
    """svm_loss's gradient at the correct class counted once more (its own margin among the rest)."""

    def wrap(e, f):
        x, y = f.args.args[0].arg, f.args.args[1].arg
        return ast.BinOp(e, ast.Sub(), ast.parse(f"np.eye({x}.shape[1])[{y}] / {x}.shape[0]", mode="eval").body)

    return _wrap_returned(tree, "svm_loss", 1, wrap)


def _replace_margin(tree, constant):
    """The margin's 1 added in svm_loss made another constant."""
    function, done = _function(tree, "svm_loss"), False
    for node in ast.walk(function) if function else ():
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            for side in ("left", "right"):
                value = getattr(node, side)
                if isinstance(value, ast.Constant) and value.value == 1:
                    setattr(node, side, ast.Constant(constant))
                    done = True
    return done


MISTAKES = {
    "affine_db_keepdims": _sum_keeps_dims,
    "affine_dw_over_n": lambda tree, c: _wrap_returned(
        tree, "affine_backward", 1, lambda e, f: ast.BinOp(e, ast.Div(), ast.Constant(c))
    ),
    "relu_mask_of_dout": lambda tree, _: _compare_with_zero(tree, "relu_backward", _mask_of_dout),
    "softmax_no_average": _times_n,
    "softmax_gradient_sign": lambda tree, _: _wrap_returned(
        tree, "softmax_loss", 1, lambda e, f: ast.UnaryOp(ast.USub(), e)
    ),
    "svm_margin_two": _replace_margin,
    "svm_counts_correct_class": _counts_correct_class,
}


def independent_class(rng, styles, size):
    """`size` distinct {op: style or bug} choices; half of them with one mistake."""
    found = []
    while len(found) < size:
        choice = {op: rng.choice(sorted(styles[op])) for op in OPS}
        if rng.random() < 0.5:
            bug = rng.choice(sorted(BUGS))
            choice["s"], choice[BUGS[bug][0]] = choice[BUGS[bug][0]], bug
            # A constant got wrong: one of a few that many students get wrong alike, or one of their own.
            choice["c"] = rng.choice(CONSTANTS) if rng.random() < 0.5 else f"{rng.uniform(0.2, 6.0):.3f}"
        if choice not in found:
            found.append(choice)
    return found


def planted(rng, styles, originals, sources):
    """{(original, copy name): copy source} for each obfuscation."""
    copies = {}
    kinds = list(obfuscate.OBFUSCATIONS) + ["all of them", "rewritten in another style", "a copied mistake"]
    for kind, (name, choice) in zip(kinds, originals):
        source = sources[name]
        if kind in obfuscate.OBFUSCATIONS:
            text = HEADER + obfuscate.OBFUSCATIONS[kind](source, 1)
        elif kind == "all of them":
            text = HEADER + obfuscate.all_of_them(source, 2)
        elif kind == "rewritten in another style":  # one op written again (a loop turned vectorised, say)
            op = next(op for op in OPS if choice[op] not in BUGS)
            style = _another_style(styles, op, choice[op])
            text = HEADER + obfuscate.renamed(_with_op(source, op, written_by(styles[op][style], rng)), 4)
        else:  # the mistake copied, everything else written anew in other styles
            op = next(op for op in OPS if choice[op] in BUGS)
            other = {o: (choice[o] if o == op else _another_style(styles, o, choice[o])) for o in OPS}
            other.update({k: choice[k] for k in ("s", "c") if k in choice})
            fresh = written_by(student(other, styles), rng)
            text = HEADER + _with_op(fresh, op, _op_source(source, op))
        copies[(name, f"copy_{kind.replace(' ', '_')}.py")] = (kind, text)
    return copies


def _one_of_their_own(choices, rng):
    """Make sure one student of the class makes a mistake of their own (a constant nobody else gets
    wrong that way): the one the copied-mistake plant takes."""
    if any(
        c["c"] not in CONSTANTS and any("{c}" in BUGS[c[o]][1] for o in OPS if c[o] in BUGS)
        for c in choices
        if "c" in c
    ):
        return
    student = next(c for c in reversed(choices) if not any(c[o] in BUGS for o in OPS))  # no other plant's original
    bug = next(b for b in sorted(BUGS) if "{c}" in BUGS[b][1])
    student["s"], student[BUGS[bug][0]] = student[BUGS[bug][0]], bug
    student["c"] = f"{rng.uniform(0.2, 6.0):.3f}"


def _another_style(styles, op, style):
    """Another style of the op than `style` (the same where it has only one: rewritten all the same)."""
    return next((s for s in sorted(styles[op]) if s != style), style)


def _op_source(source, op):
    functions = similarity.functions_of(source)
    return "\n\n".join(functions[name][0] for name in OPS[op])


def _with_op(source, op, replacement):
    """The module `source` with op's functions replaced by those of `replacement`."""
    tree = ast.parse(source)
    kept = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name in OPS[op])]
    return ast.unparse(ast.Module(body=kept + ast.parse(replacement).body, type_ignores=[]))


TOUCHES = ("np.sum(V)", "np.mean(V)", "V.max()", "V.T", "V.shape[0]", "np.abs(V)", "V.size", "np.sqrt(V)")


def _own_touch(source, rng):
    """A line of its own in the first function (a check, a debugging leftover): no two files of a
    large synthetic class are then alike by construction, as no two students' are."""
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    name = function.args.args[0].arg
    terms = [rng.choice(TOUCHES).replace("V", name) for _ in range(4)]
    expression = (
        f"{terms[0]} {rng.choice('+-*')} {terms[1]} {rng.choice('+-*')} {terms[2]} {rng.choice('+-*')} {terms[3]}"
    )
    function.body.insert(0, ast.parse(f"check = {expression}").body[0])
    return ast.unparse(ast.fix_missing_locations(tree))


def ranks(pairs, planted_pairs, key):
    """For each planted pair: (its score, whether it ranks above every independent pair, its rank
    among all pairs); and the false-flag rate: independent pairs scoring at least the lowest planted
    score."""
    scores = {(p["a"], p["b"]): p[key] for p in pairs}
    planted_scores = {pp: scores.get(tuple(sorted(pp)), 0.0) for pp in planted_pairs}
    independent = [s for pp, s in scores.items() if pp not in {tuple(sorted(x)) for x in planted_pairs}]
    top = max(independent, default=0.0)
    lowest = min(planted_scores.values(), default=0.0)
    flagged = sum(s >= lowest for s in independent) / max(len(independent), 1) if lowest > 0 else 1.0
    return {
        pp: (s, s > top, 1 + sum(other > s for other in scores.values())) for pp, s in planted_scores.items()
    }, flagged


def originals_of(sources, choices):
    """[(student, choice)]: the student each of planted()'s kinds copies, in its order, each another
    student (two copies of one student would be a related pair counted as an independent one, and
    would make the copied mistake look twice as common): four with a mistake, two without, and last
    the copied mistake's, a mistake only its original makes (a constant of its own: a mistake many
    make alike is no evidence of copying, whoever made it)."""
    buggy = [(n, c) for n, c in zip(sources, choices) if any(c[o] in BUGS for o in OPS)]
    clean = [(n, c) for n, c in zip(sources, choices) if not any(c[o] in BUGS for o in OPS)]
    own = [
        (n, c) for n, c in buggy if c["c"] not in CONSTANTS and any("{c}" in BUGS[c[o]][1] for o in OPS if c[o] in BUGS)
    ]
    copied_mistake = own[0] if own else buggy[-1]
    return [b for b in buggy if b[0] != copied_mistake[0]][:4] + clean[:2] + [copied_mistake]


def drawn_class(rng, styles, size, public=0):
    """(the class's choices, the public folder's): independent students, one of the class with a
    mistake of their own; `rng` goes on to write their code."""
    choices = independent_class(rng, styles, size + public)
    choices, public_choices = choices[:size], choices[size:]
    _one_of_their_own(choices, rng)
    return choices, public_choices


def accuracy(folder, seed=0, size=36, public=0):
    rng = random.Random(seed)
    styles = pools()
    choices, public_choices = drawn_class(rng, styles, size, public)
    sources = {f"student_{i:02d}.py": HEADER + written_by(student(c, styles), rng) for i, c in enumerate(choices)}
    originals = originals_of(sources, choices)
    copies = planted(rng, styles, originals, sources)
    class_folder = os.path.join(folder, "class")
    os.makedirs(class_folder)
    for name, text in sources.items():
        with open(os.path.join(class_folder, name), "w") as handle:
            handle.write(text)
    for (_, copy), (_, text) in copies.items():
        with open(os.path.join(class_folder, copy), "w") as handle:
            handle.write(text)
    from gradref.grade.front import batch
    from gradref.grade.judging.options import Options
    from gradref.similar import find_pairs, read_reports

    started = time.perf_counter()
    public_folder = os.path.join(folder, "public")  # independent solutions a teacher found online
    os.makedirs(public_folder)
    for i, choice in enumerate(public_choices):
        with open(os.path.join(public_folder, f"public_{i:03d}.py"), "w") as handle:
            handle.write(HEADER + written_by(student(choice, styles), rng))
    graded = os.path.join(folder, "reports")
    batch.grade_folder(class_folder, Options(), 2, graded)
    against = [public_folder] if public_choices else []
    pairs, _ = find_pairs(class_folder, against, reports_dir=graded, jobs=2, index=os.path.join(folder, "index"))
    seconds = time.perf_counter() - started
    kinds = {pp: kind for pp, (kind, _) in copies.items()}
    print(
        f"class: {size} independent submissions, {len(copies)} planted copies"
        + (f", {public} public solutions graded beside them" if public else "")
        + f"; graded and ranked in {seconds:.1f} s"
    )
    print("  " + _as_graded(read_reports([os.path.join(class_folder, n) for n in sources], graded), sources, choices))
    results = {}
    with_mistake = [pp for pp in copies if any(c[o] in BUGS for name, c in originals if name == pp[0] for o in OPS)]
    for key in ("behaviour", "code", "score"):
        judged = with_mistake if key == "behaviour" else list(copies)  # a clean copy shares no wrong result
        by_pair, flagged = ranks(pairs, judged, key)
        wanted = {tuple(sorted(pp)) for pp in judged}
        top = next((p for p in sorted(pairs, key=lambda p: -p[key]) if (p["a"], p["b"]) not in wanted), None)
        results[key] = {
            "flagged": flagged,
            "pairs": {kinds[pp]: by_pair[pp] for pp in judged},
            "top": top[key] if top is not None else 0.0,
        }
        print(f"  {('both' if key == 'score' else key) + ':':11s} false-flag rate {flagged:.1%}")
        for pp in judged:
            score, above, rank = by_pair[pp]
            said = "above every independent pair" if above else "NOT above"
            print(f"    {kinds[pp]:28s} score {score:6.1f}  rank {rank:4d}  {said}")
        above = sum(a for _, a, _ in by_pair.values())
        if top is not None:
            driven = ", ".join(f"{f['name']} {f['behaviour'] + f['code']:.1f}" for f in top["functions"][:4])
            print(f"    the highest independent pair: {top[key]:.1f} ({driven})")
        print(
            f"    precision among the top {len(judged)} pairs: {_precision(pairs, judged, key):.0%}; above all: {above}/{len(judged)}"
        )
    return results


def _as_graded(reports, sources, choices):
    """Whether the grader agrees with the class as written: every student without a mistake passes
    every function, every student with one fails something (else the styles are not what they say)."""
    failing = {
        n for n, r in reports.items() if any(x.get("status") not in ("pass", "missing") for x in r.get("results", []))
    }
    right = [n for n, c in zip(sources, choices) if not any(c[o] in BUGS for o in OPS)]
    wrong = [n for n in sources if n not in right]
    said = (
        f"as graded: {sum(n not in failing for n in right)} of {len(right)} students without a mistake pass, "
        f"{sum(n in failing for n in wrong)} of {len(wrong)} with one fail"
    )
    strays = sorted(n for n in right if n in failing) + sorted(n for n in wrong if n not in failing)
    return said + (f" (NOT as written: {', '.join(strays)})" if strays else "")


def _over_seeds(results):
    """Per score: how many planted copies ranked above every independent pair, over all seeds, and
    which kinds did not."""
    print(f"over {len(results)} seeds:")
    for key in ("behaviour", "code", "score"):
        judged = [(kind, above) for r in results for kind, (_, above, _) in r[key]["pairs"].items()]
        missed = sorted({kind for kind, above in judged if not above})
        flagged = max(r[key]["flagged"] for r in results)
        print(
            f"  {'both' if key == 'score' else key:9s} {sum(a for _, a in judged)} of {len(judged)} planted copies "
            f"above every independent pair; the highest false-flag rate {flagged:.1%}"
            + (f"; not always above: {', '.join(missed)}" if missed else "")
        )
        if key != "behaviour":  # how far the copies that keep the original's code stand out
            print(
                f"  {'':9s} a copy that keeps the code scores at least {_margin(results, key):.2f} x the highest independent pair"
            )


def _margin(results, key):
    """The lowest (score of a planted copy that keeps its original's code / the class's highest
    independent pair) over the classes."""
    return min(
        score / r[key]["top"] if r[key]["top"] > 0 else float("inf")
        for r in results
        for kind, (score, _, _) in r[key]["pairs"].items()
        if kind != "a copied mistake"
    )


def _precision(pairs, planted_pairs, key):
    wanted = {tuple(sorted(pp)) for pp in planted_pairs}
    top = sorted(pairs, key=lambda p: -p[key])[: len(wanted)]
    return sum((p["a"], p["b"]) in wanted for p in top) / max(len(wanted), 1)


def scale(folder, students=1000, public=2000, seed=1):
    """Seconds to rank a class against public files by code (fingerprints, index and pairs)."""
    rng = random.Random(seed)
    styles = pools()
    for group, count in (("class", students), ("public", public)):
        os.makedirs(os.path.join(folder, group))
        for i in range(count):
            choice = {op: rng.choice(sorted(styles[op]) + sorted(b for b in BUGS if BUGS[b][0] == op)) for op in OPS}
            choice["c"] = rng.choice(CONSTANTS)
            text = HEADER + _own_touch(written_by(obfuscate.renamed(student(choice, styles), i), rng), rng)
            with open(os.path.join(folder, group, f"{group}_{i:04d}.py"), "w") as handle:
                handle.write(text)
    for i in range(0, students, 10):  # every tenth student's file is in the public folder too, renamed
        with open(os.path.join(folder, "class", f"class_{i:04d}.py")) as handle:
            text = HEADER + obfuscate.renamed(handle.read(), i)
        with open(os.path.join(folder, "public", f"copied_{i:04d}.py"), "w") as handle:
            handle.write(text)
    started = time.perf_counter()
    documents = [
        similarity.read_document(os.path.join(folder, "class", f), f)
        for f in sorted(os.listdir(os.path.join(folder, "class")))
    ]
    public = [os.path.join(folder, "public", f) for f in sorted(os.listdir(os.path.join(folder, "public")))]
    documents += similarity.read_public(public, os.path.join(folder, "index"))
    read = time.perf_counter() - started
    pairs = similarity.score_pairs(documents, {})
    total = time.perf_counter() - started
    again = time.perf_counter()
    similarity.read_public(public, os.path.join(folder, "index"))  # the public folder's index, kept
    reread = time.perf_counter() - again
    copied = {
        tuple(sorted((f"class_{i:04d}.py", os.path.join(folder, "public", f"copied_{i:04d}.py"))))
        for i in range(0, students, 10)
    }
    top = {(p["a"], p["b"]) for p in pairs[: len(copied)]}
    return read, total, reread, len(pairs), len(copied & top) / len(copied)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.similarity", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", action="store_true", help="also time 1,000 submissions against 2,000 public files")
    parser.add_argument("--seeds", type=int, default=1, help="classes drawn with N seeds (default 1)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of the seeds (default 0)")
    parser.add_argument("--size", type=int, default=36, help="independent submissions in a class (default 36)")
    parser.add_argument(
        "--public", type=int, default=0, help="independent public solutions graded beside the class (default 0)"
    )
    args = parser.parse_args(argv)
    rate = gemm_rate()
    print(f"float32 GEMM: {rate:.0f} GF/s")
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        print(f"seed {seed}")
        with tempfile.TemporaryDirectory(prefix="gradref-similar-bench-") as folder:
            results.append(accuracy(folder, seed=seed, size=args.size, public=args.public))
    if args.seeds > 1:
        _over_seeds(results)
    if args.scale:
        with tempfile.TemporaryDirectory(prefix="gradref-similar-scale-") as folder:
            read, total, reread, count, found = scale(folder)
        print(
            f"1,000 submissions against 2,000 public files (100 of them renamed copies of students' files): "
            f"{total:.1f} s ({read:.1f} s reading and indexing; the public index read again: {reread:.1f} s), "
            f"{count:,} pairs scored, {found:.0%} of the copies among "
            f"the top 100 pairs; GEMM {rate:.0f} GF/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

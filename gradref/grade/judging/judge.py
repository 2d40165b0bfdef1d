"""One sample of one function: sent through the student's code in the sandbox, what came back
judged against the oracle's answers, at the course's level.

Only plain arrays come back, loaded from .npy files, and every comparison happens in this process on
float64 copies. Writing into arguments is a warning; an extreme-value sample gives warnings.
"""

import dataclasses
import functools
import re
from dataclasses import dataclass, field

import numpy as np

from conformance import tolerance as policy
from conformance.checks import floors, tolerance_terms
from conformance.registry import REGISTRY, UPDATE
from conformance.samples import as_float64
from reference import functions as ref

from ...text import clean
from ..course.targets import CLASS, LOSS_FUNCTION, MODEL, MODULE, UPDATE_RULE, VALUE
from ..explain.diagnose import Context, diagnose, is_gradient
from ..explain.plainwords import explain_error, mistake_in_error
from ..untrusted import protocol as P
from ..untrusted.sandbox import BadResult
from . import dropout, evidence
from .answers import forward_answer, oracle_answers
from .caches import course_cache, documented
from .options import Options
from .verdict import ERROR, NUMERICAL_GRADIENT, TIMEOUT

UPSTREAM = {"lstm_step": ("dnext_h", "dnext_c"), "rnn_step": ("dnext_h",), "rnn": ("dh",), "lstm": ("dh",)}


def _arg_spec(sandbox, value):
    if isinstance(value, tuple):
        return {P.TUPLE: [_arg_spec(sandbox, v) for v in value]}
    if isinstance(value, dict):
        return {P.DICT: {k: _arg_spec(sandbox, v) for k, v in value.items()}}
    return sandbox.put(value) if isinstance(value, np.ndarray) else {P.VALUE: value}


def arg_specs(sandbox, values):
    """The worker's argument specs of `values` (arrays as files, dicts and tuples of them, plain values)."""
    return [_arg_spec(sandbox, v) for v in values]


def distinct(forward_entry, backward_entry):
    """The entries of a target, once each (a loss, class or update rule has one for both)."""
    return [forward_entry] if backward_entry is forward_entry else [forward_entry, backward_entry]


def test_mode(sample):
    """The sample runs a layer in test mode: the course grades that forward on its own."""
    return any(isinstance(v, dict) and v.get("mode") == "test" for v in sample.args.values())


MODEL_INPUTS = ("X", "y", "features", "captions")  # what a model's loss() takes, by the op's names


def passed_names(op, target):
    """The op's arguments the target's call takes: a model's loss takes X and y (its parameters, reg
    and its dropout masks go elsewhere, or come from its own code)."""
    if target.kind == MODEL:
        return [n for n in op.signature if n in MODEL_INPUTS]
    if target.kind == MODULE:  # its parameters are set as attributes
        return [n for n in op.signature if n not in dict(target.attrs)]
    return [n for n in op.signature if target.kind != CLASS or n not in target.init]


# What each edition of each course calls a model's constructor arguments, by what they size.
MODEL_ARGUMENTS = {
    "TwoLayerNet": (
        (("input_size", "input_dim"), lambda a: int(np.prod(a["X"].shape[1:]))),
        (("hidden_size", "hidden_dim"), lambda a: a["W1"].shape[1]),
        (("output_size", "num_classes"), lambda a: a["W2"].shape[1]),
        (("std", "weight_scale"), lambda a: 1e-3),
        (("reg",), lambda a: float(a["reg"])),
    ),
    "FullyConnectedNet": (
        (("hidden_dims",), lambda a: [a["W1"].shape[1], a["W2"].shape[1]]),
        (("input_dim",), lambda a: int(np.prod(a["X"].shape[1:]))),
        (("num_classes",), lambda a: a["W3"].shape[1]),
        (("dropout_keep_ratio",), lambda a: 1.0),  # CS231n 2020 on: 1 keeps every unit
        (("dropout",), lambda a: 0.0),  # CS231n 2017-19 and EECS 498: 0 switches dropout off
        (("normalization",), lambda a: None),
        (("use_batchnorm",), lambda a: False),
        (("weight_scale",), lambda a: 1e-2),
        (("reg",), lambda a: float(a["reg"])),
        (("seed",), lambda a: None),
    ),
    "ThreeLayerConvNet": (
        (("input_dim", "input_dims"), lambda a: list(a["X"].shape[1:])),
        (("num_filters",), lambda a: a["W1"].shape[0]),
        (("filter_size",), lambda a: a["W1"].shape[2]),
        (("hidden_dim",), lambda a: a["W2"].shape[1]),
        (("num_classes",), lambda a: a["W3"].shape[1]),
        (("weight_scale",), lambda a: 1e-3),
        (("reg",), lambda a: float(a["reg"])),
    ),
    "DeepConvNet": (
        (("input_dims",), lambda a: list(a["X"].shape[1:])),
        (("num_filters",), lambda a: [a["W1"].shape[0], a["W2"].shape[0]]),
        (("max_pools",), lambda a: [0]),
        (("batchnorm",), lambda a: False),
        (("num_classes",), lambda a: a["W3"].shape[1]),
        (("weight_scale",), lambda a: 1e-3),
        (("reg",), lambda a: float(a["reg"])),
    ),
    "CaptioningRNN": (
        (("word_to_idx",), lambda a: _word_to_idx(a["W_embed"].shape[0])),
        (("input_dim",), lambda a: a["features"].shape[1]),
        (("wordvec_dim",), lambda a: a["W_embed"].shape[1]),
        (("hidden_dim",), lambda a: a["Wh"].shape[0]),
        (("cell_type",), lambda a: "rnn"),
    ),
}


def _word_to_idx(vocabulary):
    """A vocabulary as the course's data has it: <NULL> 0, <START> 1, <END> 2, then the words."""
    return {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"word{i}": i for i in range(3, vocabulary)}}


# Each model's label-free loss(X): the reference's scores and the parameters they take.
MODEL_SCORES = {
    "TwoLayerNet": (ref.two_layer_net_scores, ("X", "W1", "b1", "W2", "b2")),
    "FullyConnectedNet": (ref.fc_net_scores, ("X", "W1", "b1", "W2", "b2", "W3", "b3")),
    "ThreeLayerConvNet": (ref.three_layer_convnet_scores, ("X", "W1", "b1", "W2", "b2", "W3", "b3")),
    "DeepConvNet": (ref.deep_convnet_scores, ("X", "W1", "b1", "W2", "b2", "W3", "b3")),
}


def _model_request(sandbox, target, op, sample):
    """Build the model with the sample's sizes (in float64, on the grader's device, where its
    constructor takes dtype= and device=), set its params to the sample's values, call loss(X, y)
    (reg goes to whichever of the constructor and loss() takes it)."""
    args = sample.args
    setting = dict(target.setting)
    choices = [
        [list(names), {P.VALUE: setting[names] if names in setting else value(args)}]
        for names, value in MODEL_ARGUMENTS[target.forward]
    ]
    choices += [[["dtype"], {P.DTYPE_OF: "float64"}], [["device"], {P.DEVICE_OF: True}]]
    return {
        P.KIND: P.MODEL,
        P.CLS: target.forward,
        P.CHOICES: choices,
        P.PARAMS: {name: sandbox.put(args[name]) for name in op.wrt},
        P.ARGS: arg_specs(sandbox, [args[n] for n in passed_names(op, target)]),
        P.LOSS_CHOICES: [[["reg"], {P.VALUE: float(args["reg"])}]] if "reg" in args else [],
        P.GRAD_KEYS: list(op.wrt),
    }, 2


# The torch modules the course builds on autograd on purpose: their constructors' arguments.
MODULE_ARGUMENTS = {
    "WordEmbedding": (
        (("vocab_size",), lambda a: a["W"].shape[0]),
        (("embed_size", "wordvec_dim"), lambda a: a["W"].shape[1]),
    ),
    "LSTM": (
        (("input_dim", "input_size"), lambda a: a["Wx"].shape[0]),
        (("hidden_dim", "hidden_size"), lambda a: a["Wh"].shape[0]),
    ),
}


def _module_request(sandbox, target, op, sample):
    """Build the module (float64, on the grader's device, where its constructor takes dtype= and
    device=), set its parameters to the sample's values, call the method on the other arguments."""
    cls, method = target.forward.split(".")
    attrs = dict(target.attrs)
    choices = [[list(names), {P.VALUE: value(sample.args)}] for names, value in MODULE_ARGUMENTS[cls]]
    choices += [[["dtype"], {P.DTYPE_OF: "float64"}], [["device"], {P.DEVICE_OF: True}]]
    return {
        P.KIND: P.MODULE,
        P.CLS: cls,
        P.METHOD: method,
        P.CHOICES: choices,
        P.PARAMS: {attr: sandbox.put(sample.args[arg]) for arg, attr in attrs.items()},
        P.ARGS: arg_specs(sandbox, [sample.args[n] for n in passed_names(op, target)]),
        P.OUTPUTS_COUNT: op.outputs,
    }, 1


def judge_model_scores(sandbox, target, op, entry):
    """A model's loss(X) without labels returns its class scores: judged on the first sample against
    the reference's scores (MODEL_SCORES)."""
    sample = oracle_answers(op.name, op.samples[0].name)[0]
    args = sample.args
    request = {
        **_model_request(sandbox, target, op, sample)[0],
        P.ARGS: arg_specs(sandbox, [args["X"]]),
        P.SCORES: True,
    }
    outcome = sandbox.call(request, 1)
    entry.sample = f"{sample.name}, no labels"
    if outcome.status != "ok":
        _report_failure(outcome, entry, entry.sample)
        return
    _check_scores(sandbox, outcome, entry, target.forward, op, args)


def judge_function_scores(sandbox, target, op, entry, sample_names):
    """A function that returns a model's class scores and a cache (EECS 498's nn_forward_pass(params,
    X) -> (scores, hidden)): judged on each sample against the reference's scores."""
    for sample_name in sample_names:
        args = oracle_answers(op.name, sample_name)[0].args
        request = {
            P.KIND: P.FUNCTION,
            P.FIRST: target.forward,
            P.ARGS: [_arg_spec(sandbox, {n: args[n] for n in target.packed}), _arg_spec(sandbox, args["X"])],
            P.OUTPUTS_COUNT: 1,
        }
        outcome = sandbox.call(request, 1)
        entry.sample = sample_name
        entry.ran.append(sample_name)
        if outcome.status != "ok":
            _report_failure(outcome, entry, sample_name)
            return
        _check_scores(sandbox, outcome, entry, target.model, op, args)


def _check_scores(sandbox, outcome, entry, model, op, args):
    """The class scores a call returned as OUT, against the reference's scores of `model`."""
    scores, names = MODEL_SCORES[model]
    want = forward_answer(scores, [args[n] for n in names], "scores, no cotangent")
    got = _plain(sandbox, (outcome.reply.get(P.RESULTS) or {}).get(P.OUT), entry, "scores", want)
    if got is not None:
        _compare(entry, "scores", got, want, policy.tolerance("float64", *tolerance_terms(op, args)))


def build_request(sandbox, target, op, sample, dout, with_backward):
    """The worker request for this target on this sample, and how many calls it makes."""
    if target.kind == MODEL:
        return _model_request(sandbox, target, op, sample)
    if target.kind == MODULE:
        return _module_request(sandbox, target, op, sample)
    if target.kind == CLASS:
        forward_args = [sample.args[n] for n in passed_names(op, target)]
        if target.labels == "onehot":
            forward_args = [
                _one_hot(sample.args["y"], sample.args["x"].shape[1]) if n == "y" else sample.args[n]
                for n in passed_names(op, target)
            ]
        request = {
            P.KIND: P.CLASS,
            P.CLS: target.forward,
            P.INIT: arg_specs(sandbox, [sample.args[n] for n in target.init]),
            P.ARGS: arg_specs(sandbox, forward_args),
            P.GRAD_ATTRS: list(target.grad_attrs),
            P.BACKWARD: with_backward,
            P.DOUT: None if target.is_loss or not with_backward else sandbox.put(dout),
        }
        return request, 3
    args = arg_specs(sandbox, [sample.args[n] for n in op.signature if n not in target.packed])
    if target.packed:  # EECS 498's params dict, first: nn_forward_backward(params, X, y, reg)
        args.insert(0, _arg_spec(sandbox, {n: sample.args[n] for n in target.packed}))
    if target.kind in (LOSS_FUNCTION, UPDATE_RULE):
        return {
            P.KIND: P.FUNCTION,
            P.FIRST: target.forward,
            P.ARGS: args,
            P.UPDATE: target.kind == UPDATE_RULE,
            P.LOSS: target.kind == LOSS_FUNCTION,
            P.GRAD_KEYS: [n for n in op.wrt if n in target.packed] if target.packed else None,
        }, 1
    if target.kind == VALUE:
        return {
            P.KIND: P.FUNCTION,
            P.FIRST: target.forward,
            P.ARGS: args,
            P.PLAIN: True,
            P.OUTPUTS_COUNT: op.outputs,
        }, 1
    request = {P.KIND: P.FUNCTION, P.FIRST: target.forward, P.ARGS: args, P.OUTPUTS_COUNT: op.outputs}
    if with_backward:
        request.update({P.BACKWARD: target.backward, P.DOUT: sandbox.put(dout)})
    return request, 2


def _one_hot(labels, classes):
    return np.eye(classes)[labels]


def _compare(entry, label, got, want, rounding, floor=0.0, slack=1.0, run=None):
    """Compare at the course's level (times `slack`); the detail also says how far past rounding
    level it is (kept on `run` for the numerical-differentiation check)."""
    comparison = policy.compare(label, got, want, max(rounding, policy.COURSE_REL) * slack, "float64", floor)
    detail = comparison.describe()
    if not comparison.shape_error and comparison.max_rel_error == comparison.max_rel_error:
        detail += f"; {comparison.max_rel_error / rounding:.3g}x rounding level"
        if run is not None:
            run.rounding_ratio = max(run.rounding_ratio, comparison.max_rel_error / rounding)
    entry.check(label, comparison.passed, detail, measured=True, shape_only=comparison.values_right)
    if not comparison.passed:
        entry.checks[-1]["fingerprint"] = evidence.fingerprint(got, want)
        entry.record_heatmap(label, evidence.heatmap(got, want))
    return comparison.passed


def _plain(sandbox, spec, entry, label, like):
    """Load one result; check it came back as an ndarray (or a scalar for a loss). None if it did not."""
    try:
        value = sandbox.load(spec, like)
    except BadResult as error:
        entry.check(label, False, f"{label}: {error}")
        return None
    kind = clean(spec.get(P.TYPE, ""), 80)
    if sandbox.framework == "torch":
        _check_tensor(sandbox, spec, entry, label, kind, value, like)
    elif kind not in ("numpy.ndarray", "numpy.float64", "builtins.float"):
        entry.check(f"{label} type", False, f"{label} is a {kind}, want a numpy array")
    return value


def _check_tensor(sandbox, spec, entry, label, kind, value, like):
    """A torch submission's result: a tensor (a loss may be a Python float) of the inputs' dtype (read
    from the file the grader loaded), on their device (as the worker reports it: a wrong answer there
    can only spare a student this check, never the comparison of the values)."""
    if kind not in ("torch.Tensor", "builtins.float"):
        entry.check(f"{label} type", False, f"{label} is a {kind}, want a torch tensor")
        return
    if kind == "builtins.float":
        return
    dtype, want = f"torch.{np.asarray(value).dtype}", f"torch.{np.asarray(like).dtype}"
    device = clean(str(spec.get(P.DEVICE, "")), 20)
    if np.asarray(like).dtype.kind == "f" and dtype != want:
        entry.check(
            f"{label} dtype",
            False,
            f"{label} is a {dtype} tensor, want {want}: a tensor made without dtype= (torch.zeros(shape)) "
            "is float32; make new tensors with dtype=x.dtype, device=x.device",
        )
        entry.mistakes.append("tensor_dtype")
    if device != sandbox.device.split(":")[0]:
        entry.check(
            f"{label} device",
            False,
            f"{label} is on {device}, want {sandbox.device}: make new tensors with device=x.device "
            "(the course says not to call .to() or .cuda() in an implementation)",
        )
        entry.mistakes.append("tensor_device")


def _loaded(sandbox, spec, like):
    """A result array, or None when it is missing or not a plain numeric array."""
    try:
        return sandbox.load(spec, like)
    except BadResult:
        return None


@dataclass
class Run:
    """One sample of one target: the oracle's answer and what came back."""

    target: object
    op: object
    sample: object
    want_out: object
    want_grads: list
    dout: object
    outputs: dict
    rounding: float
    options: object = None
    slack: float = 1.0  # policy.UNSEEN_SLACK on the unseen-values sample
    got: dict = field(default_factory=dict)  # quantity -> what came back, for the diagnosis
    want: dict = field(default_factory=dict)
    failed: set = field(default_factory=set)  # quantities whose comparison failed (warnings included)
    rounding_ratio: float = 0.0  # the worst gradient's error in units of the rounding level


def judge_sample(
    sandbox,
    target,
    op,
    sample_name,
    forward_entry,
    backward_entry,
    with_backward=True,
    options=None,
    seed=0,
    answers=None,
):
    """Run one sample (its unseen twin when seed is not 0; `answers` where the grader computed them for
    this submission); add checks to the entries. Returns False when the process broke."""
    sample, want_out, want_grads, dout = answers or oracle_answers(op.name, sample_name, seed)
    for entry in distinct(forward_entry, backward_entry):
        entry.sample, entry.stress = sample.name, sample.stress
    with_backward = with_backward and target.has_backward and not test_mode(sample)
    forward_entry.ran.append(sample.name)
    if with_backward and backward_entry is not forward_entry:
        backward_entry.ran.append(sample.name)
    request, n_calls = build_request(sandbox, target, op, sample, dout, with_backward)
    outcome = sandbox.call(request, n_calls)
    outputs = (outcome.reply or {}).get(P.RESULTS)
    run = _new_run(target, op, (sample, want_out, want_grads, dout), outputs, options, seed)
    own_mask = op.name == "dropout" and not test_mode(sample)
    _note_fast_layers(run.outputs, target, forward_entry, backward_entry)
    stage = outcome.stage
    backward_broke = bool(stage) and (stage == target.backward or stage.endswith(".backward"))

    if outcome.reply and outcome.reply.get(P.TODO):
        (backward_entry if backward_broke else forward_entry).not_yet(clean(outcome.message, 200))
        if not backward_broke and with_backward and backward_entry is not forward_entry:
            if documented(op.name):
                return _backward_alone(sandbox, run, backward_entry, "is a starter stub")
            backward_entry.ran.remove(sample.name)
            backward_entry.spared.append(sample.name)  # a forward's refusal spares its backward nothing
        if backward_broke and P.OUT in run.outputs:  # the forward ran: it is graded on its own
            _check_output(sandbox, run, forward_entry)
        return True
    if own_mask and outcome.status == "ok":
        _grade_dropout(sandbox, run, forward_entry, backward_entry, with_backward)
        return True
    if P.OUT in run.outputs or outcome.status == "ok":
        _check_output(sandbox, run, forward_entry)
    if target.kind in (VALUE, MODULE) and outcome.status == "ok":
        _check_extra_outputs(sandbox, run, forward_entry)
    if outcome.status != "ok":
        broken = backward_entry if backward_broke else forward_entry
        _report_failure(outcome, broken, sample.name)
        if broken is forward_entry and backward_entry is not forward_entry and with_backward:
            if documented(op.name):
                _backward_alone(sandbox, run, backward_entry, "failed")
            else:  # graded where its forward ran; here its input does not exist
                backward_entry.ran.remove(sample.name)
                backward_entry.unchecked.append(sample.name)
        return outcome.status == "error"
    _report_writes(sandbox, run, forward_entry, backward_entry, with_backward)
    if with_backward or target.kind in (LOSS_FUNCTION, MODEL):
        _check_gradients(sandbox, run, backward_entry)
    if op.state is not None:  # last: it may call the forward again, which retires this call's results
        _check_state(sandbox, run, forward_entry)
    _diagnose(run, forward_entry, backward_entry)
    return True


def _note_fast_layers(outputs, target, forward_entry, backward_entry):
    """Where the assignment allows it, a naive layer served by the shipped fast layers passes with a
    note that says so (the worker lists the *_naive functions they served)."""
    used = outputs.get(P.FAST_LAYERS)
    if not isinstance(used, list):
        return
    for name, entry in ((target.forward, forward_entry), (target.backward, backward_entry)):
        note = f"{name} calls cs231n.fast_layers (the assignment allows it)"
        if name in used and note not in entry.notes:
            entry.notes.append(note)


def _report_failure(outcome, broken, sample_name):
    """A call that raised, timed out or broke its process: the entry of the function it broke in."""
    status = TIMEOUT if outcome.status == "timeout" else ERROR
    verb = "raised" if outcome.status == "error" else "failed:"
    where = f"{outcome.stage} {verb} " if outcome.stage else ""
    broken.broke(status, f"{where}{explain_error(outcome.message)} [sample {sample_name}]")
    known = mistake_in_error(outcome.message)
    if known and known[0] not in broken.mistakes:
        broken.mistakes.append(known[0])
    broken.stopped = outcome.status != "error"


def judge_backward_alone(sandbox, target, op, sample_name, backward_entry, why, options=None, seed=0):
    """Grade a backward on one sample with the course's documented cache (its forward failed)."""
    answers = oracle_answers(op.name, sample_name, seed)
    sample = answers[0]
    backward_entry.sample, backward_entry.stress = sample.name, sample.stress
    backward_entry.ran.append(sample.name)
    run = _new_run(target, op, answers, {}, options, seed)
    return _backward_alone(sandbox, run, backward_entry, why)


def _new_run(target, op, answers, outputs, options, seed):
    """The Run of one sample: the oracle's answers, what came back, and the level it is judged at."""
    sample, want_out, want_grads, dout = answers
    return Run(
        target,
        op,
        sample,
        want_out,
        want_grads,
        dout,
        outputs if isinstance(outputs, dict) else {},
        policy.tolerance("float64", *tolerance_terms(op, sample.args)),
        options or Options(),
        policy.UNSEEN_SLACK if seed else 1.0,
    )


def _backward_alone(sandbox, run, backward_entry, why):
    """The student's backward on the cache the course documents, built from the sample and the
    reference forward's output; returns False when the process broke."""
    layout, cache = course_cache(run.op.name, run.sample.args, run.want_out)
    note = f"graded with the cache the course documents, {layout}, where {run.target.forward} {why}"
    if note not in backward_entry.notes:
        backward_entry.notes.append(note)
    outcome = sandbox.call(_backward_alone_request(sandbox, run.target, cache, run.dout), 1)
    outputs = (outcome.reply or {}).get(P.RESULTS)
    run.outputs = outputs if isinstance(outputs, dict) else {}
    if outcome.reply and outcome.reply.get(P.TODO):
        backward_entry.not_yet(clean(outcome.message, 200))
        return True
    if outcome.status == "error" and not backward_entry.checks and OWN_CACHE.search(outcome.message or ""):
        # It reads a cache of its own design, not the course's, and its forward has failed on every sample
        # so far: it cannot be judged. One already judged on its own cache must work on every input.
        if run.sample.name in backward_entry.ran:
            backward_entry.ran.remove(run.sample.name)
        backward_entry.unchecked.append(run.sample.name)
        backward_entry.notes[:] = [n for n in backward_entry.notes if n != note]
        return True
    if outcome.status != "ok":
        _report_failure(outcome, backward_entry, run.sample.name)
        return outcome.status == "error"
    _check_gradients(sandbox, run, backward_entry)
    _diagnose(run, backward_entry, backward_entry)
    return True


# How a backward that unpacks a cache of its own design fails on the course's documented one.
OWN_CACHE = re.compile(
    r"(ValueError: (not enough|too many) values to unpack|TypeError: cannot unpack|"
    r"IndexError: tuple index out of range|KeyError|object is not subscriptable)"
)


def _backward_alone_request(sandbox, target, cache, dout):
    return {
        P.KIND: P.FUNCTION,
        P.BACKWARD: target.backward,
        P.CACHE: _arg_spec(sandbox, cache),
        P.DOUT: sandbox.put(dout),
    }


def _in_a_layers_words(run, context):
    """A layer class's weight gradients are attributes its backward sets (self.dW): one that is None
    was never set, and a local dW is what students write instead."""
    attributes = dict(zip(run.op.grad_names[1:], run.target.grad_attrs))
    for index, (quantity, _, text) in enumerate(context.found):
        if quantity in attributes and text.startswith(f"{quantity} is None"):
            attribute = attributes[quantity]
            context.found[index] = (
                quantity,
                "attribute_not_set",
                f"backward never sets self.{attribute} (the layer's {quantity}): store it on the layer, "
                f"self.{attribute} = ...; a local {attribute} is lost when backward returns.",
            )


def timed_request(sandbox, target, op, sample, dout, out, forward_works):
    """(request, calls) the cost check times: the forward and backward, or, where the forward does not
    work, the backward alone on the cache the course documents (None where it documents none)."""
    if forward_works:
        return build_request(sandbox, target, op, sample, dout, True)
    if not documented(op.name):
        return None
    return _backward_alone_request(sandbox, target, course_cache(op.name, sample.args, out)[1], dout), 1


# Descriptions whose numbers change from sample to sample: said once per quantity, for the first sample.
SAID_ONCE = ("located", "local_gradient", "mean_in_log_sum_exp")


def _diagnose(run, forward_entry, backward_entry):
    """Name the mistakes behind this sample's wrong quantities; each goes to the function it is in."""
    if not run.failed:
        return
    args = as_float64(run.sample.args)
    first = args.get("x", next(iter(args.values())))
    context = Context(
        run.op.name,
        run.sample.name,
        args,
        run.dout,
        run.got,
        run.want,
        batch=np.shape(first)[0] if np.ndim(first) else 0,
        wrong=sorted(run.failed),
    )
    diagnose(context)
    if run.target.kind == CLASS:
        _in_a_layers_words(run, context)
    for entry in distinct(forward_entry, backward_entry):
        entry.formulas.extend(f for f in context.formulas if f not in entry.formulas)

    def owner(quantity):
        return backward_entry if is_gradient(quantity) else forward_entry

    for quantity in run.failed:
        owner(quantity).factors.setdefault(quantity, []).append(context.factors.get(quantity))
    for quantity, key, how in context.contradicted:
        owner(quantity).contradicted.add((quantity, key, how))
    for quantity, key, text in context.found:
        entry = owner(quantity)
        if key == "generic" and quantity in context.factors:
            entry.factor_hints.setdefault(quantity, []).append(text)
        if key in SAID_ONCE and (quantity, key) in {(q, k) for q, k, _ in entry.found}:
            continue
        entry.found.append((quantity, key, text))
        if text.split(".")[0] not in {h.split(".")[0] for h in entry.hints}:
            entry.hints.append(text)
        entry.mistakes.append(key)


def _check_output(sandbox, run, entry):
    """The forward's output (a loss, next_w for an update rule) against the oracle's."""
    target = run.target
    label = "loss" if target.is_loss else "next_w" if target.kind == UPDATE_RULE else "out"
    out = _plain(sandbox, run.outputs.get(P.OUT), entry, label, run.want_out)
    if out is None:
        return
    if target.kind == UPDATE_RULE and np.shape(out) == np.shape(run.want_out):
        # next_w is mostly w: the update's mistakes live in the step, so the step is what is compared.
        w = as_float64(run.sample.args)["w"]
        run.got["step"], run.want["step"] = out - w, run.want_out - w
        if not _compare(entry, "next_w - w (the step)", out - w, run.want_out - w, run.rounding, slack=run.slack):
            run.failed.add("step")
    else:
        run.got[label], run.want[label] = out, run.want_out
        if not _compare(entry, label, out, run.want_out, run.rounding, slack=run.slack):
            run.failed.add(label)
    entry.check(
        f"{label} finite", np.isfinite(out).all() or not np.isfinite(run.want_out).all(), f"{label} has NaN or inf"
    )


# A function's outputs after its first, where the course's function returns more: (name, the
# reference's function of them, its arguments).
EXTRA_OUTPUTS = {
    "dot_product_attention": (("attn_weights", ref.dot_product_attention_weights, ("prev_h", "A")),),
}


def _check_extra_outputs(sandbox, run, entry):
    """The outputs after the first (dot_product_attention's weights) against the reference's."""
    more = run.outputs.get(P.MORE) if isinstance(run.outputs.get(P.MORE), list) else []
    for number, (label, reference, names) in enumerate(EXTRA_OUTPUTS.get(run.op.name, ())):
        want = forward_answer(reference, [as_float64(run.sample.args)[n] for n in names], label)
        if number >= len(more):
            entry.check(
                label, False, f"{label}: not returned (want a tuple whose output {number + 2} has shape {want.shape})"
            )
            continue
        got = _plain(sandbox, more[number], entry, label, want)
        if got is not None and not _compare(entry, label, got, want, run.rounding, slack=run.slack):
            run.failed.add(label)


def _grade_dropout(sandbox, run, forward_entry, backward_entry, with_backward):
    """Train-mode dropout against the student's own mask (see dropout.py)."""
    x, p = as_float64(run.sample.args)["x"], run.sample.args["dropout_param"]["p"]
    out = _plain(sandbox, run.outputs.get(P.OUT), forward_entry, "out", x)
    if out is not None:
        dropout.check_forward(forward_entry, x, out, p, run.options.dropout_p)
    scale = None if out is None else dropout.own_scale(x, out)
    _report_writes(sandbox, run, forward_entry, backward_entry, with_backward)
    if not with_backward or scale is None:
        return
    run = dataclasses.replace(run, want_grads=[dropout.expected_dx(run.dout, scale)])
    _check_gradients(sandbox, run, backward_entry)
    run.got["out"] = out
    _diagnose(run, forward_entry, backward_entry)


DRAW_UNITS = 400  # two masks this wide agree by chance with probability 2^-400


def judge_dropout_draws(sandbox, target, op, entry):
    """A mask must be drawn, not fixed: two train-mode calls without a seed drop different units, two
    with the same seed the same ones (the notebook seeds the generator before each of its checks, so a
    mask fixed in the code gets past them). Said on the forward's entry."""
    x = np.linspace(1.0, 2.0, DRAW_UNITS).reshape(20, -1)  # never 0: the kept units are the non-zero outputs

    def kept(dropout_param):
        args = arg_specs(sandbox, [x, dropout_param])
        request = {P.KIND: P.FUNCTION, P.FIRST: target.forward, P.ARGS: args, P.OUTPUTS_COUNT: op.outputs}
        outcome = sandbox.call(request, 1)
        spec = ((outcome.reply or {}).get(P.RESULTS) or {}).get(P.OUT)
        out = _loaded(sandbox, spec, x) if outcome.status == "ok" and isinstance(spec, dict) else None
        return None if out is None or np.shape(out) != x.shape else out != 0

    unseeded = [kept({"mode": "train", "p": 0.5}) for _ in range(2)]
    seeded = [kept({"mode": "train", "p": 0.5, "seed": 31}) for _ in range(2)]
    if any(mask is None for mask in unseeded + seeded):
        return  # its samples already say what is wrong
    entry.sample = "two draws"
    entry.check(
        "mask drawn anew",
        not np.array_equal(*unseeded),
        "two calls without a seed dropped the same units: the mask must be drawn at random on every call "
        "(np.random.rand(*x.shape) < p), not fixed in the code",
    )
    entry.check(
        "mask follows the seed",
        np.array_equal(*seeded),
        "two calls with the same dropout_param['seed'] dropped different units: seed the generator with it "
        "(np.random.seed(dropout_param['seed'])) when it is given",
    )


def _check_gradients(sandbox, run, entry):
    op, specs = run.op, run.outputs.get(P.GRADS)
    specs = specs if isinstance(specs, list) else []
    if len(specs) != len(op.wrt):
        entry.check(
            "gradients", False, f"returned {len(specs)} gradient(s), want {len(op.wrt)} ({', '.join(op.grad_names)})"
        )
        return
    grads, floor = [], floors(op, run.want_grads)
    for name, spec, want, arg in zip(op.grad_names, specs, run.want_grads, [run.sample.args[n] for n in op.wrt]):
        got = None if spec is None else _plain(sandbox, spec, entry, name, want)
        grads.append(got)
        if spec is None:
            entry.check(name, False, f"{name} is None: it is not computed yet")
            run.failed.add(name)
            continue
        if got is None:
            continue
        got = in_own_convention(op, name, got, want, entry)
        if not _compare(entry, name, got, want, run.rounding, floor.get(name, 0.0), run.slack, run):
            run.failed.add(name)
        if np.shape(got) == np.shape(arg) and sandbox.framework != "torch":  # a tensor's dtype: _check_tensor
            entry.check(f"{name} dtype", got.dtype == arg.dtype, f"{name}.dtype={got.dtype}, want {arg.dtype}")
        entry.check(f"{name} finite", np.isfinite(got).all() or not np.isfinite(want).all(), f"{name} has NaN or inf")
    run.got.update(zip(op.grad_names, grads))
    run.want.update(zip(op.grad_names, run.want_grads))
    _keys_that_are_not_params(run, entry)
    _params_made_by_init(run, entry)
    if not run.options.allow_numerical_gradient:
        _check_derived(run, entry)


NUMBERED = re.compile(r"^([A-Za-z_]+?)(\d+)$")


def _keys_that_are_not_params(run, entry):
    """A model's grads holding keys its params do not have (grads['gamma0'] where the parameter is
    gamma1) is told so, and where the numbers are one off, that too: the gradients it did compute are
    under names nobody reads."""
    names = run.outputs.get(P.GRAD_NAMES)
    if not isinstance(names, list):
        return
    extra, missing = _against_params(names, run.op.wrt)
    if not extra or not missing:
        return
    shift = _one_off(extra, set(run.op.wrt))
    off = ""
    if shift:
        first = NUMBERED.match(extra[0])
        off = f": the layer numbers are one off ({extra[0]} for {first[1]}{int(first[2]) + shift})"
    hint = (
        f"grads holds {', '.join(extra)}, which are not parameters of the model, and lacks {', '.join(missing[:8])}"
        f"{off}; store each gradient under its own parameter's key, grads[k] for params[k]."
    )
    if hint not in entry.hints:
        entry.hints.insert(0, hint)  # it explains the gradients that come back None
        entry.mistakes.append("grads_keys_not_params")


def _params_made_by_init(run, entry):
    """A model's __init__ must make every parameter its loss() reads (the grader sets their values
    before calling loss, which would hide a key __init__ never makes: training would stop at it)."""
    made = run.outputs.get(P.INIT_KEYS)
    if not isinstance(made, list):
        return
    extra, missing = _against_params(made, run.op.wrt)
    holds = f"; it makes {', '.join(extra)} instead" if extra else ""
    said = (
        f"after __init__, model.params lacks {', '.join(missing[:8])}, which loss() reads: the model cannot "
        f"train as it is built{holds}"
    )
    entry.check("params after __init__", not missing, said)
    if missing and f"{said}." not in entry.hints:
        entry.hints.insert(0, f"{said}.")
        entry.mistakes.append("init_params_missing")


def _against_params(names, wrt):
    """(the keys a model's dict holds that are not parameters, cleaned, at most 8; the parameters it
    lacks) for `names`, the keys the worker reported (hostile: strings only, and identifiers kept)."""
    extra = [clean(n, 40) for n in names if isinstance(n, str) and n.isidentifier() and n not in wrt][:8]
    return extra, [n for n in wrt if n not in names]


def _one_off(extra, wrt):
    """+1 or -1 where every extra key is a parameter's name with its number one lower (or higher), else 0."""
    found = [NUMBERED.match(e) for e in extra]
    for shift in (1, -1):
        if all(f and f"{f[1]}{int(f[2]) + shift}" in wrt for f in found):
            return shift
    return 0


@functools.lru_cache(maxsize=None)
def convention_shaped(op_name):
    """{gradient name: (ndim, non-unit axes) of its argument in the default convention} for the
    gradients whose shape a course year's other convention changes (groupnorm's dgamma and dbeta:
    (1, C, 1, 1), or (C,) in the 2018-20 docstring)."""
    op = REGISTRY[op_name]
    tagged = [s for s in op.samples if s.convention]
    if not tagged:
        return {}
    default = op.draw_sample(next(s.name for s in op.samples if not s.convention), "float64").args
    other = op.draw_sample(tagged[0].name, "float64").args
    return {
        f"d{n}": (np.ndim(default[n]), tuple(i for i, d in enumerate(np.shape(default[n])) if d != 1))
        for n in op.wrt
        if np.ndim(default[n]) != np.ndim(other[n])
    }


def _other_convention_shape(want_shape, ndim, axes):
    if len(want_shape) == ndim:
        return tuple(want_shape[i] for i in axes)
    full = [1] * ndim
    for axis, size in zip(axes, want_shape):
        full[axis] = size
    return tuple(full)


def in_own_convention(op, name, got, want, entry):
    """A gradient in the shape of the course's other convention for it (dgamma (C,) where the forward
    took gamma (1, C, 1, 1), or the reverse) is judged in the convention it follows, and noted."""
    shaped = convention_shaped(op.name).get(name)
    if shaped is None or np.shape(got) != _other_convention_shape(np.shape(want), *shaped):
        return got
    note = f"{name} has the other convention's shape {np.shape(got)}: judged in it"
    if note not in entry.notes:
        entry.notes.append(note)
    return np.reshape(got, np.shape(want))


# A backward that differentiates numerically calls some function once or twice per input entry, and
# its gradients sit where central differences do: 1e-7..1e-10 relative, thousands of times the
# rounding level that a derived float64 gradient reaches. Both must show; a derived backward that calls
# a helper in a loop (conv windows, time steps) is accurate, and a recomputed forward is one call.
OWN_FORWARD_CALLS = 4
MANY_CALLS = 16
FINITE_DIFFERENCE_ACCURACY = 1e3  # x rounding level


# Ops whose derived gradient only routes dout (relu's mask, max-pool's argmax): right to the last bit
# in any style (the course corpus: 0 x rounding level on every sample), where a numerical one is off by
# finite differences' error. Their numerical gradient is one to four vectorised calls, so neither the
# cost nor the call count tells it apart; its accuracy does, judged here from the values alone.
ROUTING_OPS = ("relu", "max_pool")


def _check_derived(run, entry):
    """Fail a backward that computes its gradient numerically instead of deriving it."""
    right = not any(is_gradient(q) for q in run.failed)  # within the course's level, yet not to the bit
    if run.op.name in ROUTING_OPS and right and run.rounding_ratio >= FINITE_DIFFERENCE_ACCURACY:
        entry.check(
            "derived",
            False,
            f"the gradient is computed numerically: it is accurate only to {run.rounding_ratio:.0e}x rounding "
            "level, as finite differences are, where a derived one passes dout through unchanged, right to "
            "the last bit; the assignment is to derive the gradient",
        )
        entry.differentiates_numerically()
        return
    calls = run.outputs.get(P.CALLS)
    if not isinstance(calls, dict):
        return
    if calls.get(P.CALLS_INTACT) is False:
        entry.check("derived", False, "the backward switched off the grader's call counting (sys.setprofile)")
        entry.mistakes.append(NUMERICAL_GRADIENT)
        return
    own, most = calls.get(P.CALLS_OWN_FORWARD), calls.get(P.CALLS_MOST)
    if not (isinstance(own, int) and isinstance(most, int)):
        return
    entries = min((int(np.size(run.sample.args[n])) for n in run.op.wrt), default=1)
    many = own >= OWN_FORWARD_CALLS or most >= max(MANY_CALLS, entries)
    if many and run.rounding_ratio >= FINITE_DIFFERENCE_ACCURACY:
        called = (
            f"its forward {own} times"
            if own >= OWN_FORWARD_CALLS
            else f"{clean(str(calls.get(P.CALLS_MOST_NAME, '')), 60)} {most} times"
        )
        entry.check(
            "derived",
            False,
            f"the gradient is computed numerically: one backward called {called} (once or twice per input "
            f"entry), and it is accurate only to {run.rounding_ratio:.0e}x rounding level, as finite "
            "differences are; the assignment is to derive the gradient",
        )
        entry.differentiates_numerically()


def _by_name(target, names, specs):
    """{argument name: result spec} of the arguments as they came back (a packed params dict's
    entries under their own names)."""
    specs = list(specs) if isinstance(specs, list) else []
    if not target.packed:
        return dict(zip(names, specs))
    packed = specs[0].get(P.DICT) if specs and isinstance(specs[0], dict) else None
    rest = dict(zip([n for n in names if n not in target.packed], specs[1:]))
    return {**rest, **(packed if isinstance(packed, dict) else {})}


def _written(sandbox, before, specs, names, ignore=()):
    """Names of the array arguments whose value in `specs` ({name: spec}) differs from `before`."""
    return [
        n
        for n in names
        if n not in ignore
        and isinstance(before.get(n), np.ndarray)
        and not np.array_equal(_loaded(sandbox, specs.get(n), before[n]), before[n], equal_nan=True)
    ]


def _report_writes(sandbox, run, forward_entry, backward_entry, with_backward):
    """Writing into an argument is a warning naming the argument and the function that wrote."""
    op, target, names = run.op, run.target, passed_names(run.op, run.target)
    original = {n: run.sample.args[n] for n in names}
    if target.labels == "onehot":  # what was sent, not the index labels it was made from
        original["y"] = _one_hot(run.sample.args["y"], run.sample.args["x"].shape[1])
    forward_name = f"{target.forward}.forward" if target.kind == CLASS else forward_entry.name
    backward_name = f"{target.forward}.backward" if target.kind == CLASS else backward_entry.name
    mid_key = P.ARGS_MID if with_backward else P.ARGS_AFTER
    mid = _by_name(target, names, run.outputs.get(mid_key))
    for name in _written(sandbox, original, mid, names, op.mutable):
        forward_entry.warn(f"{forward_name} writes into its argument {name}")
    if not with_backward:
        return
    middle = {n: _loaded(sandbox, mid.get(n), original[n]) for n in names}
    after = _by_name(target, names, run.outputs.get(P.ARGS_AFTER))
    for name in _written(sandbox, middle, after, names, op.mutable):
        backward_entry.warn(f"{backward_name} writes into {name} (through the cache)")
    if P.DOUT_AFTER in run.outputs:
        after = _loaded(sandbox, run.outputs[P.DOUT_AFTER], run.dout)
        upstream = UPSTREAM.get(op.name, ("dout",))
        if after is None or np.shape(after) != np.shape(run.dout):
            backward_entry.warn(f"{backward_name} writes into dout")
        elif op.outputs > 1:
            for i, name in enumerate(upstream):
                if not np.array_equal(after[i], run.dout[i], equal_nan=True):
                    backward_entry.warn(f"{backward_name} writes into {name}")
        elif not np.array_equal(after, run.dout, equal_nan=True):
            backward_entry.warn(
                f"{backward_name} writes into {upstream[0]} (e.g. {upstream[0]}[mask] = 0); "
                "harmless in the course's pipeline, a bug where a gradient forks"
            )


def _check_state(sandbox, run, entry):
    """Train mode updates the running statistics as the course specifies; test mode leaves them;
    an update rule returns its config with the new moments."""
    op, sample = run.op, run.sample
    if op.kind == UPDATE:
        after = {"config": run.outputs.get(P.STATE)}
    else:
        names = passed_names(op, run.target)
        after = dict(zip(names, run.outputs.get(P.ARGS_AFTER) or []))
    expected = op.state(**as_float64(sample.args))
    loaded = {}  # all of them read before any other call (a new call retires this one's result files)
    for param, values in expected.items():
        saved = after.get(param) if isinstance(after.get(param), dict) else {}
        saved = saved.get(P.DICT) if isinstance(saved.get(P.DICT), dict) else {}
        for key, want in values.items():
            try:
                loaded[param, key] = sandbox.load(saved[key], want) if key in saved else None
            except BadResult as error:
                loaded[param, key] = error
    for param, values in expected.items():
        for key, want in values.items():
            label, value = f"{param}[{key!r}]", loaded[param, key]
            if value is None:
                entry.check(label, False, f"{label} was not stored")
                continue
            if isinstance(value, BadResult):
                entry.check(label, False, f"{label}: {value}")
                continue
            if _kept_with_extra_axes(sandbox, run, entry, param, key, value, want):
                continue
            run.got[label], run.want[label] = value, want
            if not _compare(entry, label, value, want, policy.TWO_RUNS * run.rounding, slack=run.slack):
                run.failed.add(label)


def _kept_with_extra_axes(sandbox, run, entry, param, key, value, want):
    """Running statistics stored with axes of length 1 (keepdims: (1, D) for (D,)) whose values are
    right are a warning, not a failure, where the forward in test mode on them gives what it gives on
    the course's shape (it is run again so, and checked)."""
    value, want = np.asarray(value, np.float64), np.asarray(want, np.float64)
    if value.shape == want.shape or value.size != want.size or np.squeeze(value).shape != np.squeeze(want).shape:
        return False
    if not policy.compare(
        key, value.reshape(want.shape), want, max(policy.TWO_RUNS * run.rounding, policy.COURSE_REL), "float64"
    ).passed:
        return False
    stored = {k: v for k, v in run.sample.args[param].items() if k != "mode"}
    kept = {**stored, key: value, "mode": "test"}
    course = {**stored, key: want, "mode": "test"}
    args = [run.sample.args[n] if n != param else kept for n in passed_names(run.op, run.target)]
    outcome = sandbox.call(
        {
            P.KIND: P.FUNCTION,
            P.FIRST: run.target.forward,
            P.ARGS: arg_specs(sandbox, args),
            P.OUTPUTS_COUNT: run.op.outputs,
        },
        1,
    )
    reference = [as_float64(run.sample.args)[n] if n != param else course for n in run.op.signature]
    want_out = forward_answer(run.op.reference, reference, f"test mode on {key}")
    spec = (outcome.reply or {}).get(P.RESULTS, {}).get(P.OUT) if outcome.status == "ok" else None
    try:
        out = sandbox.load(spec, want_out) if spec else None
    except BadResult:
        out = None
    if out is None or not policy.compare("out", out, want_out, max(run.rounding, policy.COURSE_REL), "float64").passed:
        return False
    entry.warn(
        f"{param}[{key!r}] is stored with shape {value.shape}, the course's is {want.shape}: its values are "
        "right and test mode gives the same output on it, but keep the course's shape (no keepdims)"
    )
    return True

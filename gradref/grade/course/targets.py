"""What `gradref grade` looks for in a submission: student-facing names mapped to registry ops.

Three conventions: the CS231n functions (`affine_forward`/`affine_backward`, `softmax_loss`, ...);
layer classes in the style of many textbooks (`Affine(W, b)` with `forward(x)`/`backward(dout)`
leaving `dW`, `db`; `Relu`; `Sigmoid`; `SoftmaxWithLoss`); and EECS 498-007/598-005's PyTorch
assignments (static `Linear.forward`/`Linear.backward`, `nn_forward_backward(params, X, y, reg)`,
the linear classifiers and RNN functions under CS231n's names), graded on torch tensors.
"""

import dataclasses
from dataclasses import dataclass

CS231N, LAYERS, EECS498 = "cs231n", "layers", "eecs498"
DROPOUT_SEED = 231  # a model built with dropout: its masks are the student's own dropout's draws with it

# What kind of thing a target is, and so how the worker calls it.
PAIR = "pair"  # forward(*args) -> (out, cache), backward(dout, cache) -> grads
FORWARD_ONLY = "forward only"  # a pair whose backward is absent: its forward graded on its own
LOSS_FUNCTION = "loss"  # loss(x, y) -> (loss, dx)
UPDATE_RULE = "update"  # rule(w, dw, config) -> (next_w, config)
CLASS = "class"  # cls(*init); out = forward(*args); dx = backward(dout); grads in attributes
MODEL = "model"  # cls(**its edition's arguments); params set; loss(X, y) -> (loss, grads keyed like params)
SCORES = "scores"  # scores(params, X) -> (scores, cache): a model's class scores, judged on their own
VALUE = "value"  # fn(*args) -> its output (a tuple of outputs: the first, and EXTRA_OUTPUTS), judged forward only
MODULE = "module"  # Cls(**its arguments) with `attrs` set, then Cls.method(*args) -> output(s), judged forward only


@dataclass(frozen=True)
class Target:
    """One gradable thing. `names` are what must be defined; `op` is the registry entry it is checked against."""

    op: str
    convention: str
    kind: str
    forward: str = ""  # PAIR, FORWARD_ONLY: the forward function; else the one function or class
    backward: str = ""  # PAIR: the backward function
    init: tuple = ()  # CLASS: registry argument names passed to the constructor; MODEL: not passed to loss()
    grad_attrs: tuple = ()  # CLASS: attributes read after backward, in the op's wrt order after dx
    is_loss: bool = False  # its output is a loss (a loss function, or a class such as SoftmaxWithLoss)
    labels: str = "index"  # how a loss class is handed its labels t: "index" or "onehot"
    twin: str = ""  # the op of the other regularisation convention (0.5 * reg), where years differ
    packed: tuple = ()  # registry arguments passed together as a dict, first (EECS 498's `params`)
    model: str = ""  # SCORES: the model whose scores it returns (judge.MODEL_SCORES)
    # MODEL: its other settings, judged into the same entry where the constructor takes them: (op, op of
    # the other regularisation convention, ((constructor argument names, value), ...)).
    variants: tuple = ()
    setting: tuple = ()  # MODEL: the ((names, value), ...) of the variant being judged
    attrs: tuple = ()  # MODULE: (registry argument, the attribute it is set as) pairs, before the call

    @property
    def names(self):
        return (self.forward, self.backward) if self.kind == PAIR else (self.forward,)

    @property
    def has_backward(self):
        """A backward is called after the forward (a pair's backward function, a class's method)."""
        return self.kind in (PAIR, CLASS)

    def forward_alone(self):
        """This pair with its backward absent: the forward graded on its own."""
        return dataclasses.replace(self, kind=FORWARD_ONLY, backward="")


def _pair(op, forward=None, backward=None):
    return Target(op, CS231N, PAIR, forward or f"{op}_forward", backward or f"{op}_backward")


def _class(op, cls, **fields):
    return Target(op, LAYERS, CLASS, cls, **fields)


def _classifier(op, function):
    """A linear classifier of assignment 1: (W, X, y, reg) -> (loss, dW), reg * sum(W^2) or, in other
    course years, 0.5 * reg * sum(W^2) (the op named with _half)."""
    return Target(op, CS231N, LOSS_FUNCTION, function, is_loss=True, twin=f"{op}_half")


def _model(op, cls, layers, twin):
    """A model class judged whole: built, params W1, b1, ..., W<layers>, b<layers> set, loss(X, y) and
    loss(X) judged; `twin` is the op of the other regularisation convention (0.5 * reg)."""
    params = tuple(f"{kind}{number}" for number in range(1, layers + 1) for kind in ("W", "b"))
    return Target(op, CS231N, MODEL, cls, init=(*params, "reg"), is_loss=True, twin=twin)


# CS231n's TwoLayerNet (neural_net.py 2016-19: loss(X, y, reg); fc_net.py: reg in the constructor),
# judged as a whole: reg * (|W1|^2 + |W2|^2), or 0.5 * reg * ... in the editions that say so.
TWO_LAYER_NET = _model("two_layer_net_full", "TwoLayerNet", 2, "two_layer_net")
# CS231n's FullyConnectedNet (fc_net.py) and EECS 498's with two hidden layers: without dropout or
# normalisation (off when dropout is 0 / dropout_keep_ratio is 1 and normalization None), then with
# batch and layer normalisation where CS231n's constructor takes them.
FULLY_CONNECTED_NET = dataclasses.replace(
    _model("fc_net_full", "FullyConnectedNet", 3, "fc_net"),
    variants=(  # dropout_keep_ratio= since 2020, dropout= before; normalization= since 2020, use_batchnorm= in 2017-19
        (
            "fc_net_dropout_full",
            "fc_net_dropout",
            ((("dropout_keep_ratio",), 0.5), (("dropout",), 0.5), (("seed",), DROPOUT_SEED)),
        ),
        ("fc_net_batchnorm_full", "fc_net_batchnorm", ((("normalization",), "batchnorm"), (("use_batchnorm",), True))),
        ("fc_net_layernorm_full", "fc_net_layernorm", ((("normalization",), "layernorm"),)),
    ),
)
# CS231n's ThreeLayerConvNet (cnn.py) and EECS 498's: conv - relu - 2x2 pool - affine - relu - affine.
THREE_LAYER_CONVNET = _model("three_layer_convnet_full", "ThreeLayerConvNet", 3, "three_layer_convnet")
# CS231n's CaptioningRNN (classifiers/rnn.py): built with cell_type "rnn", then "lstm" in the same entry;
# loss(features, captions), no regularisation.
CAPTIONING_RNN = Target(
    "captioning_rnn",
    CS231N,
    MODEL,
    "CaptioningRNN",
    init=("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"),
    is_loss=True,
    variants=(("captioning_lstm", "captioning_lstm", ((("cell_type",), "lstm"),)),),
)


TARGETS = (
    _pair("affine"),
    _pair("relu"),
    _pair("sigmoid"),
    _pair("tanh"),
    _pair("affine_relu"),
    *(_classifier("linear_svm", f"svm_loss_{way}") for way in ("naive", "vectorized")),
    *(_classifier("linear_softmax", f"softmax_loss_{way}") for way in ("naive", "vectorized")),
    TWO_LAYER_NET,
    FULLY_CONNECTED_NET,
    THREE_LAYER_CONVNET,
    CAPTIONING_RNN,
    Target("softmax_loss", CS231N, LOSS_FUNCTION, "softmax_loss", is_loss=True),
    Target("svm_loss", CS231N, LOSS_FUNCTION, "svm_loss", is_loss=True),
    _pair("batchnorm"),
    _pair("batchnorm_alt", "batchnorm_forward", "batchnorm_backward_alt"),
    _pair("layernorm"),
    _pair("spatial_batchnorm"),
    _pair("spatial_groupnorm"),
    _pair("dropout"),
    _pair("conv", "conv_forward_naive", "conv_backward_naive"),
    _pair("max_pool", "max_pool_forward_naive", "max_pool_backward_naive"),
    _pair("conv_relu"),
    _pair("conv_relu_pool"),
    _pair("affine_bn_relu"),
    _pair("affine_ln_relu"),
    _pair("rnn_step"),
    _pair("rnn"),
    _pair("lstm_step"),
    _pair("lstm"),
    _pair("word_embedding"),
    _pair("temporal_affine"),
    Target("temporal_softmax_loss", CS231N, LOSS_FUNCTION, "temporal_softmax_loss", is_loss=True),
    *(Target(rule, CS231N, UPDATE_RULE, rule) for rule in ("sgd", "sgd_momentum", "rmsprop", "adam")),
    _class("affine", "Affine", init=("w", "b"), grad_attrs=("dW", "db")),
    _class("relu", "Relu"),
    _class("sigmoid", "Sigmoid"),
    _class("tanh", "Tanh"),
    _class("softmax_loss", "SoftmaxWithLoss", is_loss=True),
)


def _static(op, cls, backward="backward"):
    """An EECS 498 layer: a class of static methods, `cls.forward(...)` and `cls.<backward>(dout, cache)`."""
    return Target(op, EECS498, PAIR, f"{cls}.forward", f"{cls}.{backward}")


def _eecs498(target):
    return dataclasses.replace(target, convention=EECS498)


TARGETS += (
    *(_eecs498(t) for t in TARGETS if t.op.startswith("linear_") and t.convention == CS231N),
    # "DO NOT multiply the regularization term by 1/2"; biases are not regularised.
    Target(
        "two_layer_net_full",
        EECS498,
        LOSS_FUNCTION,
        "nn_forward_backward",
        is_loss=True,
        packed=("W1", "b1", "W2", "b2"),
    ),
    # nn_forward_pass(params, X) -> (scores, hidden): the scores judged on every sample.
    Target(
        "two_layer_net_full", EECS498, SCORES, "nn_forward_pass", packed=("W1", "b1", "W2", "b2"), model="TwoLayerNet"
    ),
    # A3's TwoLayerNet: "L2 regularization does not include a factor of 0.5"; dtype= and device= given.
    dataclasses.replace(TWO_LAYER_NET, convention=EECS498, twin=""),
    dataclasses.replace(THREE_LAYER_CONVNET, convention=EECS498, twin=""),  # "no 0.5 factor"
    # A3's DeepConvNet, built with num_filters=[F1, F2], max_pools=[0], batchnorm=False then True.
    dataclasses.replace(
        _model("deep_convnet_full", "DeepConvNet", 3, "deep_convnet"),
        convention=EECS498,
        variants=(("deep_convnet_batchnorm_full", "deep_convnet_batchnorm", ((("batchnorm",), True),)),),
    ),
    # Its starter says the L2 term "includes a factor of 0.5", contradicting TwoLayerNet's: both conventions.
    dataclasses.replace(
        FULLY_CONNECTED_NET, convention=EECS498, variants=FULLY_CONNECTED_NET.variants[:1]
    ),  # no norms in A3
    _static("affine", "Linear"),
    _static("relu", "ReLU"),
    _static("dropout", "Dropout"),
    _static("conv", "Conv"),
    _static("max_pool", "MaxPool"),
    _static("batchnorm", "BatchNorm"),
    _static("batchnorm_alt", "BatchNorm", "backward_alt"),
    _static("spatial_batchnorm", "SpatialBatchNorm"),
    *(_eecs498(t) for t in TARGETS if t.kind == UPDATE_RULE and t.op != "sgd"),
    *(_eecs498(t) for t in TARGETS if t.op in ("rnn_step", "rnn")),
    # The captioning parts the course builds on autograd on purpose: their forward alone is graded.
    Target("temporal_softmax_ignore", EECS498, VALUE, "temporal_softmax_loss", is_loss=True),
    Target("dot_product_attention", EECS498, VALUE, "dot_product_attention"),
    Target("word_embedding", EECS498, MODULE, "WordEmbedding.forward", attrs=(("W", "W_embed"),)),
    # 2022's LSTM.step_forward method, 2020's lstm_step_forward function: (next_h, next_c), no cache.
    Target("lstm_step", EECS498, MODULE, "LSTM.step_forward", attrs=(("Wx", "Wx"), ("Wh", "Wh"), ("b", "b"))),
    Target("lstm_step", EECS498, VALUE, "lstm_step_forward"),
)

ALL_NAMES = tuple(dict.fromkeys(name for target in TARGETS for name in target.names))
TOP_NAMES = tuple(dict.fromkeys(name.split(".")[0] for name in ALL_NAMES))  # what a file defines


def is_present(name, present):
    """Whether a target's name is among the submission's `present` top-level names (a static
    method `Linear.forward` is there when its class is)."""
    return name.split(".")[0] in present


def detect(defined, framework="numpy"):
    """The conventions whose names appear among `defined` (a set of top-level names); a torch
    submission is EECS 498's."""
    if framework == "torch":
        return [EECS498]
    return [
        c
        for c in (CS231N, LAYERS)
        if any({n.split(".")[0] for n in t.names} & defined for t in TARGETS if t.convention == c)
    ]


def targets_for(conventions):
    return [t for t in TARGETS if t.convention in conventions]


# The CS231n assignment each function belongs to (for the report: list those, fold the rest).
ASSIGNMENTS = {
    "cs231n assignment 1": (
        "linear_svm",
        "linear_softmax",
        "two_layer_net_full",
        "affine",
        "relu",
        "affine_relu",
        "softmax_loss",
        "svm_loss",
        "sigmoid",
        "tanh",
    ),
    "cs231n assignment 2": (
        "affine",
        "relu",
        "affine_relu",
        "softmax_loss",
        "svm_loss",
        "batchnorm",
        "batchnorm_alt",
        "layernorm",
        "spatial_batchnorm",
        "spatial_groupnorm",
        "fc_net_full",
        "three_layer_convnet_full",
        "dropout",
        "conv",
        "max_pool",
        "conv_relu",
        "conv_relu_pool",
        "affine_bn_relu",
        "affine_ln_relu",
        "sgd",
        "sgd_momentum",
        "rmsprop",
        "adam",
    ),
    "cs231n assignment 3": (
        "captioning_rnn",
        "rnn_step",
        "rnn",
        "lstm_step",
        "lstm",
        "word_embedding",
        "temporal_affine",
        "temporal_softmax_loss",
    ),
}
# EECS 498's assignments by the names their files define (one op may be two assignments' functions:
# A2's nn_forward_backward and A3's TwoLayerNet are the same net).
EECS498_ASSIGNMENTS = {
    "eecs498 a2": (
        "nn_forward_pass",
        "svm_loss_naive",
        "svm_loss_vectorized",
        "softmax_loss_naive",
        "softmax_loss_vectorized",
        "nn_forward_backward",
    ),
    "eecs498 a3": (
        "TwoLayerNet",
        "FullyConnectedNet",
        *(f"{cls}.{method}" for cls in ("Linear", "ReLU", "Dropout") for method in ("forward", "backward")),
        "sgd_momentum",
        "rmsprop",
        "adam",
        *(f"{cls}.{method}" for cls in ("Conv", "MaxPool", "BatchNorm") for method in ("forward", "backward")),
        "BatchNorm.backward_alt",
        "SpatialBatchNorm.forward",
        "SpatialBatchNorm.backward",
        "ThreeLayerConvNet",
        "DeepConvNet",
    ),
    "eecs498 rnn": (
        "rnn_step_forward",
        "rnn_step_backward",
        "rnn_forward",
        "rnn_backward",
        "temporal_softmax_loss",
        "dot_product_attention",
        "WordEmbedding.forward",
        "LSTM.step_forward",
        "lstm_step_forward",
    ),
}
# The ops that say which assignment a file is from: assignment 1's are in assignment 2 as well.
DISTINCTIVE = {
    "cs231n assignment 2": tuple(
        op for op in ASSIGNMENTS["cs231n assignment 2"] if op not in ASSIGNMENTS["cs231n assignment 1"]
    ),
    "cs231n assignment 3": ASSIGNMENTS["cs231n assignment 3"],
}


def assignments_of(present, conventions):
    """The assignments whose functions the file defines (the textbook classes are one of their own)."""
    found = []
    if EECS498 in conventions:
        found += [name for name, members in EECS498_ASSIGNMENTS.items() if any(is_present(n, present) for n in members)]
    if LAYERS in conventions:
        found.append("textbook layer classes")
    if CS231N in conventions:
        ops = {t.op for t in TARGETS if t.convention == CS231N and set(t.names) & set(present)}
        found += [name for name, members in DISTINCTIVE.items() if ops & set(members)]
        if not any(name in found for name in DISTINCTIVE) and ops:
            found.append("cs231n assignment 1")
    return found


def in_assignments(target, assignments):
    """Whether a target belongs to one of the named assignments (listed in the report even if absent)."""
    if target.convention == LAYERS:
        return "textbook layer classes" in assignments
    if target.convention == EECS498:
        return any(set(target.names) & set(EECS498_ASSIGNMENTS.get(name, ())) for name in assignments)
    return any(target.op in ASSIGNMENTS.get(name, ()) for name in assignments)

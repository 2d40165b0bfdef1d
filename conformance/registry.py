"""The registry: one record per op, the single source of truth for tests, CLI, grading and benchmarks.

Each record pairs the hand-written forward/backward (looked up by name in an implementation module,
manual_grads by default) with the jax.numpy reference, its sample inputs, its kinks and its
tolerance terms. Adding an op is adding one entry to REGISTRY.
"""

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import manual_grads
from manual_grads._xp import namespace
from reference import functions as ref

from . import benchspec as bs
from . import tolerance as policy
from .samples import (
    LAYOUTS,
    Sample,
    SampleSpec,
    away_from_zero,
    clear_of_kinks,
    labels,
    normal,
    rng_for,
    uniform,
    with_layout,
)

LAYER, LOSS, UPDATE = "layer", "loss", "update"
OMIT = "omitted"  # in Op.defaults: the argument is left out of the call


class MissingFunction(NotImplementedError):
    """An implementation module lacks a function the registry names."""


def _stub(qualname):
    def missing(*args, **kwargs):
        raise MissingFunction(f"{qualname} is not defined")

    missing.missing = True
    missing.__name__ = qualname.rsplit(".", 1)[-1]
    return missing


def lookup(module, name):
    """module.name, or a stub that fails its own checks (and nothing else) when called."""
    fn = getattr(module, name, None)
    return fn if callable(fn) else _stub(f"{getattr(module, '__name__', module)}.{name}")


@dataclass(frozen=True)
class Op:
    """One op: how to run it by hand, how JAX computes it, what to feed it, how close to demand."""

    name: str
    signature: tuple  # positional arguments of the forward and of the reference
    wrt: tuple  # the differentiable arguments, in the order backward returns them
    reference: Callable
    samples: tuple  # SampleSpec records
    kind: str = LAYER  # LAYER: forward/backward; LOSS: fn(...) -> (loss, grads)
    manual_names: tuple = ()  # names looked up in the implementation module
    forward: Optional[Callable] = None
    backward: Optional[Callable] = None
    kinks: Optional[Callable] = None  # f(**args) -> values whose sign picks a branch
    reduction: Callable = lambda **args: 1  # K of the tolerance policy
    condition: Callable = lambda **args: 1.0
    tol_factor: float = 1.0
    description: str = ""
    bench: Optional[object] = None  # benchspec.BenchSpec: sizes and cost model
    mutable: tuple = ()  # arguments the forward may update (bn_param's running stats)
    state: Optional[Callable] = None  # f(**args) -> {param: {key: expected value after forward}}
    cancelling: tuple = ()  # gradients that are 0 by construction: measured on their siblings' scale
    traceable: bool = True  # the manual code runs under jax.jit (no writes into its own arrays)
    outputs: int = 1  # >1: forward returns (out_1, ..., out_k, cache), stacked here
    defaults: tuple = ()  # (argument, OMIT or f() -> its implicit form, f(**args) -> the explicit value)
    invalid: tuple = ()  # (argument, key, value) the forward must refuse with an exception

    @property
    def grad_names(self) -> tuple[str, ...]:
        return tuple("d" + name for name in self.wrt)

    @property
    def backward_name(self) -> str:
        return self.manual_names[-1]

    def bind(self, module) -> "Op":
        """This op with its manual functions taken from `module` (missing ones become stubs)."""
        fns = [lookup(module, n) for n in self.manual_names]
        if self.kind == UPDATE:  # rule(w, dw, config) -> (next_w, config): no backward to check
            return dataclasses.replace(self, forward=fns[0], backward=_no_backward)
        if self.kind == LOSS:
            return dataclasses.replace(self, forward=_loss_forward(fns[0], self.wrt), backward=_loss_backward)
        if self.outputs > 1:
            return dataclasses.replace(
                self, forward=_stacked_forward(fns[0], self.outputs), backward=_split_backward(fns[1], self.outputs)
            )
        return dataclasses.replace(self, forward=fns[0], backward=fns[1])

    def sample_names(self) -> list[str]:
        """Names of the op's samples, the first one's layout variants included."""
        first = self.samples[0].name
        return [s.name for s in self.samples] + [f"{first}/{layout}" for layout in LAYOUTS]

    def draw_sample(self, name: str, dtype: str, seed: int = 0) -> Sample:
        """The named sample in `dtype`, drawn from a seed fixed by the op's and sample's names (and
        `seed`: 0 is the registry's own draw)."""
        base, _, layout = name.partition("/")
        spec = next((s for s in self.samples if s.name == base), None)
        if spec is None:
            raise ValueError(f"op {self.name!r} has no sample {base!r}")
        rng = rng_for(f"{self.name}/{spec.name}", seed)
        sample = Sample(spec.name, clear_of_kinks(spec, self.kinks, rng, dtype), spec.small, spec.stress)
        return with_layout(sample, layout) if layout else sample


def _loss_forward(loss_fn, wrt):
    """Adapt `loss(...) -> (loss, grads)` to forward/backward: the grads ride in the cache."""

    def forward(*args):
        loss, grads = loss_fn(*args)
        if grads is None:  # the loss alone was asked for (manual_grads' value_only)
            return loss, None
        if isinstance(grads, dict):
            grads = tuple(grads.get(name) for name in wrt)
        elif not isinstance(grads, (tuple, list)):
            grads = (grads,)
        return loss, tuple(grads)

    forward.__name__ = getattr(loss_fn, "__name__", "loss")
    return forward


def _stacked_forward(forward, k):
    """forward(...) -> (out_1, ..., out_k, cache) as (stack of the outs, cache): one output to check."""

    def stacked(*args):
        *outs, cache = forward(*args)
        return namespace(outs[0]).stack(outs), cache

    stacked.__name__ = getattr(forward, "__name__", "forward")
    return stacked


def _split_backward(backward, k):
    def split(dout, cache):
        return backward(*[dout[i] for i in range(k)], cache)

    split.__name__ = getattr(backward, "__name__", "backward")
    return split


def _no_backward(dout, cache):
    return ()


def _loss_backward(dloss, grads):
    return tuple(dloss * g for g in grads)


# ----- helpers for kinks and reductions -----


def _flat(x):
    return x.reshape(x.shape[0], -1)


def _matmul_dims(*arrays):
    return max(max(a.shape) for a in arrays)


def _svm_margins(x, y):
    correct = x[np.arange(len(y)), y][:, None]
    mask = np.ones_like(x, dtype=bool)
    mask[np.arange(len(y)), y] = False
    return (x - correct + 1.0)[mask]


def _scores_size(x, **_):
    return float(np.max(np.abs(x), initial=1.0))


def _affine_args(rng, x_shape, m, scale=1.0):
    d = int(np.prod(x_shape[1:]))
    return {"x": normal(rng, *x_shape), "w": normal(rng, d, m, scale=scale), "b": normal(rng, m)}


def _pair(rng, *shape, scale=1.0):
    x = normal(rng, *shape, scale=scale)
    return x, normal(rng, *shape, scale=scale)


def _net_args(rng, n, d, h, c, reg):
    return {
        "X": normal(rng, n, d),
        "y": labels(rng, n, c),
        "W1": normal(rng, d, h, scale=1 / np.sqrt(d)),
        "b1": normal(rng, h, scale=0.1),
        "W2": normal(rng, h, c, scale=1 / np.sqrt(h)),
        "b2": normal(rng, c, scale=0.1),
        "reg": reg,
    }


def _classifier_args(rng, n, d, c, reg, scale=1.0):
    """A linear classifier's inputs: W (D, C) small, as the course initialises it, X (N, D), y, reg."""
    return {
        "W": normal(rng, d, c, scale=scale / np.sqrt(d)),
        "X": normal(rng, n, d),
        "y": labels(rng, n, c),
        "reg": reg,
    }


def _classifier_samples():
    return (
        SampleSpec("small", lambda r: _classifier_args(r, 5, 4, 3, 0.1), small=True),
        SampleSpec("course", lambda r: _classifier_args(r, 40, 30, 10, 0.5), small=True),
        SampleSpec("reg0", lambda r: _classifier_args(r, 8, 6, 4, 0.0), small=True),
        SampleSpec("n1", lambda r: _classifier_args(r, 1, 7, 3, 1.0), small=True),
        SampleSpec("strong_reg", lambda r: _classifier_args(r, 10, 8, 5, 50.0)),
        # A step along W moves every score by up to ~1e-4: no hinge margin may sit that close to 0.
        SampleSpec("wide", lambda r: _classifier_args(r, 100, 3073, 10, 2.5e-3, scale=3.0), margin=1e-4),
    )


def _classifier(name, manual, description, **kw):
    """A CS231n assignment-1 linear classifier: (W, X, y, reg) -> (loss, dW)."""
    return _loss(
        name,
        manual,
        ("W", "X", "y", "reg"),
        ("W",),
        _classifier_samples(),
        reduction=lambda W, X, **_: _matmul_dims(X, W),
        tol_factor=policy.CHAINED,
        description=description,
        **kw,
    )


def _two_layer_net(name, manual, largest, **kw):
    """The two-layer net as a loss of its parameters; `largest` is its one large sample."""
    samples = (
        SampleSpec("small", lambda r: _net_args(r, 5, 4, 10, 3, 0.05), small=True),
        SampleSpec("course", lambda r: _net_args(r, 32, 100, 50, 10, 0.1)),
        SampleSpec("n1", lambda r: _net_args(r, 1, 6, 8, 3, 0.0), small=True),
        largest,
    )
    kinks = lambda X, W1, b1, **_: _flat(X) @ W1 + b1  # noqa: E731
    reduction = lambda X, W1, W2, **_: _matmul_dims(_flat(X), W1, W2)  # noqa: E731
    return _model(name, manual, 2, samples, kinks, reduction, **kw)


def _dense_layers(rng, first, sizes):
    """W2, b2, W3, b3, ... of dense layers from `first` inputs through `sizes`, scaled by fan-in."""
    params = {}
    for number, (fan_in, fan_out) in enumerate(zip([first, *sizes[:-1]], sizes), 2):
        params[f"W{number}"] = normal(rng, fan_in, fan_out, scale=1 / np.sqrt(fan_in))
        params[f"b{number}"] = normal(rng, fan_out, scale=0.1)
    return params


def _fc_net_args(rng, n, d, h1, h2, c, reg):
    """FullyConnectedNet's inputs with two hidden layers: X (N, D) through W1 (D, H1), W2, W3 (H2, C)."""
    first = {"W1": normal(rng, d, h1, scale=1 / np.sqrt(d)), "b1": normal(rng, h1, scale=0.1)}
    return {"X": normal(rng, n, d), "y": labels(rng, n, c), **first, **_dense_layers(rng, h1, [h2, c]), "reg": reg}


def _fc_net_kinks(X, W1, b1, W2, b2, **_):
    first = _flat(X) @ W1 + b1
    return np.concatenate([first.ravel(), (np.maximum(first, 0) @ W2 + b2).ravel()])


def _convnet_args(rng, n, c, hw, filters, size, hidden, classes, reg):
    """ThreeLayerConvNet's inputs: X (N, C, H, W), W1 (F, C, size, size), then the pooled (F, H/2, W/2)
    through W2 (F*H*W/4, hidden) and W3 (hidden, classes)."""
    pooled = filters * (hw // 2) ** 2
    first = {
        "W1": normal(rng, filters, c, size, size, scale=1 / np.sqrt(c * size * size)),
        "b1": normal(rng, filters, scale=0.1),
    }
    return {
        "X": normal(rng, n, c, hw, hw),
        "y": labels(rng, n, classes),
        **first,
        **_dense_layers(rng, pooled, [hidden, classes]),
        "reg": reg,
    }


def _convnet_kinks(X, W1, b1, W2, b2, **_):
    """Where the net is not smooth: the conv's outputs (relu), the pool windows' ties, the hidden layer."""
    conv_param, pool_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}, _pool_param(2, 2)
    conved = manual_grads.conv_forward_fast(X, W1, b1, conv_param)[0]
    pooled = manual_grads.max_pool_forward_naive(np.maximum(conved, 0), pool_param)[0]
    return np.concatenate(
        [conved.ravel(), _pool_gaps(np.maximum(conved, 0), pool_param), (_flat(pooled) @ W2 + b2).ravel()]
    )


def _model_params(layers, normed=False):
    """W1, b1, ..., W<layers>, b<layers>; with `normed`, gamma<n>, beta<n> after each hidden layer's."""
    return tuple(
        f"{kind}{number}"
        for number in range(1, layers + 1)
        for kind in (("W", "b", "gamma", "beta") if normed and number < layers else ("W", "b"))
    )


def _model(name, manual, layers, samples, kinks, reduction, normed=False, **kw):
    """A whole model as a loss of its parameters W1, b1, ..., W<layers>, b<layers> (reg optional);
    `normed`: with a normalisation's gamma and beta after each hidden layer."""
    params = _model_params(layers, normed)
    return _loss(
        name,
        manual,
        ("X", "y", *params, "reg"),
        params,
        samples,
        kinks=kinks,
        defaults=(("reg", OMIT, lambda **_: 0.0),),
        reduction=reduction,
        tol_factor=policy.CHAINED,
        **kw,
    )


def _fc_net_kdim_args(rng):
    """X with k dimensions (N, 2, 3, 2), flattened by the first affine layer, and no regularisation."""
    args = _fc_net_args(rng, 3, 12, 6, 5, 3, 0.0)
    return {**args, "X": args["X"].reshape(3, 2, 3, 2)}


def _fc_net(name, manual, **kw):
    samples = (
        SampleSpec("small", lambda r: _fc_net_args(r, 5, 4, 6, 5, 3, 0.05), small=True),
        SampleSpec("course", lambda r: _fc_net_args(r, 2, 15, 20, 30, 10, 0.1), small=True),
        SampleSpec("kdim", _fc_net_kdim_args, small=True),
        SampleSpec("n1", lambda r: _fc_net_args(r, 1, 4, 6, 5, 3, 0.0), small=True),
    )
    reduction = lambda X, W1, W2, W3, **_: _matmul_dims(_flat(X), W1, W2, W3)  # noqa: E731
    return _model(name, manual, 3, samples, _fc_net_kinks, reduction, **kw)


def _with_norms(rng, args, sizes):
    """A 3-layer model's inputs with a normalisation after each hidden layer: gamma<n>, beta<n> of
    each size in `sizes`, in the order of the model's signature."""
    norms = {}
    for number, size in enumerate(sizes, 1):
        norms[f"gamma{number}"] = 1.0 + normal(rng, size, scale=0.2)
        norms[f"beta{number}"] = normal(rng, size, scale=0.2)
    return {key: (args | norms)[key] for key in ("X", "y", *_model_params(3, normed=True), "reg")}


def _fc_net_normed_args(rng, n, d, h1, h2, c, reg):
    """FullyConnectedNet's inputs with a normalisation after each hidden affine layer: gamma1, beta1
    (H1,) and gamma2, beta2 (H2,) beside _fc_net_args' weights."""
    return _with_norms(rng, _fc_net_args(rng, n, d, h1, h2, c, reg), (h1, h2))


def _fc_net_normed_kinks(axis):
    """Where the normalised net is not smooth: its ReLUs' inputs, gamma * xhat + beta, per hidden layer."""

    def kinks(X, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, **_):
        hidden, found = _flat(X), []
        for W, b, gamma, beta in ((W1, b1, gamma1, beta1), (W2, b2, gamma2, beta2)):
            a = hidden @ W + b
            centred = a - a.mean(axis=axis, keepdims=True)
            normed = gamma * centred / np.sqrt((centred**2).mean(axis=axis, keepdims=True) + 1e-5) + beta
            found.append(normed.ravel())
            hidden = np.maximum(normed, 0)
        return np.concatenate(found)

    return kinks


def _fc_net_normed(name, manual, normalization, **kw):
    """FullyConnectedNet(normalization=...) as a loss of W1, b1, gamma1, beta1, ..., W3, b3 (train mode)."""
    samples = (
        SampleSpec(normalization, lambda r: _fc_net_normed_args(r, 6, 4, 6, 5, 3, 0.05), small=True),
        SampleSpec(f"{normalization}-course", lambda r: _fc_net_normed_args(r, 4, 15, 20, 30, 10, 0.1), small=True),
    )
    reduction = lambda X, W1, W2, W3, **_: max(_matmul_dims(_flat(X), W1, W2, W3), X.shape[0])  # noqa: E731
    return _model(
        name,
        manual,
        3,
        samples,
        _fc_net_normed_kinks(0 if normalization == "batchnorm" else 1),
        reduction,
        normed=True,
        cancelling=("b1", "b2") if normalization == "batchnorm" else (),  # the batch mean takes them out
        **kw,
    )


DROPOUT_KEEP = 0.5  # keep and drop probability alike: every edition's reading of p gives the same masks


def _fc_net_dropout_args(rng, n, d, h1, h2, c, reg):
    """_fc_net_args with a dropout mask after each hidden ReLU, as inverted dropout scales it."""
    masks = {
        f"mask{number}": (rng.random((n, size)) < DROPOUT_KEEP) / DROPOUT_KEEP for number, size in ((1, h1), (2, h2))
    }
    return {**_fc_net_args(rng, n, d, h1, h2, c, reg), **masks}


def _fc_net_dropout(name, manual, **kw):
    """FullyConnectedNet with dropout, train mode, as a loss of W1..b3 with its masks given."""
    samples = (
        SampleSpec("dropout", lambda r: _fc_net_dropout_args(r, 6, 4, 6, 5, 3, 0.05), small=True),
        SampleSpec("dropout-course", lambda r: _fc_net_dropout_args(r, 4, 15, 20, 30, 10, 0.1), small=True),
    )
    params = tuple(f"{kind}{number}" for number in range(1, 4) for kind in ("W", "b"))
    reduction = lambda X, W1, W2, W3, **_: _matmul_dims(_flat(X), W1, W2, W3)  # noqa: E731
    return _loss(
        name,
        manual,
        ("X", "y", *params, "mask1", "mask2", "reg"),
        params,
        samples,
        kinks=_fc_net_dropout_kinks,
        defaults=(("reg", OMIT, lambda **_: 0.0),),
        reduction=reduction,
        tol_factor=policy.CHAINED,
        **kw,
    )


def _fc_net_dropout_kinks(X, W1, b1, W2, b2, mask1, **_):
    first = _flat(X) @ W1 + b1
    return np.concatenate([first.ravel(), ((np.maximum(first, 0) * mask1) @ W2 + b2).ravel()])


def _captioning_args(rng, n, t, d, w, h, v, gates):
    """CaptioningRNN's inputs: features (N, D); captions (N, T + 1) of <START>, words, <END> and <NULL>
    padding after it (index 0, as the course's word_to_idx has it); the params for an RNN (gates 1)
    or an LSTM (4) with hidden size H over a vocabulary of V."""
    lengths = rng.integers(1, t, size=n)
    lengths[0] = t - 1  # one caption fills every step
    captions = np.zeros((n, t + 1), dtype=np.int64)
    for row, length in enumerate(lengths):
        captions[row, 0], captions[row, 1 : length + 1], captions[row, length + 1] = (
            1,
            rng.integers(3, v, size=length),
            2,
        )
    return {
        "features": normal(rng, n, d),
        "captions": captions,
        "W_proj": normal(rng, d, h, scale=1 / np.sqrt(d)),
        "b_proj": normal(rng, h, scale=0.1),
        "W_embed": normal(rng, v, w),
        "Wx": normal(rng, w, gates * h, scale=1 / np.sqrt(w)),
        "Wh": normal(rng, h, gates * h, scale=1 / np.sqrt(h)),
        "b": normal(rng, gates * h, scale=0.1),
        "W_vocab": normal(rng, h, v, scale=1 / np.sqrt(h)),
        "b_vocab": normal(rng, v, scale=0.1),
    }


CAPTIONING_PARAMS = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")


def _captioning(name, manual, gates, **kw):
    """CaptioningRNN.loss as a loss of its params (no regularisation)."""
    cell = "" if gates == 1 else "lstm"  # the LSTM's samples named apart: one entry grades both cells
    samples = (
        SampleSpec(cell or "small", lambda r: _captioning_args(r, 3, 5, 6, 4, 5, 9, gates), small=True),
        SampleSpec(f"{cell}-n1" if cell else "n1", lambda r: _captioning_args(r, 1, 4, 5, 3, 4, 7, gates), small=True),
    )
    return _loss(
        name,
        manual,
        ("features", "captions", *CAPTIONING_PARAMS),
        CAPTIONING_PARAMS,
        samples,
        reduction=lambda W_vocab, Wh, **_: max(W_vocab.shape[1], Wh.shape[0]),
        tol_factor=policy.CHAINED,
        **kw,
    )


def _deep_convnet_args(rng, n, c, hw, f1, f2, classes, reg):
    """DeepConvNet's inputs with num_filters=[F1, F2], max_pools=[0]: X (N, C, H, W), W1 (F1, C, 3, 3),
    W2 (F2, F1, 3, 3), W3 (F2 * H/2 * W/2, classes)."""
    return {
        "X": normal(rng, n, c, hw, hw),
        "y": labels(rng, n, classes),
        "W1": normal(rng, f1, c, 3, 3, scale=1 / np.sqrt(9 * c)),
        "b1": normal(rng, f1, scale=0.1),
        "W2": normal(rng, f2, f1, 3, 3, scale=1 / np.sqrt(9 * f1)),
        "b2": normal(rng, f2, scale=0.1),
        "W3": normal(rng, f2 * (hw // 2) ** 2, classes, scale=1 / np.sqrt(f2 * (hw // 2) ** 2)),
        "b3": normal(rng, classes, scale=0.1),
        "reg": reg,
    }


def _deep_convnet_kinks(X, W1, b1, W2, b2, **_):
    """Its ReLUs' inputs and the first pool's ties."""
    same, pool = {"stride": 1, "pad": 1}, _pool_param(2, 2)
    conved = manual_grads.conv_forward_fast(X, W1, b1, same)[0]
    pooled = manual_grads.max_pool_forward_naive(np.maximum(conved, 0), pool)[0]
    second = manual_grads.conv_forward_fast(pooled, W2, b2, same)[0]
    return np.concatenate([conved.ravel(), _pool_gaps(np.maximum(conved, 0), pool), second.ravel()])


def _deep_convnet(name, manual, **kw):
    samples = (
        SampleSpec("small", lambda r: _deep_convnet_args(r, 2, 3, 4, 3, 4, 3, 0.05), small=True),
        SampleSpec("n1", lambda r: _deep_convnet_args(r, 1, 2, 4, 2, 3, 4, 0.0), small=True),
    )
    reduction = lambda X, W1, W2, W3, **_: max(9 * X.shape[1], 9 * W1.shape[0], W3.shape[0])  # noqa: E731
    return _model(name, manual, 3, samples, _deep_convnet_kinks, reduction, traceable=False, **kw)


def _deep_convnet_batchnorm_args(rng, n, c, hw, f1, f2, classes, reg):
    """_deep_convnet_args with a spatial batch norm after each conv: gamma1, beta1 (F1,), gamma2, beta2 (F2,)."""
    return _with_norms(rng, _deep_convnet_args(rng, n, c, hw, f1, f2, classes, reg), (f1, f2))


def _deep_convnet_batchnorm_kinks(X, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, **_):
    """Its ReLUs' inputs (after each batch norm) and the pool's ties."""
    same, pool = {"stride": 1, "pad": 1}, _pool_param(2, 2)
    first = manual_grads.conv_forward_fast(X, W1, b1, same)[0]
    first = manual_grads.spatial_batchnorm_forward(first, gamma1, beta1, {"mode": "train"})[0]
    pooled = manual_grads.max_pool_forward_naive(np.maximum(first, 0), pool)[0]
    second = manual_grads.conv_forward_fast(pooled, W2, b2, same)[0]
    second = manual_grads.spatial_batchnorm_forward(second, gamma2, beta2, {"mode": "train"})[0]
    return np.concatenate([first.ravel(), _pool_gaps(np.maximum(first, 0), pool), second.ravel()])


def _deep_convnet_batchnorm(name, manual, **kw):
    """DeepConvNet(batchnorm=True) as a loss of W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3."""
    samples = (
        SampleSpec("batchnorm", lambda r: _deep_convnet_batchnorm_args(r, 3, 2, 4, 3, 4, 3, 0.05), small=True),
        SampleSpec("batchnorm-n1", lambda r: _deep_convnet_batchnorm_args(r, 1, 3, 4, 2, 3, 4, 0.0), small=True),
    )
    reduction = lambda X, W1, W3, **_: max(9 * X.shape[1], 9 * W1.shape[0], W3.shape[0], X.shape[0] * 16)  # noqa: E731
    return _model(
        name,
        manual,
        3,
        samples,
        _deep_convnet_batchnorm_kinks,
        reduction,
        normed=True,
        cancelling=("b1", "b2"),  # the batch mean takes the conv biases out
        traceable=False,
        **kw,
    )


def _three_layer_convnet(name, manual, **kw):
    samples = (
        SampleSpec("small", lambda r: _convnet_args(r, 2, 3, 6, 4, 3, 5, 3, 0.05), small=True),
        SampleSpec("course", lambda r: _convnet_args(r, 4, 3, 8, 6, 5, 10, 4, 0.1), small=True),
        SampleSpec("n1", lambda r: _convnet_args(r, 1, 2, 4, 2, 3, 4, 3, 0.0), small=True),
    )
    reduction = lambda X, W1, W2, **_: max(int(np.prod(W1.shape[1:])), W2.shape[0])  # noqa: E731
    return _model(name, manual, 3, samples, _convnet_kinks, reduction, traceable=False, **kw)


def _elementwise_samples(large_low, large_high):
    return (
        SampleSpec("small", lambda r: {"x": away_from_zero(normal(r, 3, 4))}, small=True),
        SampleSpec("kdim", lambda r: {"x": away_from_zero(normal(r, 2, 3, 4, 5))}, small=True),
        SampleSpec("n1", lambda r: {"x": away_from_zero(normal(r, 1, 6))}, small=True),
        SampleSpec("large", lambda r: {"x": away_from_zero(normal(r, 1000, 100))}),
        SampleSpec(
            "extreme",
            lambda r: {
                "x": np.concatenate(
                    [uniform(r, 200, 5, low=large_low, high=large_high), away_from_zero(normal(r, 200, 5))]
                )
            },
            stress=True,
        ),
    )


def _loss_samples(wide_margin=1e-4):
    return (
        SampleSpec("small", lambda r: {"x": normal(r, 5, 4), "y": labels(r, 5, 4)}, small=True),
        SampleSpec(
            "course",
            lambda r: {"x": normal(r, 50, 10, scale=1e-3) + normal(r, 50, 10), "y": labels(r, 50, 10)},
            small=True,
        ),
        SampleSpec("n1", lambda r: {"x": normal(r, 1, 7), "y": labels(r, 1, 7)}, small=True),
        SampleSpec(
            "large_scores", lambda r: {"x": uniform(r, 64, 10, low=-500, high=500), "y": labels(r, 64, 10)}, stress=True
        ),
        # exp overflows float64 past 709: a softmax that skips the max shift returns inf or NaN here.
        SampleSpec(
            "huge_scores",
            lambda r: {"x": uniform(r, 16, 10, low=-1000, high=1000), "y": labels(r, 16, 10)},
            stress=True,
        ),
        SampleSpec("wide", lambda r: {"x": normal(r, 256, 1000), "y": labels(r, 256, 1000)}, margin=wide_margin),
    )


def _affine_samples():
    return (
        SampleSpec("small", lambda r: _affine_args(r, (4, 5), 3), small=True),
        SampleSpec("kdim", lambda r: _affine_args(r, (2, 4, 5, 6), 3), small=True),
        SampleSpec("n1", lambda r: _affine_args(r, (1, 7), 4), small=True),
        SampleSpec("square", lambda r: _affine_args(r, (6, 6), 6), small=True),
        SampleSpec("wide", lambda r: _affine_args(r, (64, 4096), 1024, scale=1 / 64)),
    )


def _linear_args(rng, n, d_in, d_out):
    return {"X": normal(rng, n, d_in), "W": normal(rng, d_out, d_in), "B": normal(rng, d_out)}


def _layer(name, signature, wrt, samples, manual=None, **kw):
    return Op(
        name,
        signature,
        wrt,
        getattr(ref, name),
        samples,
        manual_names=manual or (f"{name}_forward", f"{name}_backward"),
        **kw,
    )


def _loss(name, manual_name, signature, wrt, samples, **kw):
    return Op(name, signature, wrt, getattr(ref, name), samples, kind=LOSS, manual_names=(manual_name,), **kw)


_SPECS = (
    _layer(
        "affine",
        ("x", "w", "b"),
        ("x", "w", "b"),
        _affine_samples(),
        reduction=lambda x, w, b: _matmul_dims(_flat(x), w),
        bench=bs.gemm_spec(bs.affine_draw),
        description="x (N, d1..dk) as (N, D), w (D, M), b (M,): out = x w + b",
    ),
    _layer(
        "linear",
        ("X", "W", "B"),
        ("X", "W", "B"),
        (
            SampleSpec("small", lambda r: _linear_args(r, 4, 5, 3), small=True),
            SampleSpec("n1", lambda r: _linear_args(r, 1, 7, 4), small=True),
            SampleSpec("square", lambda r: _linear_args(r, 6, 6, 6), small=True),
            SampleSpec(
                "wide",
                lambda r: {"X": normal(r, 64, 4096), "W": normal(r, 1024, 4096, scale=1 / 64), "B": normal(r, 1024)},
            ),
        ),
        reduction=lambda X, W, B: _matmul_dims(X, W),
        bench=bs.gemm_spec(bs.linear_draw, sizes=bs.GEMM_SIZES[1:4], quick=bs.GEMM_SIZES[1:4]),
        description="PyTorch layout: W (D_out, D_in), Y = X W^T + B",
    ),
    _layer(
        "relu",
        ("x",),
        ("x",),
        _elementwise_samples(-1e3, 1e3)
        + (
            SampleSpec(
                "at_kinks",
                lambda r: {"x": np.where(r.random((4, 5)) < 0.3, 0.0, normal(r, 4, 5))},
                at_kinks=True,
                graded=False,
            ),
        ),
        kinks=lambda x: x,
        bench=bs.elementwise_spec(),
        description="max(x, 0), gradient 0 at 0",
    ),
    _layer(
        "sigmoid",
        ("x",),
        ("x",),
        _elementwise_samples(-1e3, 1e3),
        tol_factor=policy.FROM_OUTPUT,
        bench=bs.elementwise_spec(),
        description="1 / (1 + exp(-x)), stable for |x| up to 1e3",
    ),
    _layer(
        "tanh",
        ("x",),
        ("x",),
        _elementwise_samples(-50, 50),
        tol_factor=policy.FROM_OUTPUT,
        bench=bs.elementwise_spec(),
        description="tanh(x)",
    ),
    _loss(
        "softmax_loss",
        "softmax_loss",
        ("x", "y"),
        ("x",),
        _loss_samples(),
        reduction=lambda x, y: x.size,
        condition=_scores_size,
        bench=bs.loss_spec(),
        description="mean cross-entropy of softmax(x) over N rows",
    ),
    _loss(
        "svm_loss",
        "svm_loss",
        ("x", "y"),
        ("x",),
        _loss_samples(wide_margin=1e-6)
        + (
            # Whole-number scores: many margins x_j - x_y + 1 are exactly 0, where the hinge has no gradient.
            SampleSpec(
                "at_kinks",
                lambda r: {"x": r.integers(-2, 3, (8, 5)).astype(float), "y": labels(r, 8, 5)},
                at_kinks=True,
                graded=False,
            ),
        ),
        kinks=_svm_margins,
        reduction=lambda x, y: x.size,
        bench=bs.loss_spec(),
        description="mean multiclass hinge loss, margin 1",
    ),
    _classifier(
        "linear_svm",
        "linear_svm_loss",
        "a linear SVM: mean hinge loss of the scores X W + reg sum(W^2)",
        kinks=lambda W, X, y, **_: _svm_margins(X @ W, y),
    ),
    _classifier(
        "linear_svm_half",
        "linear_svm_loss_half",
        "a linear SVM: mean hinge loss of the scores X W + 0.5 reg sum(W^2)",
        kinks=lambda W, X, y, **_: _svm_margins(X @ W, y),
    ),
    _classifier(
        "linear_softmax",
        "linear_softmax_loss",
        "a linear softmax classifier: mean cross-entropy of the scores X W + reg sum(W^2)",
    ),
    _classifier(
        "linear_softmax_half",
        "linear_softmax_loss_half",
        "a linear softmax classifier: mean cross-entropy of the scores X W + 0.5 reg sum(W^2)",
    ),
    _layer(
        "affine_relu",
        ("x", "w", "b"),
        ("x", "w", "b"),
        (
            SampleSpec("small", lambda r: _affine_args(r, (4, 5), 3), small=True),
            SampleSpec("kdim", lambda r: _affine_args(r, (2, 3, 4), 5), small=True),
            SampleSpec("n1", lambda r: _affine_args(r, (1, 7), 4), small=True),
            SampleSpec("square", lambda r: _affine_args(r, (6, 6), 6), small=True),
            SampleSpec("wide", lambda r: _affine_args(r, (16, 2048), 1024, scale=1 / 45), margin=2e-5),
        ),
        kinks=lambda x, w, b: _flat(x) @ w + b,
        reduction=lambda x, w, b: _matmul_dims(_flat(x), w),
        bench=bs.gemm_spec(bs.affine_draw, sizes=bs.GEMM_SIZES[1:4], quick=bs.GEMM_SIZES[1:4]),
        description="relu(affine(x, w, b))",
    ),
    _two_layer_net(
        "two_layer_net",
        "two_layer_net_loss",
        SampleSpec("wide", lambda r: _net_args(r, 16, 4096, 1024, 10, 1e-3), margin=2e-5),
        bench=bs.net_spec(),
        description="affine - relu - affine - softmax, loss + 0.5 reg (|W1|^2 + |W2|^2)",
    ),
    _two_layer_net(
        "two_layer_net_full",
        "two_layer_net_loss_full",
        # The model-sized sample the grader times it on (the 0.5 twin's wide sample is the precision test).
        SampleSpec("model", lambda r: _net_args(r, 64, 512, 256, 10, 1e-3)),
        description="affine - relu - affine - softmax, loss + reg (|W1|^2 + |W2|^2) (CS231n 2017 on)",
    ),
    _fc_net(
        "fc_net",
        "fc_net_loss",
        description="{affine - relu} x 2 - affine - softmax, loss + 0.5 reg (|W1|^2 + |W2|^2 + |W3|^2) "
        "(CS231n's FullyConnectedNet without dropout or normalisation)",
    ),
    _fc_net(
        "fc_net_full",
        "fc_net_loss_full",
        description="the fully-connected net with loss + reg (|W1|^2 + |W2|^2 + |W3|^2)",
    ),
    _captioning(
        "captioning_rnn",
        "captioning_rnn_loss",
        1,
        description="CS231n's CaptioningRNN loss with cell_type 'rnn': projected features as h0, embedded words, "
        "temporal affine, softmax over the non-<NULL> steps",
    ),
    _captioning("captioning_lstm", "captioning_lstm_loss", 4, description="CaptioningRNN with cell_type 'lstm'"),
    *(
        _fc_net_dropout(
            f"fc_net_dropout{full}",
            f"fc_net_dropout_loss{full}",
            description="FullyConnectedNet(dropout), two hidden layers, train mode, the masks given: "
            + ("reg * sum |W|^2" if full else "0.5 * reg * sum |W|^2"),
        )
        for full in ("", "_full")
    ),
    *(
        _fc_net_normed(
            f"fc_net_{norm}{full}",
            f"fc_net_{norm}_loss{full}",
            norm,
            description=f"FullyConnectedNet(normalization='{norm}'), two hidden layers, train mode: "
            + ("reg * sum |W|^2" if full else "0.5 * reg * sum |W|^2"),
        )
        for norm in ("batchnorm", "layernorm")
        for full in ("", "_full")
    ),
    _deep_convnet(
        "deep_convnet",
        "deep_convnet_loss",
        description="EECS 498's DeepConvNet, num_filters [F1, F2], max_pools [0]: {conv 3x3 - relu - [pool]} x 2 "
        "- linear - softmax, loss + 0.5 reg sum |W|^2",
    ),
    _deep_convnet("deep_convnet_full", "deep_convnet_loss_full", description="DeepConvNet with loss + reg sum |W|^2"),
    _deep_convnet_batchnorm(
        "deep_convnet_batchnorm",
        "deep_convnet_batchnorm_loss",
        description="DeepConvNet(batchnorm=True), train mode: {conv 3x3 - spatial batch norm - relu - [pool]} x 2 "
        "- linear - softmax, loss + 0.5 reg sum |W|^2",
    ),
    _deep_convnet_batchnorm(
        "deep_convnet_batchnorm_full",
        "deep_convnet_batchnorm_loss_full",
        description="DeepConvNet(batchnorm=True) with loss + reg sum |W|^2",
    ),
    _three_layer_convnet(
        "three_layer_convnet",
        "three_layer_convnet_loss",
        description="conv (same padding) - relu - 2x2 max pool - affine - relu - affine - softmax, "
        "loss + 0.5 reg (|W1|^2 + |W2|^2 + |W3|^2) (CS231n's cnn.py)",
    ),
    _three_layer_convnet(
        "three_layer_convnet_full",
        "three_layer_convnet_loss_full",
        description="the three-layer convnet with loss + reg (|W1|^2 + |W2|^2 + |W3|^2) (EECS 498)",
    ),
    _layer(
        "add_mul_circuit",
        ("x", "y", "z"),
        ("x", "y", "z"),
        (
            SampleSpec("vector", lambda r: dict(zip("xyz", (normal(r, 5) for _ in range(3)))), small=True),
            SampleSpec(
                "scalar", lambda r: {"x": np.asarray(-2.0), "y": np.asarray(5.0), "z": np.asarray(-4.0)}, small=True
            ),
        ),
        bench=bs.elementwise_spec(("x", "y", "z"), 4, 3, sizes=(1_000, 1_000_000)),
        description="f = (x + y) z",
    ),
    _layer(
        "sigmoid_neuron",
        ("w", "x"),
        ("w", "x"),
        (
            SampleSpec("notes", lambda r: {"w": np.array([2.0, -3.0, -3.0]), "x": np.array([-1.0, -2.0])}, small=True),
            SampleSpec("random", lambda r: {"w": normal(r, 11), "x": normal(r, 10)}, small=True),
        ),
        reduction=lambda w, x: w.size,
        bench=bs.neuron_spec(),
        description="f = sigma(w0 x0 + w1 x1 + w2)",
    ),
    _layer(
        "staged_expression",
        ("x", "y"),
        ("x", "y"),
        (
            SampleSpec("vector", lambda r: dict(zip("xy", _pair(r, 6))), small=True),
            SampleSpec("notes", lambda r: {"x": np.asarray(3.0), "y": np.asarray(-4.0)}, small=True),
            SampleSpec("grid", lambda r: dict(zip("xy", _pair(r, 40, 30, scale=3.0)))),
        ),
        tol_factor=policy.CHAINED,
        bench=bs.elementwise_spec(("x", "y"), 10, 2, sizes=(1_000, 1_000_000)),
        description="f = (x + sigma(y)) / (sigma(x) + (x + y)^2), stage by stage",
    ),
    _layer(
        "max_gate",
        ("x", "y"),
        ("x", "y"),
        (
            SampleSpec("vector", lambda r: dict(zip("xy", _pair(r, 6))), small=True),
            SampleSpec("matrix", lambda r: dict(zip("xy", _pair(r, 30, 20)))),
            SampleSpec(
                "ties",
                lambda r: (lambda x, y, tie: {"x": x, "y": np.where(tie, x, y)})(
                    *_pair(r, 4, 5), r.random((4, 5)) < 0.4
                ),
                at_kinks=True,
                graded=False,
            ),
        ),
        kinks=lambda x, y: x - y,
        bench=bs.elementwise_spec(("x", "y"), 3, 2, sizes=(1_000, 1_000_000)),
        description="max(x, y); the gradient goes to y at a tie",
    ),
    _layer(
        "matmul",
        ("W", "X"),
        ("W", "X"),
        (
            SampleSpec("small", lambda r: {"W": normal(r, 3, 4), "X": normal(r, 4, 5)}, small=True),
            SampleSpec("square", lambda r: {"W": normal(r, 5, 5), "X": normal(r, 5, 5)}, small=True),
            SampleSpec("n1", lambda r: {"W": normal(r, 1, 4), "X": normal(r, 4, 1)}, small=True),
            SampleSpec("wide", lambda r: {"W": normal(r, 64, 4096), "X": normal(r, 4096, 1024, scale=1 / 64)}),
        ),
        reduction=lambda W, X: _matmul_dims(W, X),
        bench=bs.gemm_spec(bs.matmul_draw, sizes=bs.GEMM_SIZES[1:4], quick=bs.GEMM_SIZES[1:4]),
        description="D = W X",
    ),
)

# ----- the rest of the CS231n layer set -----


def _as_read(text):
    """The string as a config file or a notebook builds it, not an interned literal: code that
    compares modes with `is` instead of `==` takes the wrong branch here, as it does for users."""
    return "".join(list(text))


def _bn_param(rng, d, mode="train", eps=1e-5, momentum=0.9):
    return {
        "mode": _as_read(mode),
        "eps": eps,
        "momentum": momentum,
        "running_mean": normal(rng, *d, scale=0.1),
        "running_var": 1 + uniform(rng, *d, low=0.0, high=0.5),
    }


def _norm_args(rng, n, d, mode="train", **param):
    return {
        "x": normal(rng, n, d, scale=2.0) + 1.0,
        "gamma": 1 + normal(rng, d, scale=0.2),
        "beta": normal(rng, d, scale=0.2),
        "bn_param": _bn_param(rng, (d,), mode, **param),
    }


def _far_from_zero(args, offset=1000.0):
    """x = offset + N(0, 1): a one-pass variance E[x^2] - E[x]^2 cancels catastrophically here."""
    return {**args, "x": offset + (args["x"] - 1.0) / 2.0}


def _norm_condition(x, **_):
    # How far the mean sits from 0 in units of the spread: float32 rounding of x - mean scales with it.
    return 1.0 + float(np.max(np.abs(np.mean(x, axis=-1)) / (np.std(x, axis=-1) + 1e-12)))


def _running_update(axes):
    """The state rule of batch normalisation over `axes`: train mode moves the running statistics."""

    def state(x, bn_param, **_):
        if bn_param["mode"] != "train":
            return {"bn_param": {k: bn_param[k] for k in ("running_mean", "running_var")}}
        m = bn_param["momentum"]
        return {
            "bn_param": {
                "running_mean": m * bn_param["running_mean"] + (1 - m) * x.mean(axis=axes),
                "running_var": m * bn_param["running_var"] + (1 - m) * x.var(axis=axes),
            }
        }

    return state


def _spatial_args(rng, n, c, h, w, mode="train", **param):
    return {
        "x": normal(rng, n, c, h, w, scale=2.0) + 1.0,
        "gamma": 1 + normal(rng, c, scale=0.2),
        "beta": normal(rng, c, scale=0.2),
        "bn_param": _bn_param(rng, (c,), mode, **param),
    }


def _group_args(rng, n, c, h, w, groups, param_shape=None, eps=1e-5):
    """gamma and beta (1, C, 1, 1), or (C,) as the 2018-20 assignment's docstring has them."""
    shape = param_shape or (1, c, 1, 1)
    return {
        "x": normal(rng, n, c, h, w, scale=2.0) + 1.0,
        "gamma": 1 + normal(rng, *shape, scale=0.2),
        "beta": normal(rng, *shape, scale=0.2),
        "G": groups,
        "gn_param": {"eps": eps},
    }


def _group_condition(x, G, **_):
    return _norm_condition(x.reshape(x.shape[0], G, -1))


# On the first sample (5x5 input, 3x3 filter, pad 1) a stride of 3 does not tile: the course asserts it.
_BAD_GEOMETRY = (("conv_param", "stride", 3),)


def _conv_args(rng, x_shape, w_shape, stride, pad):
    fan_in = int(np.prod(w_shape[1:]))
    return {
        "x": normal(rng, *x_shape),
        "w": normal(rng, *w_shape, scale=1 / np.sqrt(fan_in)),
        "b": normal(rng, w_shape[0], scale=0.1),
        "conv_param": {"stride": stride, "pad": pad},
    }


def _pool_param(height, width_or_stride, stride=None):
    """_pool_param(size, stride) for a square window, _pool_param(height, width, stride) otherwise."""
    if stride is None:
        height, width, stride = height, height, width_or_stride
    else:
        width = width_or_stride
    return {"pool_height": height, "pool_width": width, "stride": stride}


# Convolution geometries from the course's docstrings: pad 0, 1 and 2, strides 1 and 2, inputs and
# filters that are not square (HH != WW, H != W), C != F; loops over Ho where Wo belongs show here.
_CONV_GEOMETRIES = (
    SampleSpec("pad0_rect_filter", lambda r: _conv_args(r, (2, 3, 6, 5), (4, 3, 3, 2), 1, 0), small=True),
    SampleSpec("pad2_stride2", lambda r: _conv_args(r, (2, 2, 7, 5), (3, 2, 3, 3), 2, 2), small=True),
    SampleSpec("pad1_stride2_rect", lambda r: _conv_args(r, (1, 2, 5, 7), (2, 2, 3, 1), 2, 1), small=True),
    SampleSpec("out_1x1", lambda r: _conv_args(r, (2, 2, 3, 3), (3, 2, 3, 3), 1, 0), small=True),
    SampleSpec("out_1x2_pad2", lambda r: _conv_args(r, (1, 1, 1, 3), (2, 1, 5, 5), 2, 2), small=True),
    # Windows that reach every padded row and column: a padded buffer one row short fails here.
    SampleSpec("pad3_full_reach", lambda r: _conv_args(r, (1, 1, 3, 2), (2, 1, 7, 6), 1, 3), small=True),
)


def _pool_gaps(x, pool_param):
    """Per window, the largest value minus the second largest: 0 would be a tie."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    top = np.sort(windows.reshape(windows.shape[:4] + (-1,)), axis=-1)
    live = (
        top[..., -1] > 0 if (x >= 0).all() else np.ones(top.shape[:-1], bool)
    )  # after a ReLU, ties at 0 carry no gradient
    return (top[..., -1] - top[..., -2])[live]


def _conv_out(x, w, b, conv_param, **_):
    return manual_grads.conv_forward_fast(x, w, b, conv_param)[0]


def _conv_reduction(x, w, conv_param, **_):
    return max(int(np.prod(w.shape[1:])), x.shape[0] * x.shape[2] * x.shape[3])


def _rnn_args(rng, n, t, d, h):
    return {
        "x": normal(rng, n, t, d),
        "h0": normal(rng, n, h, scale=0.5),
        "Wx": normal(rng, d, h, scale=1 / np.sqrt(d)),
        "Wh": normal(rng, h, h, scale=1 / np.sqrt(h)),
        "b": normal(rng, h, scale=0.1),
    }


def _lstm_args(rng, n, t, d, h):
    args = _rnn_args(rng, n, t, d, h)
    return {
        **args,
        "Wx": normal(rng, d, 4 * h, scale=1 / np.sqrt(d)),
        "Wh": normal(rng, h, 4 * h, scale=1 / np.sqrt(h)),
        "b": normal(rng, 4 * h, scale=0.1),
    }


def _lstm_step_args(rng, n, d, h):
    args = _lstm_args(rng, n, 1, d, h)
    return {
        "x": args["x"][:, 0, :],
        "prev_h": args["h0"],
        "prev_c": normal(rng, n, h, scale=0.5),
        "Wx": args["Wx"],
        "Wh": args["Wh"],
        "b": args["b"],
    }


def _rnn_step_args(rng, n, d, h):
    args = _rnn_args(rng, n, 1, d, h)
    return {"x": args["x"][:, 0, :], "prev_h": args["h0"], "Wx": args["Wx"], "Wh": args["Wh"], "b": args["b"]}


def _temporal_loss_args(rng, n, t, v):
    return {"x": normal(rng, n, t, v), "y": rng.integers(0, v, (n, t)), "mask": rng.random((n, t)) > 0.3}


def _ignored_label_args(rng, n, t, v):
    """Labels with <NULL> (0, the ignore_index) padding after a caption's end, as the course calls it."""
    y = rng.integers(1, v, (n, t))
    for row, length in enumerate(rng.integers(1, t + 1, size=n)):
        y[row, length:] = 0
    return {"x": normal(rng, n, t, v), "y": y, "ignore_index": 0}


def _attention_args(rng, n, h):
    return {"prev_h": normal(rng, n, h), "A": normal(rng, n, h, 4, 4)}


def _affine_norm_args(rng, n, d, m, param):
    args = _affine_args(rng, (n, d), m, scale=1 / np.sqrt(d))
    return {**args, "gamma": 1 + normal(rng, m, scale=0.2), "beta": normal(rng, m, scale=0.2), **param(rng, m)}


def _bn_pre_relu(x, w, b, gamma, beta, bn_param, **_):
    # A copy of bn_param: placing samples must not move their running statistics.
    return manual_grads.batchnorm_forward(_flat(x) @ w + b, gamma, beta, dict(bn_param))[0]


def _ln_pre_relu(x, w, b, gamma, beta, ln_param, **_):
    return manual_grads.layernorm_forward(_flat(x) @ w + b, gamma, beta, ln_param)[0]


_BN_SAMPLES = (
    SampleSpec("small", lambda r: _norm_args(r, 4, 5), small=True),
    SampleSpec("course", lambda r: _norm_args(r, 200, 3)),
    SampleSpec("test_mode", lambda r: _norm_args(r, 6, 5, mode="test"), small=True),
    # One example at inference time (train mode at N = 1 normalises every x to 0: dx is 0 by construction).
    SampleSpec("n1_test", lambda r: _norm_args(r, 1, 5, mode="test"), small=True),
    # eps and momentum away from their defaults: code that ignores bn_param's values fails here.
    SampleSpec("eps_momentum", lambda r: _norm_args(r, 5, 4, eps=0.5, momentum=0.6), small=True, graded=False),
    SampleSpec("test_eps", lambda r: _norm_args(r, 5, 4, mode="test", eps=0.5), small=True, graded=False),
    SampleSpec("wide", lambda r: _norm_args(r, 256, 1024)),
    SampleSpec("far_from_zero", lambda r: _far_from_zero(_norm_args(r, 16, 8)), graded=False),
)
_BN_DEFAULTS = (
    (
        "bn_param",
        lambda: {"mode": "train"},
        lambda x, **_: {
            "mode": "train",
            "eps": 1e-5,
            "momentum": 0.9,
            "running_mean": np.zeros(x.shape[1], x.dtype),
            "running_var": np.zeros(x.shape[1], x.dtype),
        },
    ),
)
# Modes that sort before and after "test" and "train": a mode compared with < or > instead of == shows.
_BAD_MODES = (("bn_param", "mode", "eval"), ("bn_param", "mode", "validate"))
_BN = dict(
    mutable=("bn_param",),
    state=_running_update(0),
    reduction=lambda x, **_: max(x.shape),
    tol_factor=policy.CHAINED,
    defaults=_BN_DEFAULTS,
    invalid=_BAD_MODES,
)

_CS231N_SPECS = (
    _layer(
        "batchnorm",
        ("x", "gamma", "beta", "bn_param"),
        ("x", "gamma", "beta"),
        _BN_SAMPLES,
        **_BN,
        bench=bs.norm_spec(),
        description="batch normalisation, train and test mode; updates bn_param",
    ),
    Op(
        "batchnorm_alt",
        ("x", "gamma", "beta", "bn_param"),
        ("x", "gamma", "beta"),
        ref.batchnorm,
        _BN_SAMPLES,
        manual_names=("batchnorm_forward", "batchnorm_backward_alt"),
        **_BN,
        bench=bs.norm_spec(),
        description="batchnorm_forward with the simplified batchnorm_backward_alt",
    ),
    _layer(
        "layernorm",
        ("x", "gamma", "beta", "ln_param"),
        ("x", "gamma", "beta"),
        (
            SampleSpec("small", lambda r: {**_norm_args(r, 4, 5), "ln_param": {"eps": 1e-5}}, small=True),
            SampleSpec("n1", lambda r: {**_norm_args(r, 1, 6), "ln_param": {"eps": 1e-5}}, small=True),
            SampleSpec("eps", lambda r: {**_norm_args(r, 4, 5), "ln_param": {"eps": 0.5}}, small=True, graded=False),
            SampleSpec(
                "far_from_zero",
                lambda r: _far_from_zero({**_norm_args(r, 8, 64), "ln_param": {"eps": 1e-5}}),
                graded=False,
            ),
            SampleSpec("wide", lambda r: {**_norm_args(r, 64, 2048), "ln_param": {"eps": 1e-5}}),
        ),
        reduction=lambda x, **_: max(x.shape),
        tol_factor=policy.CHAINED,
        bench=bs.norm_spec(param="ln_param"),
        condition=_norm_condition,
        defaults=(("ln_param", dict, lambda **_: {"eps": 1e-5}),),
        description="layer normalisation over each sample's features",
    ),
    _layer(
        "spatial_batchnorm",
        ("x", "gamma", "beta", "bn_param"),
        ("x", "gamma", "beta"),
        (
            SampleSpec("small", lambda r: _spatial_args(r, 2, 3, 4, 5), small=True),
            SampleSpec("test_mode", lambda r: _spatial_args(r, 2, 3, 4, 5, mode="test"), small=True),
            SampleSpec("n1", lambda r: _spatial_args(r, 1, 3, 4, 5), small=True),
            SampleSpec(
                "eps_momentum", lambda r: _spatial_args(r, 2, 3, 3, 2, eps=0.5, momentum=0.6), small=True, graded=False
            ),
            SampleSpec("far_from_zero", lambda r: _far_from_zero(_spatial_args(r, 2, 3, 4, 5)), graded=False),
            SampleSpec("large", lambda r: _spatial_args(r, 16, 8, 16, 16)),
        ),
        mutable=("bn_param",),
        state=_running_update((0, 2, 3)),
        tol_factor=policy.CHAINED,
        invalid=_BAD_MODES,
        reduction=lambda x, **_: x.shape[0] * x.shape[2] * x.shape[3],
        description="batch normalisation per channel of x (N, C, H, W)",
    ),
    _layer(
        "spatial_groupnorm",
        ("x", "gamma", "beta", "G", "gn_param"),
        ("x", "gamma", "beta"),
        (
            SampleSpec("small", lambda r: _group_args(r, 2, 6, 4, 5, 2), small=True),
            SampleSpec("n1", lambda r: _group_args(r, 1, 4, 3, 3, 2), small=True),
            SampleSpec(
                "gamma_c",
                lambda r: _group_args(r, 2, 6, 3, 4, 3, param_shape=(6,)),
                small=True,
                convention="gamma and beta of shape (C,), as in the 2018-20 docstring",
            ),
            SampleSpec("eps", lambda r: _group_args(r, 2, 4, 3, 2, 2, eps=0.5), small=True, graded=False),
            SampleSpec("far_from_zero", lambda r: _far_from_zero(_group_args(r, 2, 4, 4, 4, 2)), graded=False),
            SampleSpec("large", lambda r: _group_args(r, 8, 16, 16, 16, 4)),
        ),
        tol_factor=policy.CHAINED,
        reduction=lambda x, **_: int(np.prod(x.shape)),
        condition=_group_condition,
        defaults=(("gn_param", dict, lambda **_: {"eps": 1e-5}),),
        description="group normalisation over G channel groups; gamma, beta (1, C, 1, 1) or (C,)",
    ),
    _layer(
        "dropout",
        ("x", "dropout_param"),
        ("x",),
        (
            SampleSpec(
                "small",
                lambda r: {"x": normal(r, 4, 5), "dropout_param": {"mode": _as_read("train"), "p": 0.7, "seed": 123}},
                small=True,
            ),
            SampleSpec(
                "n1",
                lambda r: {"x": normal(r, 1, 6), "dropout_param": {"mode": _as_read("train"), "p": 0.5, "seed": 5}},
                small=True,
            ),
            SampleSpec(
                "large",
                lambda r: {"x": normal(r, 500, 500), "dropout_param": {"mode": _as_read("train"), "p": 0.3, "seed": 7}},
            ),
            SampleSpec(
                "test_mode",
                lambda r: {"x": normal(r, 4, 5), "dropout_param": {"mode": _as_read("test"), "p": 0.7, "seed": 123}},
                small=True,
            ),
            # Enough units for the fraction kept to tell p = keep from p = drop apart (the grader's check).
            SampleSpec(
                "stats",
                lambda r: {
                    "x": normal(r, 100, 100),
                    "dropout_param": {"mode": _as_read("train"), "p": 0.6, "seed": 11},
                },
            ),
        ),
        bench=bs.elementwise_spec(extra={"dropout_param": {"mode": "train", "p": 0.5, "seed": 0}}),
        invalid=(("dropout_param", "mode", "eval"), ("dropout_param", "mode", "validate")),
        description="inverted dropout; p keeps a unit; the seed fixes the mask",
    ),
    _layer(
        "conv",
        ("x", "w", "b", "conv_param"),
        ("x", "w", "b"),
        (
            SampleSpec("small", lambda r: _conv_args(r, (2, 3, 5, 5), (4, 3, 3, 3), 1, 1), small=True),
            SampleSpec("course", lambda r: _conv_args(r, (2, 3, 4, 4), (3, 3, 4, 4), 2, 1), small=True),
            *_CONV_GEOMETRIES,
            SampleSpec("large", lambda r: _conv_args(r, (8, 3, 32, 32), (16, 3, 3, 3), 1, 1)),
        ),
        manual=("conv_forward_naive", "conv_backward_naive"),
        reduction=_conv_reduction,
        traceable=False,
        invalid=_BAD_GEOMETRY,
        description="convolution, naive loops; conv_param stride and pad",
    ),
    _layer(
        "conv_fast",
        ("x", "w", "b", "conv_param"),
        ("x", "w", "b"),
        (
            SampleSpec("small", lambda r: _conv_args(r, (2, 3, 5, 5), (4, 3, 3, 3), 1, 1), small=True),
            SampleSpec("course", lambda r: _conv_args(r, (2, 3, 4, 4), (3, 3, 4, 4), 2, 1), small=True),
            *_CONV_GEOMETRIES,
            SampleSpec("large", lambda r: _conv_args(r, (32, 16, 32, 32), (32, 16, 3, 3), 1, 1)),
        ),
        manual=("conv_forward_fast", "conv_backward_fast"),
        reduction=_conv_reduction,
        bench=bs.conv_spec(),
        invalid=_BAD_GEOMETRY,
        traceable=False,
        description="the same convolution, vectorised (im2col)",
    ),
    _layer(
        "max_pool",
        ("x", "pool_param"),
        ("x",),
        (
            SampleSpec("small", lambda r: {"x": normal(r, 2, 3, 4, 4), "pool_param": _pool_param(2, 2)}, small=True),
            SampleSpec("course", lambda r: {"x": normal(r, 3, 2, 8, 8), "pool_param": _pool_param(2, 2)}),
            SampleSpec(
                "overlapping", lambda r: {"x": normal(r, 2, 2, 7, 7), "pool_param": _pool_param(3, 2)}, small=True
            ),
            # Windows that are not square, strides that are not the window: height and width must not mix.
            SampleSpec(
                "tall_window", lambda r: {"x": normal(r, 2, 3, 7, 6), "pool_param": _pool_param(3, 2, 2)}, small=True
            ),
            SampleSpec(
                "wide_window_stride1",
                lambda r: {"x": normal(r, 1, 2, 5, 6), "pool_param": _pool_param(2, 3, 1)},
                small=True,
            ),
            SampleSpec(
                "out_1x1", lambda r: {"x": normal(r, 2, 3, 2, 3), "pool_param": _pool_param(2, 3, 2)}, small=True
            ),
            SampleSpec(
                "out_2x1", lambda r: {"x": normal(r, 1, 2, 5, 3), "pool_param": _pool_param(3, 3, 2)}, small=True
            ),
        ),
        manual=("max_pool_forward_naive", "max_pool_backward_naive"),
        kinks=_pool_gaps,
        traceable=False,
        description="max pooling; pool_height, pool_width, stride",
    ),
    _layer(
        "conv_relu",
        ("x", "w", "b", "conv_param"),
        ("x", "w", "b"),
        (
            SampleSpec("small", lambda r: _conv_args(r, (2, 3, 5, 5), (4, 3, 3, 3), 1, 1), small=True),
            SampleSpec("n1", lambda r: _conv_args(r, (1, 2, 4, 4), (3, 2, 3, 3), 1, 1), small=True),
            SampleSpec("large", lambda r: _conv_args(r, (4, 3, 16, 16), (8, 3, 3, 3), 1, 1)),
        ),
        kinks=_conv_out,
        reduction=_conv_reduction,
        traceable=False,
        description="relu(conv(x))",
    ),
    _layer(
        "conv_relu_pool",
        ("x", "w", "b", "conv_param", "pool_param"),
        ("x", "w", "b"),
        (
            SampleSpec(
                "small",
                lambda r: {**_conv_args(r, (2, 3, 4, 4), (3, 3, 3, 3), 1, 1), "pool_param": _pool_param(2, 2)},
                small=True,
            ),
            SampleSpec(
                "n1",
                lambda r: {**_conv_args(r, (1, 2, 4, 4), (2, 2, 3, 3), 1, 1), "pool_param": _pool_param(2, 2)},
                small=True,
            ),
            SampleSpec(
                "large",
                lambda r: {**_conv_args(r, (4, 3, 16, 16), (8, 3, 3, 3), 1, 1), "pool_param": _pool_param(2, 2)},
            ),
        ),
        kinks=lambda pool_param, **a: np.concatenate(
            [_conv_out(**a).ravel(), _pool_gaps(np.maximum(_conv_out(**a), 0), pool_param)]
        ),
        reduction=_conv_reduction,
        traceable=False,
        description="max_pool(relu(conv(x)))",
    ),
    _layer(
        "rnn_step",
        ("x", "prev_h", "Wx", "Wh", "b"),
        ("x", "prev_h", "Wx", "Wh", "b"),
        (
            SampleSpec("course", lambda r: _rnn_step_args(r, 3, 10, 4), small=True),
            SampleSpec("n1", lambda r: _rnn_step_args(r, 1, 5, 3), small=True),
            SampleSpec("large", lambda r: _rnn_step_args(r, 64, 128, 256)),
        ),
        reduction=lambda x, Wx, Wh, **_: max(x.shape + Wh.shape),
        tol_factor=policy.CHAINED,
        description="next_h = tanh(x Wx + prev_h Wh + b)",
    ),
    _layer(
        "rnn",
        ("x", "h0", "Wx", "Wh", "b"),
        ("x", "h0", "Wx", "Wh", "b"),
        (
            SampleSpec("course", lambda r: _rnn_args(r, 2, 3, 4, 5), small=True),
            SampleSpec("t1", lambda r: _rnn_args(r, 3, 1, 2, 4), small=True),  # one time step: no step to take it from
            SampleSpec("n1", lambda r: _rnn_args(r, 1, 3, 2, 4), small=True),  # one sequence: np.squeeze breaks it
            SampleSpec("large", lambda r: _rnn_args(r, 16, 20, 32, 64)),
        ),
        reduction=lambda x, Wh, **_: max(x.shape + Wh.shape) * x.shape[1],
        tol_factor=policy.CHAINED,
        description="rnn_step over T time steps from h0; h (N, T, H)",
    ),
    _layer(
        "lstm_step",
        ("x", "prev_h", "prev_c", "Wx", "Wh", "b"),
        ("x", "prev_h", "prev_c", "Wx", "Wh", "b"),
        (
            SampleSpec("course", lambda r: _lstm_step_args(r, 3, 4, 5), small=True),
            SampleSpec("n1", lambda r: _lstm_step_args(r, 1, 3, 4), small=True),
            SampleSpec("large", lambda r: _lstm_step_args(r, 64, 128, 128)),
        ),
        outputs=2,
        reduction=lambda x, Wx, Wh, **_: max(x.shape + Wh.shape),
        tol_factor=policy.CHAINED,
        description="(next_h, next_c); backward takes dnext_h and dnext_c",
    ),
    _layer(
        "lstm",
        ("x", "h0", "Wx", "Wh", "b"),
        ("x", "h0", "Wx", "Wh", "b"),
        (
            SampleSpec("course", lambda r: _lstm_args(r, 2, 3, 4, 5), small=True),
            SampleSpec("t1", lambda r: _lstm_args(r, 3, 1, 2, 4), small=True),
            SampleSpec("n1", lambda r: _lstm_args(r, 1, 3, 2, 4), small=True),
            SampleSpec("large", lambda r: _lstm_args(r, 16, 20, 32, 64)),
        ),
        reduction=lambda x, Wh, **_: max(x.shape + Wh.shape) * x.shape[1],
        tol_factor=policy.CHAINED,
        description="lstm_step over T time steps from h0 (cell state from 0); h (N, T, H)",
    ),
    _layer(
        "word_embedding",
        ("x", "W"),
        ("W",),
        (
            SampleSpec("course", lambda r: {"x": r.integers(0, 5, (2, 4)), "W": normal(r, 5, 3)}, small=True),
            SampleSpec("n1", lambda r: {"x": r.integers(0, 5, (1, 4)), "W": normal(r, 5, 3)}, small=True),
            SampleSpec("large", lambda r: {"x": r.integers(0, 100, (50, 30)), "W": normal(r, 100, 64)}),
        ),
        reduction=lambda x, **_: x.size,
        description="out = W[x]; dW adds up repeated words (np.add.at)",
    ),
    _layer(
        "temporal_affine",
        ("x", "w", "b"),
        ("x", "w", "b"),
        (
            SampleSpec(
                "course", lambda r: {"x": normal(r, 2, 3, 4), "w": normal(r, 4, 5), "b": normal(r, 5)}, small=True
            ),
            SampleSpec("n1", lambda r: {"x": normal(r, 1, 3, 4), "w": normal(r, 4, 5), "b": normal(r, 5)}, small=True),
            SampleSpec(
                "large",
                lambda r: {"x": normal(r, 32, 20, 128), "w": normal(r, 128, 256, scale=0.1), "b": normal(r, 256)},
            ),
        ),
        reduction=lambda x, w, **_: max(x.shape[0] * x.shape[1], w.shape[0]),
        description="x (N, T, D) w + b at every time step",
    ),
    _loss(
        "temporal_softmax_loss",
        "temporal_softmax_loss",
        ("x", "y", "mask"),
        ("x",),
        (
            SampleSpec("small", lambda r: _temporal_loss_args(r, 3, 4, 5), small=True),
            SampleSpec("n1", lambda r: _temporal_loss_args(r, 1, 4, 5), small=True),
            SampleSpec("large", lambda r: _temporal_loss_args(r, 100, 10, 50)),
            # Rows hundreds apart: shifting by one global max instead of each row's max gives exp() = 0, log(0).
            SampleSpec(
                "rows_apart",
                lambda r: (lambda a: {**a, "x": a["x"] + 300.0 * np.arange(-2, 2)[:, None, None]})(
                    _temporal_loss_args(r, 4, 3, 6)
                ),
                graded=False,
            ),
        ),
        reduction=lambda x, **_: x.size,
        condition=_scores_size,
        description="softmax loss over the masked time steps, / N",
    ),
    _loss(
        "temporal_softmax_ignore",
        "temporal_softmax_ignore",
        ("x", "y", "ignore_index"),
        ("x",),
        (
            SampleSpec("small", lambda r: _ignored_label_args(r, 3, 4, 5), small=True),
            SampleSpec("n1", lambda r: _ignored_label_args(r, 1, 4, 5), small=True),
        ),
        reduction=lambda x, **_: x.size,
        description="EECS 498's temporal_softmax_loss(x, y, ignore_index): the steps labelled ignore_index add nothing",
    ),
    _layer(
        "dot_product_attention",
        ("prev_h", "A"),
        ("prev_h", "A"),
        (
            SampleSpec("small", lambda r: _attention_args(r, 3, 5), small=True),
            SampleSpec("n1", lambda r: _attention_args(r, 1, 4), small=True),
        ),
        reduction=lambda prev_h, **_: prev_h.shape[1] * 16,
        description="EECS 498's dot_product_attention: A's 4 x 4 positions weighted by softmax(prev_h . A / sqrt(H))",
    ),
    _layer(
        "affine_bn_relu",
        ("x", "w", "b", "gamma", "beta", "bn_param"),
        ("x", "w", "b", "gamma", "beta"),
        (
            SampleSpec(
                "small",
                lambda r: _affine_norm_args(r, 4, 5, 3, lambda g, m: {"bn_param": _bn_param(g, (m,))}),
                small=True,
            ),
            SampleSpec(
                "course", lambda r: _affine_norm_args(r, 50, 40, 30, lambda g, m: {"bn_param": _bn_param(g, (m,))})
            ),
        ),
        kinks=_bn_pre_relu,
        mutable=("bn_param",),
        tol_factor=policy.CHAINED,
        cancelling=("b",),
        reduction=lambda x, w, **_: _matmul_dims(_flat(x), w),
        description="relu(batchnorm(affine(x)))",
    ),
    _layer(
        "affine_ln_relu",
        ("x", "w", "b", "gamma", "beta", "ln_param"),
        ("x", "w", "b", "gamma", "beta"),
        (
            SampleSpec(
                "small", lambda r: _affine_norm_args(r, 4, 5, 3, lambda g, m: {"ln_param": {"eps": 1e-5}}), small=True
            ),
            SampleSpec("course", lambda r: _affine_norm_args(r, 50, 40, 30, lambda g, m: {"ln_param": {"eps": 1e-5}})),
            SampleSpec(
                "n1", lambda r: _affine_norm_args(r, 1, 5, 4, lambda g, m: {"ln_param": {"eps": 1e-5}}), small=True
            ),
        ),
        kinks=_ln_pre_relu,
        tol_factor=policy.CHAINED,
        reduction=lambda x, w, **_: _matmul_dims(_flat(x), w),
        description="relu(layernorm(affine(x)))",
    ),
)


def _update_state(rule):
    """The config an update rule must return, by the course's formulas (float64)."""

    def state(w, dw, config):
        c = dict(config)
        if rule == "sgd_momentum":
            c["velocity"] = c["momentum"] * c["velocity"] - c["learning_rate"] * dw
        elif rule == "rmsprop":
            c["cache"] = c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * dw**2
        elif rule == "adam":
            c["t"] = c["t"] + 1
            c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
            c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
        return {"config": {k: v for k, v in c.items() if isinstance(v, np.ndarray) or k == "t"}}

    return state


COURSE_DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
# Every hyperparameter away from its default; then epsilon large enough to tell where it goes (inside
# or outside the root: the course accepts both, so only gradref check uses that sample).
VARIED = {
    "sgd": {"learning_rate": 0.3},
    "sgd_momentum": {"learning_rate": 0.05, "momentum": 0.5},
    "rmsprop": {"learning_rate": 0.03, "decay_rate": 0.8, "epsilon": 1e-7},
    "adam": {"learning_rate": 0.02, "beta1": 0.7, "beta2": 0.9, "epsilon": 1e-7},
}
LARGE_EPSILON = {rule: {**hyper, "epsilon": 0.1} if "epsilon" in hyper else hyper for rule, hyper in VARIED.items()}
_STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v")}


def _update_args(rng, shape, rule, hyper=None):
    w, dw = normal(rng, *shape), normal(rng, *shape)
    state = {
        "velocity": lambda: normal(rng, *shape, scale=0.1),
        "cache": lambda: uniform(rng, *shape, low=0.1, high=1.0),
        "m": lambda: normal(rng, *shape, scale=0.1),
        "v": lambda: uniform(rng, *shape, low=0.1, high=1.0),
    }
    config = {**(hyper or COURSE_DEFAULTS[rule]), **{k: state[k]() for k in _STATE[rule]}}
    if rule == "adam":
        config["t"] = 5
    return {"w": w, "dw": dw, "config": config}


def _explicit_defaults(rule):
    """What config=None must mean: the course's hyperparameters and a zero state (t = 0)."""

    def explicit(w, **_):
        config = {**COURSE_DEFAULTS[rule], **{k: np.zeros_like(w) for k in _STATE[rule]}}
        return {**config, "t": 0} if rule == "adam" else config

    return explicit


def _update(rule, description):
    return Op(
        rule,
        ("w", "dw", "config"),
        (),
        getattr(ref, rule),
        (
            SampleSpec("course", lambda r: _update_args(r, (5, 4), rule)),
            SampleSpec("varied", lambda r: _update_args(r, (3, 4), rule, VARIED[rule])),
            SampleSpec("large_epsilon", lambda r: _update_args(r, (3, 4), rule, LARGE_EPSILON[rule]), graded=False),
            SampleSpec("large", lambda r: _update_args(r, (1000, 1000), rule)),
        ),
        kind=UPDATE,
        manual_names=(rule,),
        mutable=("config",),
        state=_update_state(rule),
        tol_factor=policy.CHAINED,
        defaults=(("config", lambda: None, _explicit_defaults(rule)),),
        description=description,
    )


_UPDATE_SPECS = (
    _update("sgd", "next_w = w - learning_rate dw"),
    _update("sgd_momentum", "velocity = momentum velocity - learning_rate dw; next_w = w + velocity"),
    _update("rmsprop", "RMSProp; config: learning_rate, decay_rate, epsilon, cache"),
    _update("adam", "Adam with bias correction; config: learning_rate, beta1, beta2, epsilon, m, v, t"),
)

SPECS = {
    op.name: op if op.bench else dataclasses.replace(op, bench=bs.from_samples(op))
    for op in _SPECS + _CS231N_SPECS + _UPDATE_SPECS
}
REGISTRY = {name: op.bind(manual_grads) for name, op in SPECS.items()}


def ops(names=None):
    """Registry entries, all or those named (ValueError names an unknown one)."""
    if not names:
        return list(REGISTRY.values())
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(REGISTRY), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f"; known ops: {', '.join(REGISTRY)}"
        raise ValueError(f"unknown op {unknown[0]!r}{hint}")
    return [REGISTRY[n] for n in names]

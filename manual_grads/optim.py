"""The course's update rules: `rule(w, dw, config) -> (next_w, config)`.

config holds the hyperparameters and the rule's state (velocity, cache, m, v, t); missing entries get
the course's defaults, and the updated state is stored back in config and returned with it.
"""

from ._xp import namespace


def _defaults(config, w, **values):
    xp = namespace(w)
    config = {} if config is None else config
    for key, value in values.items():
        config.setdefault(key, xp.zeros_like(w) if value == "zeros" else value)
    return config


def sgd(w, dw, config=None):
    """next_w = w - learning_rate dw."""
    config = _defaults(config, w, learning_rate=1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """v = momentum v - learning_rate dw; next_w = w + v."""
    config = _defaults(config, w, learning_rate=1e-2, momentum=0.9, velocity="zeros")
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    """cache = decay cache + (1 - decay) dw^2; next_w = w - learning_rate dw / (sqrt(cache) + epsilon)."""
    xp = namespace(w)
    config = _defaults(config, w, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8, cache="zeros")
    decay = config["decay_rate"]
    config["cache"] = decay * config["cache"] + (1 - decay) * dw * dw
    return w - config["learning_rate"] * dw / (xp.sqrt(config["cache"]) + config["epsilon"]), config


def adam(w, dw, config=None):
    """Adam with bias correction; t is incremented before it is used (as in the course)."""
    xp = namespace(w)
    config = _defaults(config, w, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, m="zeros", v="zeros", t=0)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] = t = config["t"] + 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    m_hat = config["m"] / (1 - b1**t)
    v_hat = config["v"] / (1 - b2**t)
    return w - config["learning_rate"] * m_hat / (xp.sqrt(v_hat) + config["epsilon"]), config

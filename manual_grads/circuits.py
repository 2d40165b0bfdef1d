"""The course notes' worked examples, written stage by stage.

Each forward returns (out, cache) where the cache is a dict of the named intermediate
stages, so `gradref example` can print them; each backward returns one gradient per input.
"""

from ._xp import astype, concat, namespace, stable_sigmoid


def add_mul_circuit_forward(x, y, z):
    """f = (x + y) * z."""
    q = x + y
    f = q * z
    return f, {"x": x, "y": y, "z": z, "q": q, "f": f}


def add_mul_circuit_backward(df, cache):
    """Returns (dx, dy, dz): the add gate hands dq to both of its inputs."""
    dq = cache["z"] * df
    dz = cache["q"] * df
    return dq, 1 * dq, dz


def sigmoid_neuron_forward(w, x):
    """f = sigma(w0 x0 + ... + w_{D-1} x_{D-1} + w_D); w (D+1,), x (D,)."""
    xp = namespace(w, x)
    dot = xp.sum(w[:-1] * x) + w[-1]
    f = stable_sigmoid(dot)
    return f, {"w": w, "x": x, "dot": dot, "f": f}


def sigmoid_neuron_backward(df, cache):
    """Returns (dw, dx)."""
    xp = namespace(df, cache["w"])
    f = cache["f"]
    ddot = (1 - f) * f * df
    dw = concat(xp, [cache["x"] * ddot, xp.reshape(ddot, (1,))])
    dx = cache["w"][:-1] * ddot
    return dw, dx


def staged_expression_forward(x, y):
    """f(x, y) = (x + sigma(y)) / (sigma(x) + (x + y)^2), elementwise, in eight stages."""
    sigy = stable_sigmoid(y)  # (1)
    num = x + sigy  # (2)
    sigx = stable_sigmoid(x)  # (3)
    xpy = x + y  # (4)
    xpysqr = xpy * xpy  # (5)
    den = sigx + xpysqr  # (6)
    invden = 1 / den  # (7)
    f = num * invden  # (8)
    stages = {
        "sigy": sigy,
        "num": num,
        "sigx": sigx,
        "xpy": xpy,
        "xpysqr": xpysqr,
        "den": den,
        "invden": invden,
        "f": f,
    }
    return f, {"x": x, "y": y, **stages}


def staged_expression_backward(df, cache):
    """Returns (dx, dy), each stage backwards; gradients add up where x and y fork."""
    c = cache
    dnum = c["invden"] * df  # (8)
    dinvden = c["num"] * df  # (8)
    dden = (-1 / (c["den"] * c["den"])) * dinvden  # (7)
    dsigx = dden  # (6)
    dxpysqr = dden  # (6)
    dxpy = (2 * c["xpy"]) * dxpysqr  # (5)
    dx = dxpy  # (4)
    dy = dxpy  # (4)
    dx = dx + ((1 - c["sigx"]) * c["sigx"]) * dsigx  # (3)
    dx = dx + dnum  # (2)
    dsigy = dnum  # (2)
    dy = dy + ((1 - c["sigy"]) * c["sigy"]) * dsigy  # (1)
    return dx, dy


def max_gate_forward(x, y):
    """Elementwise max(x, y); at a tie the output is y's."""
    xp = namespace(x, y)
    return xp.where(x > y, x, y), (x, y)


def max_gate_backward(dout, cache):
    """Returns (dx, dy): the gradient goes to the larger input, to y at a tie.

    The tie rule makes max_gate(x, 0) agree with relu'(0) = 0.
    """
    x, y = cache
    dx = astype(x > y, dout.dtype)  # a 0/1 mask, as in relu_backward
    dx *= dout
    return dx, dout - dx  # exact: dout - dout = 0 and dout - 0 = dout


def matmul_forward(W, X):
    """D = W @ X."""
    xp = namespace(W, X)
    return xp.matmul(W, X), (W, X)


def matmul_backward(dD, cache):
    """Returns (dW, dX) = (dD X^T, W^T dD)."""
    W, X = cache
    xp = namespace(dD, W)
    return xp.matmul(dD, X.T), xp.matmul(W.T, dD)

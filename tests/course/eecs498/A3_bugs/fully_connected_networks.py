"""EECS 498-007 A3 layers with planted mistakes (written for gradref's tests)."""
import torch


class Linear(object):
    @staticmethod
    def forward(x, w, b):
        out = x.reshape(x.shape[0], -1).mm(w) + b
        return out, (x, w, b)

    @staticmethod
    def backward(dout, cache):
        x, w, b = cache
        dx = dout.mm(w.t())  # left in (N, D): not reshaped to x's shape
        dw = x.reshape(x.shape[0], -1).t().mm(dout)
        db = dout.sum(dim=0)
        return dx, dw, db


class ReLU(object):
    @staticmethod
    def forward(x):
        out = x.clone()
        out[out < 0] = 0
        return out, x

    @staticmethod
    def backward(dout, cache):
        dx = torch.zeros(dout.shape)  # float32 on the CPU, whatever dout is
        dx[cache > 0] = dout[cache > 0]
        return dx


class TwoLayerNet(object):
    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=torch.float32, device="cpu"):
        self.reg = reg
        self.params = {
            "W1": weight_scale * torch.randn(input_dim, hidden_dim, dtype=dtype, device=device),
            "b1": torch.zeros(hidden_dim, dtype=dtype, device=device),
            "W2": weight_scale * torch.randn(hidden_dim, num_classes, dtype=dtype, device=device),
            "b2": torch.zeros(num_classes, dtype=dtype, device=device),
        }

    def loss(self, X, y=None):
        p = self.params
        hidden = (X.mm(p["W1"]) + p["b1"]).clamp(min=0)
        scores = hidden.mm(p["W2"]) + p["b2"]
        if y is None:
            return scores
        probs = torch.softmax(scores, dim=1)
        N = X.shape[0]
        loss = -torch.log(probs[torch.arange(N), y]).mean()
        loss = loss + self.reg * sum(torch.sum(v * v) for v in p.values())  # the biases too
        dscores = probs.clone()
        dscores[torch.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": hidden.t().mm(dscores), "b2": dscores.sum(dim=0)}
        dhidden = dscores.mm(p["W2"].t()) * (hidden > 0)
        grads["W1"], grads["b1"] = X.t().mm(dhidden), dhidden.sum(dim=0)
        return loss, {k: g + 2 * self.reg * p[k] for k, g in grads.items()}

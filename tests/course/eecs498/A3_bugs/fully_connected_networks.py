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

"""A numerical gradient of a loss taken in a thread started with the low-level _thread module."""

import _thread

import numpy as np


def _value(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    return -np.mean(shifted[np.arange(len(y)), y] - np.log(np.exp(shifted).sum(axis=1)))


def softmax_loss(x, y):
    x = np.array(x, dtype=float)
    dx = np.zeros(x.shape)
    done = _thread.allocate_lock()
    done.acquire()

    def work():
        flat, grad = x.reshape(-1), dx.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            plus = _value(x, y)
            flat[i] = old - 1e-6
            minus = _value(x, y)
            flat[i] = old
            grad[i] = (plus - minus) / 2e-6
        done.release()

    _thread.start_new_thread(work, ())
    done.acquire()
    return _value(x, y), dx

"""The course's gradient checks: rel_error, compute_numeric_gradient, grad_check_sparse."""

import random

import torch

from .utils import reset_seed


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-7):
    """Compare the analytic gradient with central differences at num_checks random entries of x
    (seeded with reset_seed(0), as the course's notebooks are); prints each comparison."""
    reset_seed(0)
    for _ in range(num_checks):
        ix = tuple(random.randrange(m) for m in x.shape)
        old = x[ix].item()
        x[ix] = old + h
        fxph = f(x).item()
        x[ix] = old - h
        fxmh = f(x).item()
        x[ix] = old
        numeric = (fxph - fxmh) / (2 * h)
        analytic = analytic_grad[ix].item()
        top = abs(numeric - analytic)
        bottom = abs(numeric) + abs(analytic) + 1e-12
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {top / bottom:e}")


def compute_numeric_gradient(f, x, dLdf=None, h=1e-7):
    """The numeric gradient of f at x by central differences; with dLdf, the chain rule through it
    (the gradient of sum(f(x) * dLdf))."""
    flat_x = x.contiguous().flatten()
    grad = torch.zeros_like(x)
    flat_grad = grad.flatten()
    for i in range(flat_x.shape[0]):
        old = flat_x[i].item()
        flat_x[i] = old + h
        fxph = f(flat_x.view(x.shape)).clone()
        flat_x[i] = old - h
        fxmh = f(flat_x.view(x.shape)).clone()
        flat_x[i] = old
        df = (fxph - fxmh) / (2 * h)
        upstream = torch.ones_like(df) if dLdf is None else dLdf
        flat_grad[i] = (df * upstream).sum().item()
    x.copy_(flat_x.view(x.shape))
    return flat_grad.view(x.shape)


def rel_error(x, y, eps=1e-10):
    """max|x - y| / (max|x| + max|y| + eps), as a float."""
    top = (x - y).abs().max().item()
    return top / (x.abs().max().item() + y.abs().max().item() + eps)

"""EECS 498-007 A2 in the course's style (written for gradref's tests): linear classifiers on torch
tensors, naive loops and vectorised, without autograd."""
import random

import torch


def hello_linear_classifier():
    print("Hello from linear_classifier.py!")


def svm_loss_naive(W, X, y, reg):
    """
    Structured SVM loss function, naive implementation (with loops).

    Inputs have dimension D, there are C classes, and we operate on minibatches
    of N examples. When you implment the regularization over W, please DO NOT
    multiply the regularization term by 1/2 (no coefficient).
    """
    dW = torch.zeros_like(W)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = W.t().mv(X[i])
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss function, vectorized implementation."""
    num_train = X.shape[0]
    scores = X.mm(W)
    correct = scores[torch.arange(num_train), y].view(-1, 1)
    margins = (scores - correct + 1).clamp(min=0)
    margins[torch.arange(num_train), y] = 0
    loss = margins.sum() / num_train + reg * torch.sum(W * W)
    mask = (margins > 0).to(X.dtype)
    mask[torch.arange(num_train), y] = -mask.sum(dim=1)
    dW = X.t().mm(mask) / num_train + 2 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    indices = torch.randint(num_train, (batch_size,), device=X.device)
    return X[indices], y[indices]


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss function, naive implementation (with loops). Do not multiply reg by 1/2."""
    loss = 0.0
    dW = torch.zeros_like(W)
    num_train, num_classes = X.shape[0], W.shape[1]
    for i in range(num_train):
        scores = W.t().mv(X[i])
        scores = scores - scores.max()
        probs = torch.exp(scores) / torch.exp(scores).sum()
        loss += -torch.log(probs[y[i]])
        for j in range(num_classes):
            dW[:, j] += (probs[j] - float(j == int(y[i]))) * X[i]
    loss = loss / num_train + reg * torch.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss function, vectorized version. Do not multiply reg by 1/2."""
    num_train = X.shape[0]
    scores = X.mm(W)
    scores = scores - scores.max(dim=1, keepdim=True).values
    probs = torch.exp(scores)
    probs /= probs.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(num_train), y]).mean() + reg * torch.sum(W * W)
    dscores = probs.clone()
    dscores[torch.arange(num_train), y] -= 1
    dW = X.t().mm(dscores) / num_train + 2 * reg * W
    return loss, dW


def reset_and_pick():
    random.seed(0)
    return random.random()

"""EECS 498-007 A2 with one planted mistake per function (written for gradref's tests)."""
import torch


def svm_loss_naive(W, X, y, reg):
    """DO NOT multiply the regularization term by 1/2 (no coefficient)."""
    dW = torch.zeros(W.shape)  # the classic: float32 on the CPU whatever W is
    loss = 0.0
    for i in range(X.shape[0]):
        scores = W.t().mv(X[i])
        for j in range(W.shape[1]):
            if j == y[i]:
                continue
            margin = scores[j] - scores[y[i]] + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / X.shape[0] + reg * torch.sum(W * W)
    dW /= X.shape[0]
    dW += 2 * reg * W  # in place: dW stays float32
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """DO NOT multiply the regularization term by 1/2. The loss forgets the margins' average."""
    num_train = X.shape[0]
    scores = X.mm(W)
    correct = scores[torch.arange(num_train), y].view(-1, 1)
    margins = (scores - correct + 1).clamp(min=0)
    margins[torch.arange(num_train), y] = 0
    loss = margins.sum() + reg * torch.sum(W * W)
    mask = (margins > 0).to(X.dtype)
    mask[torch.arange(num_train), y] = -mask.sum(dim=1)
    dW = X.t().mm(mask) / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Do not multiply reg by 1/2. Lets autograd do the work."""
    W = W.clone().requires_grad_()
    scores = X.mm(W)
    loss = torch.nn.functional.cross_entropy(scores, y) + reg * torch.sum(W * W)
    loss.backward()
    return loss.detach(), W.grad


def softmax_loss_vectorized(W, X, y, reg):
    """Do not multiply reg by 1/2. Moves its work to the GPU."""
    W, X, y = W.cuda(), X.cuda(), y.cuda()
    scores = X.mm(W)
    probs = torch.softmax(scores, dim=1)
    loss = -torch.log(probs[torch.arange(X.shape[0]), y]).mean() + reg * torch.sum(W * W)
    probs[torch.arange(X.shape[0]), y] -= 1
    return loss, X.t().mm(probs) / X.shape[0] + 2 * reg * W

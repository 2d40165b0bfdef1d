"""Every entry of the mistake catalogue is proven by a planted bug: a student-style file (tests/course)
with that one mistake must be diagnosed as that mistake, and the correct files get no diagnosis.

The planted files are graded as one batch; each holds only the function under test and what it calls.
"""

import ast
import json
import os

import pytest
from conftest import once_per_session

from gradref.grade import Options
from gradref.grade.course.targets import TARGETS
from gradref.grade.explain.mistakes import CATALOGUE, MODEL_OPS
from gradref.grade.front.batch import grade_folder

COURSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")

# (op, key): (course file, the function that shows it, [(old, new), ...])
PLANTED = {
    ("affine", "db_keepdims"): (
        "layers_student.py",
        "affine_backward",
        [("db = np.sum(dout, axis=0)", "db = np.sum(dout, axis=0, keepdims=True)")],
    ),
    ("affine", "dx_not_reshaped"): (
        "layers_student.py",
        "affine_backward",
        [("dx = dout.dot(w.T).reshape(x.shape)", "dx = dout.dot(w.T)")],
    ),
    ("affine", "dw_transposed"): (
        "layers_student.py",
        "affine_backward",
        [("dw = x.reshape(x.shape[0], -1).T.dot(dout)", "dw = dout.T.dot(x.reshape(x.shape[0], -1))")],
    ),
    ("affine", "db_mean"): (
        "layers_student.py",
        "affine_backward",
        [("db = np.sum(dout, axis=0)", "db = np.mean(dout, axis=0)")],
    ),
    ("affine", "dx_without_transpose"): (
        "layers_student.py",
        "affine_backward",
        [("dx = dout.dot(w.T).reshape(x.shape)", "dx = dout.dot(w).reshape(x.shape)")],
    ),
    ("relu", "mask_wrong_side"): ("layers_student.py", "relu_backward", [("dout * (x > 0)", "dout * (x < 0)")]),
    ("relu", "mask_missing"): ("layers_student.py", "relu_backward", [("dx = dout * (x > 0)", "dx = dout + 0")]),
    ("relu", "mask_from_dout"): ("layers_student.py", "relu_backward", [("dout * (x > 0)", "dout * (dout > 0)")]),
    ("relu", "dout_missing"): ("layers_student.py", "relu_backward", [("dx = dout * (x > 0)", "dx = 1.0 * (x > 0)")]),
    ("sigmoid", "derivative_from_x"): (
        "layers_student.py",
        "sigmoid_backward",
        [("s = 1 / (1 + np.exp(-x))\n    return s, s", "s = 1 / (1 + np.exp(-x))\n    return s, x")],
    ),
    ("sigmoid", "dout_missing"): (
        "layers_student.py",
        "sigmoid_backward",
        [("dx = dout * s * (1 - s)", "dx = s * (1 - s)")],
    ),
    ("sigmoid", "factor_missing"): (
        "layers_student.py",
        "sigmoid_backward",
        [("dx = dout * s * (1 - s)", "dx = dout * s")],
    ),
    ("tanh", "derivative_from_x"): ("layers_student.py", "tanh_backward", [("return t, t", "return t, x")]),
    ("tanh", "square_missing"): (
        "layers_student.py",
        "tanh_backward",
        [("dx = dout * (1 - t ** 2)", "dx = dout * (1 - t)")],
    ),
    ("softmax_loss", "no_1_over_n"): (
        "layers_student.py",
        "softmax_loss",
        [("    dx[np.arange(N), y] -= 1\n    dx /= N\n", "    dx[np.arange(N), y] -= 1\n")],
    ),
    ("softmax_loss", "double_1_over_n"): (
        "layers_student.py",
        "softmax_loss",
        [("    dx[np.arange(N), y] -= 1\n    dx /= N\n", "    dx[np.arange(N), y] -= 1\n    dx /= N * N\n")],
    ),
    ("softmax_loss", "minus_one_missing"): (
        "layers_student.py",
        "softmax_loss",
        [("    dx[np.arange(N), y] -= 1\n", "")],
    ),
    ("softmax_loss", "gradient_sign"): (
        "layers_student.py",
        "softmax_loss",
        [
            (
                "    dx = probs.copy()\n    dx[np.arange(N), y] -= 1\n    dx /= N\n",
                "    onehot = np.zeros_like(probs)\n    onehot[np.arange(N), y] = 1\n    dx = (onehot - probs) / N\n",
            )
        ],
    ),
    ("softmax_loss", "loss_not_averaged"): (
        "layers_student.py",
        "softmax_loss",
        [("loss = -np.sum(log_probs[np.arange(N), y]) / N", "loss = -np.sum(log_probs[np.arange(N), y])")],
    ),
    ("softmax_loss", "log_of_probability"): ("staff_a2.py", "softmax_loss", []),  # as the 2016 staff shipped it
    ("softmax_loss", "no_max_shift"): (
        "staff_a2.py",
        "softmax_loss",
        [("probs = np.exp(x - np.max(x, axis=1, keepdims=True))", "probs = np.exp(x)")],
    ),
    ("svm_loss", "counts_correct_class"): (
        "layers_student.py",
        "svm_loss",
        [("    margins[np.arange(N), y] = 0\n", "")],
    ),
    ("svm_loss", "margin_missing"): (
        "layers_student.py",
        "svm_loss",
        [("x - correct[:, None] + 1.0)", "x - correct[:, None])")],
    ),
    ("svm_loss", "margin_not_one"): (
        "layers_student.py",
        "svm_loss",
        [("x - correct[:, None] + 1.0)", "x - correct[:, None] + 2.5)")],
    ),
    ("svm_loss", "correct_class_counted"): (
        "layers_student.py",
        "svm_loss",
        [
            (
                "    margins[np.arange(N), y] = 0\n",
                "    counts = np.sum(margins > 0, axis=1)\n    margins[np.arange(N), y] = 0\n",
            ),
            ("dx[np.arange(N), y] -= np.sum(margins > 0, axis=1)", "dx[np.arange(N), y] -= counts"),
        ],
    ),
    ("svm_loss", "correct_class_sign"): (
        "layers_student.py",
        "svm_loss",
        [("dx[np.arange(N), y] -= np.sum(margins > 0, axis=1)", "dx[np.arange(N), y] += np.sum(margins > 0, axis=1)")],
    ),
    ("svm_loss", "loss_not_averaged"): (
        "layers_student.py",
        "svm_loss",
        [("    loss = np.sum(margins) / N\n", "    loss = np.sum(margins)\n")],
    ),
    ("svm_loss", "no_1_over_n"): ("layers_student.py", "svm_loss", [("axis=1)\n    dx /= N\n", "axis=1)\n")]),
    # The linear classifiers, in the reg * sum(W^2) convention (the softmax file's 0.5 turned into it).
    ("linear_svm", "counts_correct_class"): (
        "classifiers_student.py",
        "svm_loss_vectorized",
        [
            (
                "    margins[np.arange(num_train), y] = 0\n    loss = np.sum(margins) / num_train + reg * np.sum(W * W)\n",
                "    loss = np.sum(margins) / num_train + reg * np.sum(W * W)\n    margins[np.arange(num_train), y] = 0\n",
            )
        ],
    ),
    ("linear_svm", "loss_not_averaged"): (
        "classifiers_student.py",
        "svm_loss_vectorized",
        [("loss = np.sum(margins) / num_train + reg * np.sum(W * W)", "loss = np.sum(margins) + reg * np.sum(W * W)")],
    ),
    ("linear_svm", "no_1_over_n"): (
        "classifiers_student.py",
        "svm_loss_vectorized",
        [("dW = X.T.dot(mask) / num_train + 2 * reg * W", "dW = X.T.dot(mask) + 2 * reg * W")],
    ),
    ("linear_svm", "reg_gradient_factor"): (
        "classifiers_student.py",
        "svm_loss_vectorized",
        [("dW = X.T.dot(mask) / num_train + 2 * reg * W", "dW = X.T.dot(mask) / num_train + reg * W")],
    ),
    ("linear_softmax_half", "normalised_over_samples"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            (
                "probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)",
                "probs = np.exp(scores) / np.sum(np.exp(scores), axis=0, keepdims=True)",
            ),
        ],
    ),
    ("linear_softmax_half", "shifted_over_samples"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            ("scores -= np.max(scores, axis=1, keepdims=True)", "scores -= np.max(scores, axis=0, keepdims=True)"),
        ],
    ),
    ("linear_softmax", "normalised_over_samples"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            (
                "probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)",
                "probs = np.exp(scores) / np.sum(np.exp(scores), axis=0, keepdims=True)",
            ),
            (
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + 0.5 * reg * np.sum(W * W)",
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + reg * np.sum(W * W)",
            ),
            ("dW = X.T.dot(probs) / num_train + reg * W", "dW = X.T.dot(probs) / num_train + 2 * reg * W"),
        ],
    ),
    ("linear_softmax", "shifted_over_samples"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            ("scores -= np.max(scores, axis=1, keepdims=True)", "scores -= np.max(scores, axis=0, keepdims=True)"),
            (
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + 0.5 * reg * np.sum(W * W)",
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + reg * np.sum(W * W)",
            ),
            ("dW = X.T.dot(probs) / num_train + reg * W", "dW = X.T.dot(probs) / num_train + 2 * reg * W"),
        ],
    ),
    ("linear_softmax", "loss_not_averaged"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            (
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + 0.5 * reg * np.sum(W * W)",
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) + reg * np.sum(W * W)",
            ),
            ("dW = X.T.dot(probs) / num_train + reg * W", "dW = X.T.dot(probs) / num_train + 2 * reg * W"),
        ],
    ),
    ("linear_softmax", "no_1_over_n"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            (
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + 0.5 * reg * np.sum(W * W)",
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + reg * np.sum(W * W)",
            ),
            ("dW = X.T.dot(probs) / num_train + reg * W", "dW = X.T.dot(probs) + 2 * reg * W"),
        ],
    ),
    ("linear_softmax", "reg_gradient_factor"): (
        "classifiers_student.py",
        "softmax_loss_vectorized",
        [
            (
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + 0.5 * reg * np.sum(W * W)",
                "loss = -np.sum(np.log(probs[np.arange(num_train), y])) / num_train + reg * np.sum(W * W)",
            )
        ],
    ),
    # ----- models: each key of the model family (mistakes._model_mistakes) on one of its ops -----
    ("two_layer_net_full", "biases_regularised"): (
        "neural_net_student.py",
        "TwoLayerNet",
        [
            ("np.sum(W2 * W2))\n", "np.sum(W2 * W2) + np.sum(b1 * b1) + np.sum(b2 * b2))\n"),
            ('grads["b2"] = np.sum(dscores, axis=0)', 'grads["b2"] = np.sum(dscores, axis=0) + 2 * reg * b2'),
            ('grads["b1"] = np.sum(dhidden, axis=0)', 'grads["b1"] = np.sum(dhidden, axis=0) + 2 * reg * b1'),
        ],
    ),
    ("two_layer_net_full", "reg_loss_factor"): (
        "neural_net_student.py",
        "TwoLayerNet",
        [("loss += reg * (np.sum(W1 * W1)", "loss += 0.5 * reg * (np.sum(W1 * W1)")],
    ),
    ("two_layer_net_full", "reg_not_in_gradient"): (
        "neural_net_student.py",
        "TwoLayerNet",
        [(" + 2 * reg * W2", ""), (" + 2 * reg * W1", "")],
    ),
    ("two_layer_net", "reg_not_in_loss"): (
        "fc_net_student.py",
        "TwoLayerNet",
        [("        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))\n", "")],
    ),
    ("two_layer_net", "reg_gradient_factor"): (
        "fc_net_student.py",
        "TwoLayerNet",
        [
            # The starter's note on the factor, as a docstring (a planted file keeps no comments).
            (
                "Compute loss and gradient for a minibatch of data.",
                "Compute loss and gradient; L2 with a factor of 0.5.",
            ),
            ('grads["W2"] += self.reg * W2', 'grads["W2"] += 2 * self.reg * W2'),
            ('grads["W1"] += self.reg * W1', 'grads["W1"] += 2 * self.reg * W1'),
        ],
    ),
    ("two_layer_net", "relu_on_scores"): (
        "fc_net_student.py",
        "TwoLayerNet",
        [
            (
                "scores, scores_cache = affine_forward(hidden, W2, b2)",
                "scores, scores_cache = affine_relu_forward(hidden, W2, b2)",
            ),
            ("affine_backward(dscores, scores_cache)", "affine_relu_backward(dscores, scores_cache)"),
        ],
    ),
    ("fc_net", "relu_mask_missing"): (
        "fcn_student.py",
        "FullyConnectedNet",
        [("            dout = relu_backward(dout, relu_cache)\n", "")],
    ),
    ("fc_net_batchnorm", "every_param_regularised"): (
        "fcn_student.py",
        "FullyConnectedNet",
        [
            (
                '        for i in range(1, L + 1):\n            W = self.params["W%d" % i]\n'
                "            loss += 0.5 * self.reg * np.sum(W * W)\n",
                "        for k, v in self.params.items():\n            loss += 0.5 * self.reg * np.sum(v * v)\n",
            ),
            ('        grads["W%d" % L] += self.reg * self.params["W%d" % L]\n', ""),
            ('            grads["W%d" % i] += self.reg * self.params["W%d" % i]\n', ""),
            (
                "        return loss, grads",
                "        for k in grads:\n            grads[k] += self.reg * self.params[k]\n        return loss, grads",
            ),
        ],
    ),
    ("fc_net", "biases_regularised"): (
        "fcn_student.py",
        "FullyConnectedNet",
        [
            (
                "            loss += 0.5 * self.reg * np.sum(W * W)\n",
                "            loss += 0.5 * self.reg * (np.sum(W * W) + np.sum(self.params['b%d' % i] ** 2))\n",
            ),
            (
                'grads["W%d" % L] += self.reg * self.params["W%d" % L]',
                'grads["W%d" % L] += self.reg * self.params["W%d" % L]; grads["b%d" % L] += self.reg * self.params["b%d" % L]',
            ),
            (
                'grads["W%d" % i] += self.reg * self.params["W%d" % i]',
                'grads["W%d" % i] += self.reg * self.params["W%d" % i]; grads["b%d" % i] += self.reg * self.params["b%d" % i]',
            ),
        ],
    ),
    ("three_layer_convnet", "relu_on_scores"): (
        "cnn_student.py",
        "ThreeLayerConvNet",
        [
            (
                "scores, scores_cache = _affine_forward(relu2, W3, b3)",
                "pre, scores_cache = _affine_forward(relu2, W3, b3)\n        scores = np.maximum(pre, 0)",
            ),
            ("_affine_backward(dscores, scores_cache)", "_affine_backward(dscores * (pre > 0), scores_cache)"),
        ],
    ),
    ("temporal_softmax_loss", "mask_ignored"): (
        "seq_student.py",
        "temporal_softmax_loss",
        [("-np.sum(mf * np.log(", "-np.sum(np.log("), ("    dx *= mf[:, None]\n", "")],
    ),
    ("temporal_softmax_loss", "divided_by_mask_count"): (
        "seq_student.py",
        "temporal_softmax_loss",
        [("yf])) / N\n", "yf])) / np.sum(mf)\n"), ("dx /= N\n", "dx /= np.sum(mf)\n")],
    ),
    ("temporal_softmax_loss", "divided_by_n_t"): (
        "seq_student.py",
        "temporal_softmax_loss",
        [("yf])) / N\n", "yf])) / (N * T)\n"), ("dx /= N\n", "dx /= N * T\n")],
    ),
    ("affine_relu", "wrong_order"): (
        "layers_student.py",
        "affine_relu_backward",
        [
            (
                "    da = relu_backward(dout, relu_cache)\n    dx, dw, db = affine_backward(da, fc_cache)",
                "    dx, dw, db = affine_backward(dout, fc_cache)\n    dx = relu_backward(dx, relu_cache)",
            )
        ],
    ),
    ("affine_relu", "mask_wrong_side"): (
        "layers_student.py",
        "affine_relu_backward",
        [("dout * (x > 0)", "dout * (x < 0)")],
    ),
    ("conv_relu", "mask_missing"): (
        "conv_student.py",
        "conv_relu_backward",
        [
            (
                "    da = relu_backward(dout, relu_cache)\n    return conv_backward_naive(da, conv_cache)",
                "    return conv_backward_naive(dout, conv_cache)",
            )
        ],
    ),
    ("conv_relu_pool", "relu_mask_missing"): (
        "conv_student.py",
        "conv_relu_pool_backward",
        [
            (
                "    da = relu_backward(ds, relu_cache)\n    return conv_backward_naive(da, conv_cache)",
                "    return conv_backward_naive(ds, conv_cache)",
            )
        ],
    ),
    ("affine_bn_relu", "relu_mask_missing"): (
        "norms2_student.py",
        "affine_bn_relu_backward",
        [
            (
                "    dn = relu_backward(dout, rc)\n    da, dgamma, dbeta = batchnorm_backward_alt(dn, bn)",
                "    da, dgamma, dbeta = batchnorm_backward_alt(dout, bn)",
            )
        ],
    ),
    ("affine_ln_relu", "relu_mask_missing"): (
        "norms2_student.py",
        "affine_ln_relu_backward",
        [
            (
                "    dn = relu_backward(dout, rc)\n    da, dgamma, dbeta = layernorm_backward(dn, ln)",
                "    da, dgamma, dbeta = layernorm_backward(dout, ln)",
            )
        ],
    ),
    ("batchnorm", "dgamma_keepdims"): (
        "norms_student.py",
        "batchnorm_backward",
        [("dgamma = (dout * xhat).sum(axis=0)", "dgamma = (dout * xhat).sum(axis=0, keepdims=True)")],
    ),
    ("batchnorm", "test_mode_batch_statistics"): (
        "norms_student.py",
        "batchnorm_forward",
        [
            (
                "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
                "out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta",
            )
        ],
    ),
    ("batchnorm", "test_mode_without_root"): (
        "norms_student.py",
        "batchnorm_forward",
        [
            (
                "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
                "out = gamma * (x - running_mean) / (running_var + eps) + beta",
            )
        ],
    ),
    ("batchnorm", "test_mode_without_scale_shift"): (
        "norms_student.py",
        "batchnorm_forward",
        [
            (
                "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
                "out = (x - running_mean) / np.sqrt(running_var + eps)",
            )
        ],
    ),
    ("batchnorm", "wrong_axis"): (
        "norms_student.py",
        "batchnorm_forward",
        [
            (
                "mu = x.mean(axis=0)\n        var = x.var(axis=0)",
                "mu = x.mean(axis=1, keepdims=True)\n        var = x.var(axis=1, keepdims=True)",
            )
        ],
    ),
    ("batchnorm", "running_not_stored"): (
        "norms_student.py",
        "batchnorm_forward",
        [('    bn_param["running_mean"] = running_mean\n    bn_param["running_var"] = running_var\n', "")],
    ),
    ("batchnorm", "momentum_swapped"): (
        "norms_student.py",
        "batchnorm_forward",
        [
            (
                "running_mean = momentum * running_mean + (1 - momentum) * mu",
                "running_mean = (1 - momentum) * running_mean + momentum * mu",
            ),
            (
                "running_var = momentum * running_var + (1 - momentum) * var",
                "running_var = (1 - momentum) * running_var + momentum * var",
            ),
        ],
    ),
    ("batchnorm", "unbiased_variance"): (
        "norms_student.py",
        "batchnorm_forward",
        [("        var = x.var(axis=0)\n", "        var = x.var(axis=0, ddof=1)\n")],
    ),
    ("batchnorm", "dx_without_mean_and_variance"): (
        "norms_student.py",
        "batchnorm_backward",
        [("dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std", "dx = dxhat / std")],
    ),
    ("batchnorm", "dx_without_variance"): (
        "norms_student.py",
        "batchnorm_backward",
        [
            (
                "dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std",
                "dx = (dxhat - dxhat.mean(axis=0)) / std",
            )
        ],
    ),
    ("batchnorm", "dgamma_dbeta_swapped"): (
        "norms_student.py",
        "batchnorm_backward",
        [
            (
                "dbeta = dout.sum(axis=0)\n    dgamma = (dout * xhat).sum(axis=0)",
                "dgamma = dout.sum(axis=0)\n    dbeta = (dout * xhat).sum(axis=0)",
            )
        ],
    ),
    ("batchnorm_alt", "dgamma_keepdims"): (
        "norms2_student.py",
        "batchnorm_backward_alt",
        [
            (
                "dgamma = np.sum(dout * xhat, axis=0)\n    dxhat",
                "dgamma = np.sum(dout * xhat, axis=0, keepdims=True)\n    dxhat",
            )
        ],
    ),
    ("batchnorm_alt", "dx_without_mean_and_variance"): (
        "norms2_student.py",
        "batchnorm_backward_alt",
        [("dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std", "dx = dxhat / std")],
    ),
    ("batchnorm_alt", "dx_without_variance"): (
        "norms2_student.py",
        "batchnorm_backward_alt",
        [
            (
                "dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std",
                "dx = (dxhat - dxhat.mean(axis=0)) / std",
            )
        ],
    ),
    ("batchnorm_alt", "dgamma_dbeta_swapped"): (
        "norms2_student.py",
        "batchnorm_backward_alt",
        [
            (
                "dbeta = dout.sum(axis=0)\n    dgamma = np.sum(dout * xhat, axis=0)",
                "dgamma = dout.sum(axis=0)\n    dbeta = np.sum(dout * xhat, axis=0)",
            )
        ],
    ),
    ("layernorm", "wrong_axis"): (
        "norms2_student.py",
        "layernorm_forward",
        [
            (
                "mu = x.mean(axis=1, keepdims=True)\n    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)",
                "mu = x.mean(axis=0, keepdims=True)\n    std = np.sqrt(x.var(axis=0, keepdims=True) + eps)",
            )
        ],
    ),
    ("layernorm", "dx_without_mean_and_variance"): (
        "norms2_student.py",
        "layernorm_backward",
        [
            (
                "dx = (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / std",
                "dx = dxhat / std",
            )
        ],
    ),
    ("spatial_batchnorm", "reshaped_without_transpose"): (
        "norms2_student.py",
        "spatial_batchnorm_forward",
        [
            ("flat = x.transpose(0, 2, 3, 1).reshape(-1, C)", "flat = x.reshape(-1, C)"),
            ("return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache", "return out.reshape(N, C, H, W), cache"),
        ],
    ),
    ("spatial_batchnorm", "not_transposed_back"): (
        "norms2_student.py",
        "spatial_batchnorm_forward",
        [("return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache", "return out.reshape(N, C, H, W), cache")],
    ),
    ("spatial_batchnorm", "per_sample_statistics"): (
        "norms2_student.py",
        "spatial_batchnorm_forward",
        [
            (
                "    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)\n    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)\n",
                "    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)\n    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)\n"
                "    mu, sd = x.mean(axis=(2, 3), keepdims=True), np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)\n"
                "    if bn_param['mode'] == 'train':\n"
                "        return gamma[None, :, None, None] * (x - mu) / sd + beta[None, :, None, None], cache\n",
            )
        ],
    ),
    ("spatial_groupnorm", "channels_interleaved"): (
        "norms_student.py",
        "spatial_groupnorm_forward",
        [
            (
                "xg = x.reshape(N, G, -1)",
                "xg = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, G, -1)",
            ),
            (
                "xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(x.shape)",
                "xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, G, C // G, H, W)"
                ".transpose(0, 2, 1, 3, 4).reshape(x.shape)",
            ),
        ],
    ),
    ("spatial_groupnorm", "one_group"): (
        "norms_student.py",
        "spatial_groupnorm_forward",
        [("xg = x.reshape(N, G, -1)", "xg = x.reshape(N, 1, -1)")],
    ),
    ("dropout", "not_inverted"): (
        "dropout_student.py",
        "dropout_forward",
        [("< p) / p", "< p)"), ("        out = x\n    return out", "        out = x * p\n    return out")],
    ),
    ("dropout", "backward_without_scale"): (
        "dropout_student.py",
        "dropout_backward",
        [("return dout * mask if", "return dout * (mask > 0) if")],
    ),
    ("conv", "padding_not_cropped"): (
        "conv_student.py",
        "conv_backward_naive",
        [("dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp")],
    ),
    ("conv", "pad_slice"): (
        "conv_student.py",
        "conv_backward_naive",
        [("dx = dxp[:, :, pad:pad + H, pad:pad + W]", "dx = dxp[:, :, pad:-pad, pad:-pad]")],
    ),
    ("conv", "filter_flipped"): (
        "conv_student.py",
        "conv_forward_naive",
        [("np.tensordot(window, w, axes", "np.tensordot(window, w[:, :, ::-1, ::-1], axes")],
    ),
    ("conv", "bias_missing"): (
        "conv_student.py",
        "conv_forward_naive",
        [
            (
                "np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b",
                "np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))",
            )
        ],
    ),
    ("conv", "dw_assigned"): (
        "conv_student.py",
        "conv_backward_naive",
        [("dw += np.tensordot(dout[:, :, i, j], window", "dw = np.tensordot(dout[:, :, i, j], window")],
    ),
    ("max_pool", "assigned_not_added"): (
        "conv_student.py",
        "max_pool_backward_naive",
        [("j * s:j * s + pw] += (window == window.max())", "j * s:j * s + pw] = (window == window.max())")],
    ),
    ("max_pool", "argmax_assigned"): (
        "conv_student.py",
        "max_pool_backward_naive",
        [
            (
                "dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += (window == window.max()) * dout[n, c, i, j]",
                "r, q = np.unravel_index(np.argmax(window), window.shape)\n"
                "                    dx[n, c, i * s + r, j * s + q] = dout[n, c, i, j]",
            )
        ],
    ),
    ("max_pool", "argmax_unravelled_swapped"): (
        "conv_student.py",
        "max_pool_backward_naive",
        [
            (
                "dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += (window == window.max()) * dout[n, c, i, j]",
                "r, q = np.unravel_index(np.argmax(window), (pw, ph))\n"
                "                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]",
            )
        ],
    ),
    ("max_pool", "size_without_stride"): (
        "conv_student.py",
        "max_pool_forward_naive",
        [("Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s", "Ho, Wo = H // ph, W // pw")],
    ),
    ("max_pool", "stride_ignored"): (
        "conv_student.py",
        "max_pool_forward_naive",
        [
            (
                "x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))",
                "x[:, :, i:i + ph, j:j + pw].max(axis=(2, 3))",
            )
        ],
    ),
    ("max_pool", "height_width_swapped"): (
        "conv_student.py",
        "max_pool_forward_naive",
        [
            (
                'ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]\n    N',
                'pw, ph, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]\n    N',
            )
        ],
    ),
    ("max_pool", "whole_window"): (
        "conv_student.py",
        "max_pool_backward_naive",
        [("+= (window == window.max()) * dout[n, c, i, j]", "+= dout[n, c, i, j]")],
    ),
    ("rnn_step", "tanh_prime_from_preactivation"): (
        "seq_student.py",
        "rnn_step_backward",
        [
            (
                "    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)\n    return next_h, (x, prev_h, Wx, Wh, next_h)",
                "    a = x.dot(Wx) + prev_h.dot(Wh) + b\n    next_h = np.tanh(a)\n    return next_h, (x, prev_h, Wx, Wh, a)",
            )
        ],
    ),
    ("rnn_step", "tanh_prime_missing"): (
        "seq_student.py",
        "rnn_step_backward",
        [("da = dnext_h * (1 - next_h ** 2)", "da = dnext_h")],
    ),
    ("rnn", "forward_order"): (
        "seq_student.py",
        "rnn_backward",
        [
            (
                "    for t in reversed(range(T)):\n        dx[:, t, :], dprev,",
                "    for t in range(T):\n        dx[:, t, :], dprev,",
            )
        ],
    ),
    ("rnn", "dprev_not_added"): (
        "seq_student.py",
        "rnn_backward",
        [("rnn_step_backward(dh[:, t, :] + dprev, cache[t])", "rnn_step_backward(dh[:, t, :], cache[t])")],
    ),
    ("rnn", "dh0_never_assigned"): (
        "seq_student.py",
        "rnn_backward",
        [("    dh0 = dprev\n", "    dh0 = np.zeros_like(dprev)\n")],
    ),
    ("lstm_step", "g_gate_sigmoid"): (
        "seq_student.py",
        "lstm_step_forward",
        [("sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])", "sigmoid(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])")],
    ),
    ("lstm_step", "gate_order"): (
        "seq_student.py",
        "lstm_step_forward",
        [
            (
                "i, f, o, g = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])",
                "i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])",
            ),
            ("do * o * (1 - o), dg * (1 - g ** 2)])", "dg * (1 - g ** 2), do * o * (1 - o)])"),
        ],
    ),
    ("lstm_step", "tanh_prime_of_prev_c"): (
        "seq_student.py",
        "lstm_step_backward",
        [("dc = dnext_c + dnext_h * o * (1 - tc ** 2)", "dc = dnext_c + dnext_h * o * (1 - np.tanh(prev_c) ** 2)")],
    ),
    ("lstm_step", "cell_path_missing"): (
        "seq_student.py",
        "lstm_step_backward",
        [("dc = dnext_c + dnext_h * o * (1 - tc ** 2)", "dc = dnext_c")],
    ),
    ("lstm_step", "o_gate_sigmoid_prime_missing"): (
        "seq_student.py",
        "lstm_step_backward",
        [("do * o * (1 - o), dg", "do, dg")],
    ),
    ("lstm_step", "dprev_c_without_f"): (
        "seq_student.py",
        "lstm_step_backward",
        [("dprev_c = dc * f", "dprev_c = dc")],
    ),
    ("lstm", "dh0_never_assigned"): (
        "seq_student.py",
        "lstm_backward",
        [("    dh0 = dprev_h\n", "    dh0 = np.zeros_like(dprev_h)\n")],
    ),
    ("lstm", "cell_gradient_not_carried"): (
        "seq_student.py",
        "lstm_backward",
        [
            (
                "lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c,",
                "lstm_step_backward(dh[:, t, :] + dprev_h, 0 * dprev_c,",
            )
        ],
    ),
    ("word_embedding", "assigned_not_added"): (
        "seq_student.py",
        "word_embedding_backward",
        [("np.add.at(dW, x, dout)", "dW[x] = dout")],
    ),
    ("temporal_affine", "db_over_n_only"): (
        "seq_student.py",
        "temporal_affine_backward",
        [("dout.sum(axis=(0, 1))", "dout.sum(axis=0)")],
    ),
    ("sgd", "sign_flipped"): ("staff_a2.py", "sgd", [("w -= config", "w += config")]),
    ("sgd_momentum", "old_velocity"): (
        "optim_student.py",
        "sgd_momentum",
        [
            (
                '    v = config["momentum"] * v - config["learning_rate"] * dw\n    next_w = w + v\n',
                '    next_w = w + v\n    v = config["momentum"] * v - config["learning_rate"] * dw\n',
            )
        ],
    ),
    ("sgd_momentum", "step_sign"): ("optim_student.py", "sgd_momentum", [("next_w = w + v", "next_w = w - v")]),
    ("sgd_momentum", "velocity_sign"): (
        "optim_student.py",
        "sgd_momentum",
        [
            (
                'config["momentum"] * v - config["learning_rate"] * dw',
                'config["momentum"] * v + config["learning_rate"] * dw',
            ),
            ("next_w = w + v", "next_w = w - v"),
        ],
    ),
    ("rmsprop", "no_square_root"): (
        "optim_student.py",
        "rmsprop",
        [('(np.sqrt(config["cache"]) + config["epsilon"])', '(config["cache"] + config["epsilon"])')],
    ),
    ("rmsprop", "decay_swapped"): (
        "optim_student.py",
        "rmsprop",
        [
            (
                'config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2',
                '(1 - config["decay_rate"]) * config["cache"] + config["decay_rate"] * dw ** 2',
            )
        ],
    ),
    ("rmsprop", "old_cache"): (
        "optim_student.py",
        "rmsprop",
        [
            (
                '    config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2\n'
                '    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])\n',
                '    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])\n'
                '    config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2\n',
            )
        ],
    ),
    ("adam", "no_bias_correction"): (
        "optim_student.py",
        "adam",
        [
            ('mt = config["m"] / (1 - config["beta1"] ** config["t"])', 'mt = config["m"]'),
            ('vt = config["v"] / (1 - config["beta2"] ** config["t"])', 'vt = config["v"]'),
        ],
    ),
    ("adam", "one_minus_beta"): (
        "optim_student.py",
        "adam",
        [
            ('(1 - config["beta1"] ** config["t"])', '(1 - config["beta1"])'),
            ('(1 - config["beta2"] ** config["t"])', '(1 - config["beta2"])'),
        ],
    ),
    ("adam", "t_after_use"): (
        "optim_student.py",
        "adam",
        [
            ('    config["t"] += 1\n', ""),
            (
                '    next_w = w - config["learning_rate"] * mt',
                '    config["t"] += 1\n    next_w = w - config["learning_rate"] * mt',
            ),
        ],
    ),
    ("adam", "t_never_incremented"): ("optim_student.py", "adam", [('    config["t"] += 1\n', "")]),
    ("adam", "betas_swapped"): (
        "optim_student.py",
        "adam",
        [
            (
                'config["beta1"] * config["m"] + (1 - config["beta1"]) * dw',
                'config["beta2"] * config["m"] + (1 - config["beta2"]) * dw',
            ),
            (
                'config["beta2"] * config["v"] + (1 - config["beta2"]) * (dw ** 2)',
                'config["beta1"] * config["v"] + (1 - config["beta1"]) * (dw ** 2)',
            ),
        ],
    ),
}

# Real-style bugs the catalogue does not hold: (course file, the function that shows it, edits). None may be
# given a catalogue name; most still get a generic diagnosis (where it is wrong, a factor, the local gradient).
UNCATALOGUED = {
    # An argument of one value per channel or feature added wrong: named from the output's offset.
    "conv_bias_subtracted": (
        "conv_student.py",
        "conv_forward_naive",
        [("axes=([1, 2, 3], [1, 2, 3])) + b", "axes=([1, 2, 3], [1, 2, 3])) - b")],
    ),
    "batchnorm_beta_left_out": (
        "norms_student.py",
        "batchnorm_forward",
        [("        out = gamma * xhat + beta\n", "        out = gamma * xhat\n")],
    ),
    "conv_bias_first_filter": (
        "conv_student.py",
        "conv_forward_naive",
        [("axes=([1, 2, 3], [1, 2, 3])) + b", "axes=([1, 2, 3], [1, 2, 3])) + b[0]")],
    ),
    "conv_loop_one_row_short": (
        "conv_student.py",
        "conv_backward_naive",
        [("    for i in range(dout.shape[2]):", "    for i in range(dout.shape[2] - 1):")],
    ),
    "pool_loop_one_row_short": (
        "conv_student.py",
        "max_pool_backward_naive",
        [("for i in range(dout.shape[2]):", "for i in range(dout.shape[2] - 1):")],
    ),
    "lstm_forget_gate_uses_next_c": (
        "seq_student.py",
        "lstm_step_backward",
        [("di, df, dg = dc * g, dc * prev_c, dc * i", "di, df, dg = dc * g, dc * next_c, dc * i")],
    ),
    "rnn_skips_the_last_step": (
        "seq_student.py",
        "rnn_backward",
        [
            (
                "for t in reversed(range(T)):\n        dx[:, t, :], dprev,",
                "for t in reversed(range(T - 1)):\n        dx[:, t, :], dprev,",
            )
        ],
    ),
    "sigmoid_one_plus_s": (
        "layers_student.py",
        "sigmoid_backward",
        [("dx = dout * s * (1 - s)", "dx = dout * s * (1 + s)")],
    ),
    "groupnorm_dbeta_times_xhat": (
        "norms_student.py",
        "spatial_groupnorm_backward",
        [
            (
                "dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)",
                "dbeta = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)",
            )
        ],
    ),
    "batchnorm_dgamma_without_xhat": (
        "norms_student.py",
        "batchnorm_backward",
        [("dgamma = (dout * xhat).sum(axis=0)", "dgamma = dout.sum(axis=0)")],
    ),
    "temporal_affine_db_over_time_only": (
        "seq_student.py",
        "temporal_affine_backward",
        [("dout.sum(axis=(0, 1))", "dout.sum(axis=1)[0]")],
    ),
    "layernorm_dxhat_without_gamma": (
        "norms2_student.py",
        "layernorm_backward",
        [("    dxhat = dout * gamma\n", "    dxhat = dout\n")],
    ),
}
GENERIC = {"generic", "located", "local_gradient", "only_one_wrong", "first_wrong_value"}

# Students the class report needs: three with the same uncatalogued bug (two of them with identical
# code), and one whose file name is HTML.


def _class_extras():
    twin = planted_source(*UNCATALOGUED["sigmoid_one_plus_s"])
    reordered = twin.replace("dx = dout * s * (1 + s)", "dx = s * (s + 1) * dout")
    assert reordered != twin
    return {
        "twin__a.py": twin,
        "twin__b.py": twin,
        "twin__reordered.py": reordered,
        "<img src=x onerror=alert(1)>.py": planted_source(*PLANTED[("affine", "db_keepdims")]),
    }


CORRECT = (
    "layers_student.py",
    "seq_student.py",
    "norms2_student.py",
    "norms_student.py",
    "conv_student.py",
    "optim_student.py",
    "dropout_student.py",
)


def only(source, keep):
    """The file with only the function `keep`, its forward or backward partner, what they call, and the
    imports: a planted file grades one op, not the whole assignment."""
    tree = ast.parse(source)
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    wanted = {keep} | {name for target in TARGETS if keep in target.names for name in target.names}
    todo = list(wanted)
    while todo:
        node = functions.get(todo.pop())
        for name in (n.id for n in ast.walk(node) if isinstance(n, ast.Name)) if node else ():
            if name in functions and name not in wanted:
                wanted.add(name)
                todo.append(name)
    kept = [node for node in tree.body if not isinstance(node, ast.FunctionDef) or node.name in wanted]
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def planted_source(course_file, function, edits):
    with open(os.path.join(COURSE, course_file)) as handle:
        source = handle.read()
    for old, new in edits:
        assert old in source, (course_file, old)
        source = source.replace(old, new)
    return only(source, function)


def _name(op, key):
    return f"{op}__{key}"


def _grade_planted(folder):
    batch = folder / "batch"
    batch.mkdir()
    for (op, key), (course_file, function, edits) in PLANTED.items():
        (batch / f"{_name(op, key)}.py").write_text(planted_source(course_file, function, edits))
    for name, (course_file, function, edits) in UNCATALOGUED.items():
        (batch / f"uncatalogued__{name}.py").write_text(planted_source(course_file, function, edits))
    for name in CORRECT:
        with open(os.path.join(COURSE, name)) as handle:
            (batch / f"correct__{name}").write_text(handle.read())
    for name, text in _class_extras().items():  # for the class report's tests (test_html_report.py)
        (batch / name).write_text(text)
    out = folder / "reports"
    grade_folder(str(batch), Options(timeout=10.0, memory_mb=1024), jobs=2, out=str(out))
    return {
        path.name[: -len(".py.json")]: json.loads(path.read_text()) for path in out.iterdir() if path.suffix == ".json"
    }


@pytest.fixture(scope="module")
def planted_reports(tmp_path_factory):
    return once_per_session(tmp_path_factory, "planted", _grade_planted)


def test_every_catalogue_entry_has_a_planted_bug():
    """Each entry is planted, but for the model family's (one generator for every model op): each of
    its keys is planted on one model op at least."""
    catalogue = {(op, m.key) for op, mistakes in CATALOGUE.items() for m in mistakes}
    family = {(op, key) for op, key in catalogue if op in MODEL_OPS}
    assert catalogue - family == set(PLANTED) - family, (catalogue - set(PLANTED) - family, set(PLANTED) - catalogue)
    assert {key for _, key in family} == {key for op, key in PLANTED if op in MODEL_OPS}
    assert set(PLANTED) & family <= family


@pytest.mark.parametrize("op,key", sorted(PLANTED), ids=[_name(*k) for k in sorted(PLANTED)])
def test_a_planted_mistake_is_named(planted_reports, op, key):
    report = planted_reports[_name(op, key)]
    function = PLANTED[(op, key)][1]
    entry = next(r for r in report["results"] if r["name"] == function)
    assert key in entry["mistakes"], (entry["status"], entry["mistakes"], entry["message"][:600])
    assert entry["status"] != "pass" or entry["warnings"], entry["message"][:600]


@pytest.mark.parametrize(
    "name, function, quantities",
    [
        ("rnn__forward_order", "rnn_backward", "dx, dh0, dWx, dWh, db"),
        ("lstm_step__o_gate_sigmoid_prime_missing", "lstm_step_backward", "dx, dprev_h, dWx, dWh, db"),
        ("temporal_softmax_loss__divided_by_mask_count", "temporal_softmax_loss", "loss, dx"),
    ],
)
def test_a_mistake_that_explains_several_quantities_is_said_once(planted_reports, name, function, quantities):
    """One sentence naming every quantity it explains, not the same sentence once per quantity."""
    entry = next(r for r in planted_reports[name]["results"] if r["name"] == function)
    key = name.split("__")[1]
    says = next(m.says for m in CATALOGUE[name.split("__")[0]] if m.key == key)
    assert entry["message"].count(says) == 1, entry["message"]
    assert f"{quantities}: {says}" in entry["message"], entry["message"]


@pytest.mark.parametrize("name", CORRECT)
def test_correct_files_get_no_diagnosis(planted_reports, name):
    report = planted_reports[f"correct__{name[:-3]}"]
    for entry in report["results"]:
        assert entry.get("mistakes", []) == [] and entry["status"] in ("pass", "missing"), (
            entry["name"],
            entry["status"],
            entry["message"][:400],
        )


def _uncatalogued(planted_reports, name):
    function = UNCATALOGUED[name][1]
    return next(r for r in planted_reports[f"uncatalogued__{name}"]["results"] if r["name"] == function)


@pytest.mark.parametrize("name", sorted(UNCATALOGUED))
def test_a_bug_the_catalogue_does_not_hold_gets_no_catalogue_name(planted_reports, name):
    entry = _uncatalogued(planted_reports, name)
    assert entry["status"] == "fail", entry["message"][:400]
    assert set(entry["mistakes"]) <= GENERIC, (entry["mistakes"], entry["diagnosis"])


def test_most_bugs_the_catalogue_does_not_hold_still_get_a_diagnosis(planted_reports):
    described = [name for name in UNCATALOGUED if _uncatalogued(planted_reports, name)["diagnosis"]]
    assert len(described) >= 0.8 * len(UNCATALOGUED), sorted(set(UNCATALOGUED) - set(described))


@pytest.mark.parametrize(
    "name,phrase",
    [
        ("conv_bias_first_filter", "wrong in channels 1, 2, 3 of 4 only"),
        ("conv_bias_subtracted", "out is off by -2 * b, one value per channel: b is subtracted where it is added"),
        ("batchnorm_beta_left_out", "out is off by -beta, one value per column: beta is left out"),
        ("pool_loop_one_row_short", "wrong in rows 2, 3 of 4 only"),
        ("lstm_forget_gate_uses_next_c", "(one block)"),
        ("sigmoid_one_plus_s", "the local gradient the code uses, is wrong"),
        ("batchnorm_dgamma_without_xhat", "only dgamma is wrong"),
        ("rnn_skips_the_last_step", "is all zeros on sample"),
    ],
)
def test_a_generic_diagnosis_says_where_and_what(planted_reports, name, phrase):
    assert any(phrase in text for text in _uncatalogued(planted_reports, name)["diagnosis"])


def changed_lines(course_file, function, edits):
    """The lines of the planted file a plant changed (for a line it left out, the lines either side)."""
    import difflib

    with open(os.path.join(COURSE, course_file)) as handle:
        before = only(handle.read(), function).splitlines()
    after = planted_source(course_file, function, edits).splitlines()
    found = set()
    for tag, _, _, start, end in difflib.SequenceMatcher(a=before, b=after).get_opcodes():
        if tag == "delete":
            found |= {start, start + 1}
        elif tag != "equal":
            found |= set(range(start + 1, end + 1))
    return found


# The plant makes the code consistent in the other regularisation convention, which the grader then
# judges it in: its gradient line is the one that is wrong there.
POINTED_ELSEWHERE = {"linear_softmax__reg_gradient_factor"}


def test_a_line_pointed_at_is_the_planted_one(planted_reports):
    """Every line the diagnosis points at is one the plant changed; the share of failing plants whose
    line is named is measured (bench/pointing.py prints it)."""
    plants = {_name(*key): value for key, value in PLANTED.items()}
    plants.update({f"uncatalogued__{name}": value for name, value in UNCATALOGUED.items()})
    wrong, named, failing = [], 0, 0
    for name, (course_file, function, edits) in plants.items():
        entries = [r for r in planted_reports[name]["results"] if r["status"] == "fail"]
        failing += bool(entries)
        pointed = [r["where"] for r in entries if r.get("where")]
        lines = changed_lines(course_file, function, edits)
        if any(w["line"] in lines for w in pointed):
            named += 1
        elif pointed and name not in POINTED_ELSEWHERE:
            wrong.append((name, [(w["line"], w["code"]) for w in pointed], sorted(lines)))
    assert not wrong, wrong
    assert named >= 0.7 * failing, (named, failing)  # 86 of 110 when this was written (bench/pointing.py)


# Lines the diagnosis names, each found by a rule of its own: {plant: (its line's text, words of its sentence)}.
POINTED_BY = {
    # a value that is a correct one times a factor no staging gives, ahead of the wrong output
    "batchnorm__unbiased_variance": ("var = x.var(axis=0, ddof=1)", "first value on the way to the wrong out"),
    # the cache keeps the forward's argument where the backward reads the forward's output
    "sigmoid__derivative_from_x": ("return (s, x)", "the cache keeps x"),
    # a value returned without a name, of the wrong shape
    "temporal_affine__db_over_n_only": ("dout.sum(axis=0)", "what it returns third (db)"),
    # a model's loss(), its loss without the regularisation term
    "two_layer_net__reg_not_in_loss": ("loss, dscores = softmax_loss(scores, y)", "where the right loss is"),
    # an output wrong only by a constant factor, built on values the reference does not compute (a 0/1 mask)
    "svm_loss__no_1_over_n": ("dx[np.arange(N), y] -= np.sum(margins > 0, axis=1)", "times N (the batch size)"),
    # an update rule's name for the config entry it was meant to correct
    "adam__no_bias_correction": ("mt = config['m']", "first value on the way to the wrong next_w"),
    # a norm's statistics over the wrong axis: a correct value averaged over another axis
    "batchnorm__wrong_axis": ("mu = x.mean(axis=1, keepdims=True)", "averaged over axis 1"),
    # test mode reads the running statistics as they were handed in
    "batchnorm__test_mode_without_root": ("out = gamma * (x - running_mean) / (running_var + eps) + beta", "out is"),
    # read from the code: Adam's step count never increased, or increased after its use
    "adam__t_never_incremented": ("config.setdefault('t', 0)", "is never increased"),
    "adam__t_after_use": ("config['t'] += 1", "after lines 15 and 16 used it"),
    # read from the code: a pooling window's height read into a name of its width
    "max_pool__height_width_swapped": ("pw, ph, s = ", "a name of the window's width"),
    # read from the code: a group norm that never reads G
    "spatial_groupnorm__one_group": ("xg = x.reshape(N, 1, -1)", "splits x into groups without G"),
    # read from the code: an svm loss with no margin in its arithmetic
    "svm_loss__margin_missing": ("margins = np.maximum(0, x - correct[:, None])", "with no margin"),
    # dropout's own mask: the one line that computes the result
    "dropout__backward_without_scale": ("return dout * (mask > 0)", "the only line that computes"),
    # read from the code: a window written with = where windows may overlap
    "max_pool__assigned_not_added": ("dx[n, c, i * s:i * s + ph, j * s:j * s + pw] =", "writes a window of dx with ="),
    # read from the code: a recurrence whose carry is assigned on every pass and never read in the loop
    "rnn__dprev_not_added": ("dx[:, t, :], dprev, dWx_t", "assigns dprev on every pass"),
    # read from the code: a composite's backward that unpacks a layer's cache and never uses it
    "conv_relu_pool__relu_mask_missing": (
        "return conv_backward_naive(ds, conv_cache)",
        "without going through the relu",
    ),
    # read from the code: a spatial norm's (N, C, H, W) reshaped into rows of C without a transpose
    "spatial_batchnorm__reshaped_without_transpose": ("flat = x.reshape(-1, C)", "without moving the channels last"),
    # read from the code: a conv forward that flips its filter, or adds the first filter's bias to all
    "conv__filter_flipped": ("w[:, :, ::-1, ::-1]", "flips the filter w"),
    "uncatalogued__conv_bias_first_filter": ("+ b[0]", "the first filter's bias"),
    # a running statistic's update, at the line that computes it (not the one that stores it)
    "batchnorm__momentum_swapped": ("(1 - momentum) * running_", "bn_param['running_"),
    # read from the code: a backward through time that counts up, and pooling windows counted without the stride
    "rnn__forward_order": ("for t in range(T):", "runs the steps from the first up"),
    "max_pool__size_without_stride": ("H // ph, W // pw", "counts the windows"),
    # a loop one step short: the slab of the output it never reaches is still 0
    "uncatalogued__pool_loop_one_row_short": ("for i in range(dout.shape[2] - 1):", "never reaches the last index"),
    "uncatalogued__rnn_skips_the_last_step": ("for t in reversed(range(T - 1)):", "never reaches the last index"),
    "uncatalogued__conv_loop_one_row_short": ("for i in range(dout.shape[2] - 1):", "along axis 2 of dxp"),
}


@pytest.mark.parametrize("name", sorted(POINTED_BY))
def test_the_line_is_named_by_its_rule(planted_reports, name):
    code, words = POINTED_BY[name]
    failing = [r for r in planted_reports[name]["results"] if r["status"] == "fail" and r.get("where")]
    found = [(r["where"]["code"], r["diagnosis"][0]) for r in failing]
    assert any(code in where and words in sentence for where, sentence in found), found


def test_every_fitted_mistake_is_a_catalogue_key():
    """findings.FITTED names catalogue keys by string (the similarity score reads it without the
    catalogue): a key renamed in one place only would quietly be weighed as a mistake made alike."""
    from gradref.findings import FITTED

    assert FITTED <= {m.key for mistakes in CATALOGUE.values() for m in mistakes}

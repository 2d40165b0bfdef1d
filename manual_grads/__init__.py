"""Hand-written forward and backward passes, generic over NumPy, CuPy and jax.numpy arrays."""
from .circuits import (add_mul_circuit_backward, add_mul_circuit_forward, matmul_backward,
                       matmul_forward, max_gate_backward, max_gate_forward,
                       sigmoid_neuron_backward, sigmoid_neuron_forward,
                       staged_expression_backward, staged_expression_forward)
from .layers import (affine_backward, affine_forward, affine_relu_backward, affine_relu_forward,
                     linear_backward, linear_forward, relu_backward, relu_forward,
                     sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .losses import softmax_loss, svm_loss
from .nets import two_layer_net_loss

__all__ = [name for name in dir() if name.endswith(("_forward", "_backward", "_loss"))]

"""Hand-written forward and backward passes, generic over NumPy, CuPy, torch and jax.numpy arrays."""

from .circuits import (
    add_mul_circuit_backward,
    add_mul_circuit_forward,
    matmul_backward,
    matmul_forward,
    max_gate_backward,
    max_gate_forward,
    sigmoid_neuron_backward,
    sigmoid_neuron_forward,
    staged_expression_backward,
    staged_expression_forward,
)
from .conv import (
    conv_backward_fast,
    conv_backward_naive,
    conv_forward_fast,
    conv_forward_naive,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from .dropout import dropout_backward, dropout_forward
from .layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    linear_backward,
    linear_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .losses import (
    linear_softmax_loss,
    linear_softmax_loss_half,
    linear_svm_loss,
    linear_svm_loss_half,
    softmax_loss,
    svm_loss,
)
from .nets import (
    CaptioningRNN,
    FullyConnectedNet,
    ThreeLayerConvNet,
    TwoLayerNet,
    captioning_lstm_loss,
    captioning_rnn_loss,
    deep_convnet_batchnorm_loss,
    deep_convnet_batchnorm_loss_full,
    deep_convnet_loss,
    deep_convnet_loss_full,
    fc_net_batchnorm_loss,
    fc_net_batchnorm_loss_full,
    fc_net_dropout_loss,
    fc_net_dropout_loss_full,
    fc_net_layernorm_loss,
    fc_net_layernorm_loss_full,
    fc_net_loss,
    fc_net_loss_full,
    three_layer_convnet_loss,
    three_layer_convnet_loss_full,
    two_layer_net_loss,
    two_layer_net_loss_full,
)
from .norms import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from .optim import adam, rmsprop, sgd, sgd_momentum
from .sequence import (
    dot_product_attention_backward,
    dot_product_attention_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_ignore,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

__all__ = [
    name for name in dir() if name.endswith(("_forward", "_backward", "_backward_alt", "_loss", "_naive", "_fast"))
] + ["sgd", "sgd_momentum", "rmsprop", "adam", "TwoLayerNet"]

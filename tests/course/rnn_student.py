"""CS231n assignment 3's classifiers/rnn.py CaptioningRNN in the course's style, written for gradref's
tests. It imports the student's own rnn_layers (tests/course/seq_student.py, handed in as
rnn_layers.py beside it)."""

import numpy as np

from cs231n.rnn_layers import *


class CaptioningRNN(object):
    """
    A CaptioningRNN produces captions from image features using a recurrent
    neural network.

    The RNN receives input vectors of size D, has a vocab size of V, works on
    sequences of length T, has an RNN hidden dimension of H, uses word vectors
    of dimension W, and operates on minibatches of size N.

    Note that we don't use any regularization for the CaptioningRNN.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="rnn", dtype=np.float32):
        if cell_type not in {"rnn", "lstm"}:
            raise ValueError('Invalid cell_type "%s"' % cell_type)
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.params = {}
        vocab_size = len(word_to_idx)
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)

        self.params["W_embed"] = np.random.randn(vocab_size, wordvec_dim) / 100
        self.params["W_proj"] = np.random.randn(input_dim, hidden_dim) / np.sqrt(input_dim)
        self.params["b_proj"] = np.zeros(hidden_dim)
        dim_mul = {"lstm": 4, "rnn": 1}[cell_type]
        self.params["Wx"] = np.random.randn(wordvec_dim, dim_mul * hidden_dim) / np.sqrt(wordvec_dim)
        self.params["Wh"] = np.random.randn(hidden_dim, dim_mul * hidden_dim) / np.sqrt(hidden_dim)
        self.params["b"] = np.zeros(dim_mul * hidden_dim)
        self.params["W_vocab"] = np.random.randn(hidden_dim, vocab_size) / np.sqrt(hidden_dim)
        self.params["b_vocab"] = np.zeros(vocab_size)
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def loss(self, features, captions):
        """
        Compute training-time loss for the RNN. We input image features and
        ground-truth captions for those images, and use an RNN (or LSTM) to compute
        loss and gradients on all parameters.
        """
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null

        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        W_embed = self.params["W_embed"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        loss, grads = 0.0, {}
        h0 = features.dot(W_proj) + b_proj
        words, embed_cache = word_embedding_forward(captions_in, W_embed)
        if self.cell_type == "rnn":
            states, recurrence_cache = rnn_forward(words, h0, Wx, Wh, b)
        else:
            states, recurrence_cache = lstm_forward(words, h0, Wx, Wh, b)
        scores, scores_cache = temporal_affine_forward(states, W_vocab, b_vocab)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        dstates, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, scores_cache)
        if self.cell_type == "rnn":
            dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dstates, recurrence_cache)
        else:
            dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(dstates, recurrence_cache)
        grads["W_embed"] = word_embedding_backward(dwords, embed_cache)
        grads["W_proj"] = features.T.dot(dh0)
        grads["b_proj"] = dh0.sum(axis=0)
        return loss, grads

"""reset_seed and tensor_to_image, as the course's eecs598.utils documents them."""

import random

import torch


def reset_seed(number):
    """Seed Python's and torch's random number generators."""
    random.seed(number)
    torch.manual_seed(number)


def tensor_to_image(tensor):
    """A (3, H, W) float tensor in [0, 1] as an (H, W, 3) uint8 array."""
    tensor = tensor.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0)
    return tensor.to("cpu", torch.uint8).numpy()

"""pytest plugin: `--gradref-device cpu|gpu|all` and the fixture `gradref_check`.

def test_affine(gradref_check):
    gradref_check(affine_forward, affine_backward, reference=ref_affine, inputs=(x, w, b))
"""

import pytest

DEVICES = {"cpu": ("cpu",), "gpu": ("gpu",), "all": ("cpu", "gpu", "gpu-vs-cpu")}


def pytest_addoption(parser):
    group = parser.getgroup("gradref", "gradref: backward passes against JAX autodiff")
    group.addoption(
        "--gradref-device",
        choices=sorted(DEVICES),
        default="cpu",
        help="where gradref_check runs the oracle (and CuPy, where installed): cpu, gpu or all",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a GPU visible to JAX")


@pytest.fixture
def gradref_device(request):
    """The devices chosen with --gradref-device (skips the test when a GPU is asked for and absent)."""
    devices = DEVICES[request.config.getoption("--gradref-device")]
    if "gpu" in devices:
        from reference.oracle import gpu_available

        if not gpu_available():
            pytest.skip("--gradref-device asks for a GPU, and jax.devices('gpu') found none")
    return devices


@pytest.fixture
def gradref_check(gradref_device):
    """assert_backward_matches on the devices of --gradref-device."""
    from gradref.testing import assert_backward_matches

    def check(*args, **kwargs):
        __tracebackhide__ = True
        kwargs.setdefault("devices", gradref_device)
        return assert_backward_matches(*args, **kwargs)

    return check

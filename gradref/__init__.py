"""gradref: hand-written backward passes checked against JAX autodiff.

`gradref.testing` is the API for checking your own backward passes in your own tests; the pytest
plugin (`--gradref-device`, fixture `gradref_check`) is `gradref.pytest_plugin`.
"""

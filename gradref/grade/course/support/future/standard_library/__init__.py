"""future.standard_library: on Python 3 the standard library already has the names it aliases."""


def install_aliases():
    """Nothing to do on Python 3."""

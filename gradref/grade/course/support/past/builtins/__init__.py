"""past.builtins: the Python 2 names the `future` package gives Python 3 code, as they behave there."""

import functools

xrange = range
basestring = str
unicode = str
long = int
unichr = chr
raw_input = input
reduce = functools.reduce


def cmp(a, b):
    """Python 2's three-way comparison: -1, 0 or 1."""
    return (a > b) - (a < b)

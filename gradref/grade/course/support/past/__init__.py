"""past (from the `future` package), for a submission that imports it: CS231n's code of 2017-2019
writes `from past.builtins import xrange`."""

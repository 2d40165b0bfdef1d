"""future (the Python 2/3 compatibility package), for a submission that imports it."""

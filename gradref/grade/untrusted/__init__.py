"""Running untrusted code: the sandbox, its confinement and system-call filter, the worker and the
protocol between them, and the staging of uploads (zip, notebook) into plain .py files.

May import: the standard library, NumPy and gradref's plain helpers (`gradref.text`); nothing else of
gradref, the engine or JAX. `worker.py` and `protocol.py` run inside the sandbox and import nothing of
gradref at all (the worker loads protocol.py by its path).
"""

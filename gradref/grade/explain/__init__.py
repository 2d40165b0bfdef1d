"""Explaining: the mistake catalogue, the diagnosis that matches a wrong result against it, plain words
for plain errors, and the feedback levels that decide how much of it a student sees.

May import: `untrusted`, the engine (`manual_grads` for the catalogue's variants) and gradref's plain
helpers; never `course`, `judging` or `front`.
"""

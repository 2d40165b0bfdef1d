"""Judging: one submission graded function by function (grader), one sample judged against the oracle's
answers (judge, answers), the unseen values, dropout's own mask, the course's documented caches, the
evidence a failure leaves, and the verdict.

May import: `untrusted`, `explain`, `course`, the engine and gradref's plain helpers; never `front`.
"""

"""The course side: what a submission is graded for (targets), assignment specs and their TOML files
(specs/), reading which names a submission defines, and the course's own helper modules (support/),
served inside the sandbox.

May import: `untrusted`, `explain`, the engine and gradref's plain helpers; never `judging` or `front`.
"""

import os

SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support")  # mounted read-only in the sandbox

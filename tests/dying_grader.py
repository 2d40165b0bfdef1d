"""A stand-in grader for a batch's pool whose process dies on one file, as the kernel's OOM killer
would end it: kept apart from the test modules, so that each pool process the test starts imports
this alone and not JAX."""

import os
import time

from gradref.grade.front import batch as batch_module


def dies_on_the_killer(path, options, started):
    batch_module.mark_started(path, started)
    if os.path.basename(path) == "a_killer.py":
        time.sleep(0.3)  # long enough that the bystander beside it has started, every time
        os._exit(9)
    time.sleep(0.6)
    return "graded", ""

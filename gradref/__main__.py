"""`python -m gradref`: the same as the `gradref` command."""

import sys

from .cli import main

sys.exit(main())

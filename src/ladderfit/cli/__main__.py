"""``python -m ladderfit.cli``: the same as the ``ladderfit`` command."""

import sys

from . import main

sys.exit(main())

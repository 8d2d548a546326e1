"""Figures: matplotlib Axes in, Figure out, never ``plt.show()``.

The plotting layer sits at the end of the flow: it reads fits (:mod:`ladderfit.model`) and
tables (:mod:`ladderfit.analysis`) and draws them; nothing imports it but the CLI.
"""

from .figures import *  # noqa: F401,F403
from .figures import PLOTS, __all__  # noqa: F401

"""Figures: matplotlib Axes in, Figure out, never ``plt.show()``.

The plotting layer sits at the end of the flow: it reads fits (:mod:`ladderfit.model`) and
tables (:mod:`ladderfit.analysis`) and draws them; nothing imports it but the CLI.

==============================  ==================================================================
:mod:`.fitted`                  :func:`plot_step1`, :func:`plot_step2`, :func:`plot_chained`: the
                                fitted ladder, one panel per task
:mod:`.predictions`             :func:`plot_forest`: predictions of every task at the targets
:mod:`.variance`                :func:`plot_variance`: the noise measures per task
:mod:`.calibration`             :func:`plot_reliability`, :func:`plot_coverage_vs_distance`,
                                :func:`plot_calibration`: interval coverage by distance beyond
                                the ladder (a :func:`ladderfit.calibration` table)
:mod:`.diagnostics`             :func:`plot_trace`, :func:`plot_rank`,
                                :func:`plot_parameter_forest`: ArviZ sampler diagnostics
:mod:`.checks`                  :func:`plot_prior_predictive`, :func:`plot_ppc`,
                                :func:`plot_loo_pit`: prior and posterior predictive checks
:mod:`.sbc`                     :func:`plot_sbc_ranks`: simulation-based calibration's rank
                                histograms (a :func:`ladderfit.analysis.sbc.sbc` table)
:mod:`.design`                  :func:`plot_design`: the stopping view of a ladder design (expected
                                width vs ladder compute, :func:`ladderfit.analysis.design.design`)
:mod:`.common`                  shared plumbing: reading the fit, panel grid, bands, colours
:mod:`.posterior`               posterior draws of the parameters and the mean curves
:mod:`.tables`                  the fit's ladder points, predictions at targets, actual scores
==============================  ==================================================================
"""

from .calibration import plot_calibration, plot_coverage_vs_distance, plot_reliability
from .checks import plot_loo_pit, plot_ppc, plot_prior_predictive
from .design import plot_design
from .diagnostics import plot_parameter_forest, plot_rank, plot_trace
from .fitted import plot_chained, plot_step1, plot_step2
from .predictions import plot_forest
from .sbc import plot_sbc_ranks
from .variance import plot_variance

__all__ = [
    "plot_step1",
    "plot_step2",
    "plot_chained",
    "plot_forest",
    "plot_variance",
    "plot_trace",
    "plot_rank",
    "plot_parameter_forest",
    "plot_reliability",
    "plot_coverage_vs_distance",
    "plot_calibration",
    "plot_prior_predictive",
    "plot_ppc",
    "plot_loo_pit",
    "plot_sbc_ranks",
    "plot_design",
    "PLOTS",
]

#: Plot kinds of the ``ladderfit plot`` command.
PLOTS: dict[str, str] = {
    "step1": "plot_step1",
    "step2": "plot_step2",
    "chained": "plot_chained",
    "forest": "plot_forest",
    "variance": "plot_variance",
    "trace": "plot_trace",
    "rank": "plot_rank",
    "parameters": "plot_parameter_forest",
    "calibration": "plot_calibration",
    "prior": "plot_prior_predictive",
    "ppc": "plot_ppc",
    "loo_pit": "plot_loo_pit",
    "design": "plot_design",
}

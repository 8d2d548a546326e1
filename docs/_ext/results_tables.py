"""Benchmark tables rendered from the results files their scripts write, never typed by hand.

A results file is ``benchmarks/results/NAME.json``, written by ``benchmarks/NAME.py``: a JSON
object with the provenance keys ``commit``, ``date`` and ``machine`` (also ``version``,
``python``, ``settings``) and ``summary``, a list of flat records (one per table row); a view
may render another such list of the file instead (``calibration#by_task``). This module turns
one into a markdown table with a caption naming the commit, date and machine.

* As a Sphinx extension (``extensions = [..., "results_tables"]``), at the start of the build it
  writes ``docs/_generated/results/VIEW.md`` for every view in :data:`VIEWS`; the pages include
  them (```` ```{include} ../_generated/results/calibration.md ```` ). A missing results file
  renders as "not yet measured"; a malformed one stops the build (:class:`ResultsError`).
* As a script, ``python docs/_ext/results_tables.py --readme`` rewrites the README's tables
  between the markers ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` with
  :func:`readme_block` (``--check`` only says whether they are current; the tests check it too).

Nothing here imports ladderfit, Sphinx or pandas: the tests call it directly.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = ROOT / "docs" / "_generated" / "results"
README = ROOT / "README.md"
PROVENANCE = ("commit", "date", "machine")


class ResultsError(ValueError):
    """A results file that exists but cannot be rendered (not JSON, keys missing, rows uneven)."""


# (key, header, scale, decimals): a cell is ``round(value * scale, decimals)``. Columns of
# results files without an entry here are rendered as they come (:func:`_generic_columns`).
CALIBRATION_COLUMNS = (
    ("ladder", "ladder", None, None),
    ("model", "model", None, None),
    ("discrepancy", "discrepancy", None, None),
    ("bin", "distance", None, None),
    ("n", "pairs", None, None),
    ("coverage_50", "cov 50 (%)", 100.0, 1),
    ("coverage_80", "cov 80 (%)", 100.0, 1),
    ("coverage_90", "cov 90 (%)", 100.0, 1),
    ("coverage_95", "cov 95 (%)", 100.0, 1),
    ("mean_width_90", "width 90", 1.0, 2),
    ("mae", "MAE", 1.0, 2),
    ("interval_score_90", "IS90", 1.0, 2),
    ("crps", "CRPS", 1.0, 2),
    ("log_score", "log score", 1.0, 2),
    ("above_median", "above median (%)", 100.0, 1),
)
#: The stacking table: each structure and the stack, scored like the calibration (no drift).
STACKING_COLUMNS = (
    *CALIBRATION_COLUMNS[:2], ("bin", "distance", None, None), ("pairs", "pairs", None, None),
    *(c for c in CALIBRATION_COLUMNS if c[0] in ("coverage_90", "mean_width_90", "mae", "interval_score_90", "crps",
                                                  "log_score", "above_median")),
)

SAMPLER_GRID_COLUMNS = (
    ("model", "model", None, None), ("fits", "fits", 1.0, 0), ("divergences", "divergences", 1.0, 0),
    ("fits_with_divergences", "fits with divergences", 1.0, 0),
    ("fits_sampled_again", "fits sampled again at target_accept 0.99", 1.0, 0),
    ("fits_missing_goals", "fits missing a goal", 1.0, 0),
    ("max_r_hat", "worst R-hat (unrounded goal 1.01)", 1.0, 4), ("min_ess", "worst ESS", 1.0, 0),
    ("median_steps_per_draw", "median steps/draw", 1.0, 0),
)

#: The prior selection table (exponent and floor priors): as the stacking table, a prior in each row instead of a structure.
PRIOR_SELECTION_COLUMNS = tuple(("model", "prior", None, None) if c[0] == "model" else c for c in STACKING_COLUMNS)

#: Per task, the default structure's calibration (notebook 02's "which tasks to trust").
CALIBRATION_BY_TASK_COLUMNS = (
    ("ladder", "ladder", None, None), ("model", "model", None, None), ("discrepancy", "discrepancy", None, None),
    ("task", "task", None, None), ("pairs", "pairs", None, None), ("coverage_90", "cov 90 (%)", 100.0, 1),
    ("mean_width_90", "width 90", 1.0, 2), ("mae", "MAE", 1.0, 2), ("crps", "CRPS", 1.0, 2),
    ("above_median", "above median (%)", 100.0, 1), ("far_pairs", "far pairs", None, None),
    ("far_coverage_90", "far cov 90 (%)", 100.0, 1), ("far_above_median", "far above median (%)", 100.0, 1),
)

#: The default's calibration split by whether the hold-out's training runs show the task only at chance.
CALIBRATION_BY_CHANCE_COLUMNS = (
    ("ladder", "ladder", None, None), ("at_chance", "at chance", None, None), ("bin", "distance", None, None),
    ("n", "pairs", None, None), *(c for c in CALIBRATION_COLUMNS if c[0] in (
        "coverage_90", "mean_width_90", "mae", "interval_score_90", "crps", "log_score", "above_median")),
)

#: The SBC's divergence counts over its simulations' fits.
SBC_DIVERGENCES_COLUMNS = (
    ("fits", "fits", 1.0, 0), ("fits_with_any", "fits with divergent transitions", 1.0, 0),
    ("total", "divergent transitions in all", 1.0, 0), ("max", "most in one fit", 1.0, 0),
    ("fits_sampled_again", "fits sampled again at retry_target_accept", 1.0, 0),
)

GPU_CHECK_COLUMNS = (
    ("what", "what", None, None), ("device", "device", None, None), ("chains", "chains", None, None),
    ("run", "run", None, None), ("seconds", "seconds", 1.0, 1), ("sampling_s", "of them sampling", 1.0, 1),
    ("draws_per_chain", "draws per chain", 1.0, 0), ("min_ess_bulk", "min ESS bulk", 1.0, 0),
    ("max_r_hat", "max R-hat", 1.0, 3), ("divergences", "divergences", 1.0, 0),
    ("peak_device_mb", "peak GPU MB", 1.0, 0), ("converged", "converged", None, None), ("note", "note", None, None),
)

GPU_AGREEMENT_COLUMNS = (
    ("largest_gap_points", "largest gap of the medians, GPU vs CPU (points)", 1.0, 2),
    ("largest_gap_over_cpu_width90", "largest gap / the CPU's 90% width", 1.0, 3), ("ok", "within a third", None, None),
)

COLUMNS = {"calibration": CALIBRATION_COLUMNS, "gpu_check": GPU_CHECK_COLUMNS, "gpu_check#agreement": GPU_AGREEMENT_COLUMNS, "sbc#divergences": SBC_DIVERGENCES_COLUMNS,
           "sbc_run_effects#divergences": SBC_DIVERGENCES_COLUMNS, "calibration#by_task": CALIBRATION_BY_TASK_COLUMNS,
           "calibration#by_chance": CALIBRATION_BY_CHANCE_COLUMNS, "calibration_run_effects": CALIBRATION_COLUMNS,
           "stacking": STACKING_COLUMNS, "prior_selection": PRIOR_SELECTION_COLUMNS,
           "prior_selection_slopes": PRIOR_SELECTION_COLUMNS, "prior_selection_slopes2": PRIOR_SELECTION_COLUMNS,
           "prior_selection_exponents": PRIOR_SELECTION_COLUMNS, "prior_selection_exponent_means": PRIOR_SELECTION_COLUMNS,
           "prior_selection_exponent_sd_only": PRIOR_SELECTION_COLUMNS, "prior_selection_exponent_02_sd": PRIOR_SELECTION_COLUMNS,
           "sampler_grid": SAMPLER_GRID_COLUMNS}

#: What each results file's table says, beneath the caption.
NOTES = {
    "gpu_check": (
        "One NVIDIA H200 lent for one session (JAX 0.11.2 with CUDA 13, NumPyro 0.21, the machine's "
        "16 CPU cores for the CPU row): the default model on the bundled ladder's 10 default tasks, fit and "
        "predict in one process (*cold*: compiling; *warm*: the same call again), and the command users "
        "run in new processes (cold: an empty compilation cache). At that commit `chain_method=\"auto\"` ran "
        "one GPU's chains one after another (the command's rows); it now runs them vectorized. The "
        "1000-task scale fit was stopped at its time limit."
    ),
    "calibration": (
        "Nested hold-outs inside each bundled ladder, every held-out run scored with the discrepancy "
        "chosen on the other hold-outs' other runs (*no drift*: the package's discrepancy, a spread; "
        "*drift*: with a mean too; *OLMo's*: the setting from all OLMo hold-outs, applied to Pythia; *v0.1*: "
        "the package's version 0.1, two steps without a discrepancy, fitted from its own source); distance bins: near < 0.7, mid 0.7-1.5, far > 1.5 "
        "log-units beyond the training runs. Coverage and *above median* in %, width 90, MAE, the 90% "
        "interval score (IS90) and CRPS in accuracy points (lower is better), the log score in nats "
        "(higher is better); *above median* is 50% when the medians are unbiased."
    ),
    "calibration#by_task": (
        "The calibration table's default rows by task: the single step with the discrepancy chosen on the "
        "other hold-outs' other runs (OLMo; 43 pairs per task at distances 0-3.1) and with OLMo's setting "
        "(Pythia; 3 pairs per task, no far bin). Coverage and *above median* in %, width 90, MAE and CRPS in "
        "accuracy points; *far*: the pairs more than 1.5 log-units beyond the training runs (OLMo: 8 per task, "
        "6 of them from the 4-run corner)."
    ),
    "calibration#by_chance": (
        "The calibration table's default rows (the single step; OLMo with the discrepancy chosen on the "
        "other hold-outs' other runs, Pythia with OLMo's), split by whether the hold-out's training runs "
        "show the task only at chance (*at chance* yes: its best run less than 3 binomial sds above chance, "
        "`ladderfit.model.chance`; the file lists which hold-out and task). Units as in the "
        "calibration table."
    ),
    "calibration_run_effects": (
        "The nested hold-outs of the calibration table (``benchmarks/calibration.py --models "
        "two_step,two_step+run_effects --results-name calibration_run_effects``): the two steps with a "
        "checkpoint's noise independent (*two_step*) and with a run's persistent offset shared by its "
        "checkpoints (*+run_effects*), each with its cross-validated discrepancy (*no drift*; Pythia: "
        "*OLMo's*). Units as in the calibration table."
    ),
    "sampler_grid": (
        "Per structure, over the fits of the grid (each bundled ladder in full and each of its nested "
        "hold-outs; a final-only simulated ladder), at the package's defaults: divergent transitions "
        "in the draws kept, the fits with any, the fits whose first run had some and were sampled again "
        "with smaller steps (from the start, ``FitConfig.retry_target_accept``), the fits that missed a goal (0 divergences, R-hat <= 1.01, bulk "
        "and tail ESS >= 400), the worst R-hat and ESS, and the median leapfrog steps per draw. "
        "Every fit is listed in the results file."
    ),
    "stacking": (
        "The nested hold-outs of the calibration table, each structure with its cross-validated "
        "discrepancy (no drift); *stack*: the mixture of the structures with weights fitted, for "
        "each held-out run, on the log scores of the other hold-outs' other runs (Pythia: OLMo's "
        "weights where no such run is left). Units as in the calibration table."
    ),
    "prior_selection": (
        "The nested hold-outs of the calibration table, the single step with each exponent prior (the "
        "population mean of log alpha and log beta: *shipped* Normal(log 0.3, 0.75); *0.2*, *0.15*: the "
        "same sd around log 0.2 or log 0.15; *alpha 0.15*: alpha's only; *wide*: sd 1.5 around log 0.3) "
        "or floor prior (the floor minus the task's chance level: *shipped* Normal(0, 0.05); *floor at "
        "chance*: sd 0.01; *floor free*: sd 0.1), each with its cross-validated discrepancy (no drift); *selected*: each held-out run scored with "
        "the variant of lowest CRPS on the other hold-outs' other runs (where none is left, OLMo's choice). Units as "
        "in the calibration table; the choices per run are in the results file."
    ),
    "prior_selection_slopes": (
        "As the exponent and floor priors' table, for the population sd of the single step's log slopes "
        "(around the mean at the task's centre logit): *shipped* the prior shipped when this ran, LogNormal(log 0.5, "
        "0.5) for g_N and g_D; *slope sd 0.25*: LogNormal(log 0.25, 0.5), the default since; *selected*: each held-out run scored with the variant of "
        "lowest CRPS on the other hold-outs' other runs (where none is left, OLMo's choice)."
    ),
    "prior_selection_slopes2": (
        "As the slope population's table, one step further: *shipped* LogNormal(log 0.25, 0.5), the default; "
        "*slope sd 0.125* and *slope sd 0.0625*: the same log-sd around half and a quarter of that median; "
        "*selected*: each held-out run scored with the variant of lowest CRPS on the other hold-outs' other runs "
        "(where none is left, OLMo's choice)."
    ),
    "prior_selection_exponents": (
        "As the slope population's tables, for the exponents' population: *shipped* the default, the sd of "
        "log alpha and of log beta across tasks LogNormal(log 0.3, 0.5); *exponent sd 0.15* and *exponent sd "
        "0.075*: the same log-sd around half and a quarter of that median; *selected*: each held-out run scored "
        "with the variant of lowest CRPS on the other hold-outs' other runs (where none is left, OLMo's choice). "
        "Fitted with 500 first draws per chain, the calibration table's with 400: the shipped rows differ from "
        "its by the sampler's draws."
    ),
    "prior_selection_exponent_means": (
        "The exponent priors' table again at today's default (the slope population, its mean at the task's "
        "centre logit, 500 first draws): *shipped* the exponents' population means with median 0.3, "
        "Normal(log 0.3, 0.75); *alpha, beta 0.2*: both medians 0.2; *alpha 0.15*: alpha's median 0.15; "
        "*selected*: each held-out run scored with the variant of lowest CRPS on the other hold-outs' other "
        "runs (where none is left, OLMo's choice)."
    ),
    "prior_selection_exponent_sd_only": (
        "The exponents' population means with a tighter prior: *shipped* Normal(log 0.3, 0.75), the prior "
        "shipped when this ran; *exponent means sd 0.3*: Normal(log 0.3, 0.3) for log alpha's and log beta's "
        "means; *selected*: each held-out run scored with the variant of lowest CRPS on the other hold-outs' "
        "other runs (where none is left, OLMo's choice)."
    ),
    "prior_selection_exponent_02_sd": (
        "As the table before, at median 0.2: *shipped* Normal(log 0.3, 0.75), the prior shipped when this "
        "ran; *exponent means 0.2 sd 0.3*: Normal(log 0.2, 0.3), the single step's default since; *selected*: "
        "each held-out run scored with the variant of lowest CRPS on the other hold-outs' other runs (where "
        "none is left, OLMo's choice)."
    ),
    "run_bootstrap#table": (
        "The calibration table's OLMo rows (the default, the paper's two steps, version 0.1), each score with its 90% "
        "bootstrap interval over the held-out runs in parentheses: a run's pairs (its tasks, in every hold-out that "
        "holds it out) resampled together, 2,000 replicates; *runs*: the distinct held-out runs in the bin; *fits*: "
        "the hold-outs that scored its pairs, and *largest fit*: the share of them from one (one posterior). Units as in "
        "the calibration table; Pythia's rows are in the results file (one or two runs per bin: no interval to speak of)."
    ),
    "backtest": (
        "Two steps fitted on the 12 paper runs of 190M-760M, predicting the four 1B runs (truth: the "
        "final-checkpoint accuracy); per task, the held-out runs and per method (*bayes*: the joint model; "
        "*ls*: the paper's least squares with its delta-method band) the MAE and mean 90% width in accuracy "
        "points and the runs its 90% interval covers. The per-run rows are in the results file."
    ),
    "paper_parity": (
        "The held-out-rung backtest (the four 1B runs, all tasks) per method and structure: *n* (task, run) "
        "pairs, MAE and mean 90% width in accuracy points, 90% coverage in %, the fit's wall time in seconds."
    ),
    "compute_vs_error": (
        "Growing training ladders drawn from the 12 paper runs of 190M-760M (by sizes, by multipliers, by "
        "cumulative FLOPs) predicting the four 1B runs: the ladder's runs and sizes, its compute (the sum of "
        "its runs' training FLOPs) and that as % of 7B-4T's; per method the MAE and mean 90% width in "
        "accuracy points and the 90% coverage in %. A ladder of one size is listed, not fitted (–)."
    ),
    "ablations": (
        "The held-out-rung backtest (the four 1B runs, 10 tasks), two steps, one change at a time from the "
        "default: MAE and mean 90% width in accuracy points, 90% coverage in %, the fit's wall time in "
        "seconds; *converged*: no convergence warning."
    ),
    "design_backtest": (
        "Each candidate rung added to a sub-ladder of the bundled OLMo ladder (by default 190M-760M at 1 and "
        "2 xC, target 1B-10xC, 6 tasks, two steps): the design's expected 90% width at the target and the "
        "5-95% range of the width one run could leave (*outcome 5*, *outcome 95*) against the actual width "
        "after refitting with the run; the expected error of the median against the actual; widths and "
        "errors in accuracy points averaged over tasks, reductions per EFLOP in points; ranks by reduction "
        "per EFLOP (1 = best). The rank correlations and the per-task table are in the results file."
    ),
    "sampler_levers": (
        "The default fit (two steps, 10 tasks, 16 runs, 4 chains) with one sampler setting changed per "
        "row: wall seconds (compilation included), draws per chain, mean leapfrog steps per draw and tree "
        "depth, min bulk and tail ESS, max R-hat, divergences, and the median and max over tasks of the "
        "largest |correlation| among the sigmoid's three sampled coordinates. The first-draws table of "
        "this file is of the two steps, the default when it was measured; today's is below."
    ),
    "first_draws#first_draws_met": (
        "How many first draws per chain (`FIRST_DRAWS`): the default model fitted to 1,000 draws per chain for each "
        "of 8 seeds per bundled ladder, and on how many seeds the first *draws* of them meet the "
        "convergence goals (max R-hat <= 1.01 unrounded, bulk and tail ESS >= 400; divergent transitions "
        "are counted in the next table). The per-seed R-hat, ESS and divergences are in the results file."
    ),
    "first_draws#first_draws_cost": (
        "The same fits with *draws* as the first draws and `fit`'s continuations replayed on their chains: "
        "the mean draws per chain they end with, the share that continued, the seconds of drawing per fit "
        "warm and on a cold cache (where the first continuation compiles its program: *continuation compile s*), "
        "the fits meeting the goals at the end and those with a divergent transition (sampled again from the "
        "start by `fit`, whatever the count); *both*: the mean of the two ladders. `FIRST_DRAWS` is the count of "
        "fewest cold seconds on *both*."
    ),
    "compiler_options": (
        "The sampler's program compiled with XLA's classic CPU emitters (`xla_cpu_use_fusion_emitters` off) "
        "and with XLA's defaults, each model fitted to the bundled OLMo ladder in new processes, the two in "
        "turn: a cold fit (empty compilation cache) then a warm one (its program loaded); medians of the "
        "repeats of XLA's compile seconds and the fit's seconds cold and warm; leapfrog steps per draw, "
        "max R-hat and min ESS of the first repeat's cold fit; *same draws*: whether both compiled programs "
        "drew the same numbers. The single step and the run effects compile with the classic emitters, the "
        "two steps without run effects with XLA's defaults (`CPU_COMPILER_OPTIONS`)."
    ),
    "predictive_options": (
        "The default fit's posterior predictive at 7B-4T and 13B-5T (one program, `LadderFit._predictor`), "
        "over the draws one at a time (NumPyro's `Predictive` default) or vectorised (`parallel=True`, as "
        "ladderfit runs it), each compiled anew with XLA's defaults and with `CPU_PREDICTIVE_OPTIONS`, the "
        "four in turn: medians over the repeats of the compile seconds and of the best of 5 runs' seconds, "
        "the program's temporary memory (MB), and the largest difference of its accuracy draws from the "
        "first row's."
    ),
    "import_breakdown": (
        "What a second `ladderfit predict --target 7B-4T --target 13B-5T` imports, from Python's "
        "`-X importtime` in new processes (medians over the repeats): the sum of every module's own time "
        "and of ladderfit's own modules, with ladderfit's bytecode cached (Python's default) and compiled "
        "from source (its cache deleted, under `PYTHONDONTWRITEBYTECODE`); then packages, each with the "
        "module that imported it first and its cumulative seconds there."
    ),
    "item_calibration": (
        "Simulated ladders evaluated on fixed items (by default 6 ladders x 4 tasks), two steps, per target "
        "(2, 3 and 10 times the largest run's N and D): the (ladder, task) pairs, and the counts inside the "
        "50% and 90% accuracy intervals and the 90% task-loss interval; the rms of the accuracy error "
        "(truth - median) over the mean predictive sd, and of its parts (step 1, the item set's shape, the "
        "curve fit, the run's offset, the item flips); the shape error's rms over the new-items sd. The "
        "parameters' coverage is in the results file."
    ),
}

#: name -> (results file, or FILE#KEY for its records under KEY; filter; columns to leave out).
#: A filter maps a record key to a glob pattern (or a tuple of them) its value must match.
VIEWS: dict[str, tuple[str, dict, tuple]] = {
    "calibration": ("calibration", {}, ()),
    # the README's table: the default structure (single_step) beside the paper's two steps, with the
    # discrepancy the package ships; on Pythia with OLMo's calibration (what a user gets, out of
    # sample); and version 0.1 (two steps, no discrepancy) on both
    "calibration_default": ("calibration", [
        {"ladder": "olmo", "model": ("single_step", "two_step"), "discrepancy": "no drift"},
        {"ladder": "pythia", "model": ("single_step", "two_step*"), "discrepancy": "OLMo's"},
        {"model": "v0.1*", "discrepancy": "none"},
    ], ()),
    "calibration_by_task": ("calibration#by_task", [
        {"ladder": "olmo", "model": "single_step", "discrepancy": "no drift"},
        {"ladder": "pythia", "model": "single_step", "discrepancy": "OLMo's"},
    ], ("model", "discrepancy")),  # the note names both: the table stays narrow enough for the far columns
    "calibration_by_chance": ("calibration#by_chance", [
        {"ladder": "olmo", "model": "single_step", "discrepancy": "no drift"},
        {"ladder": "pythia", "model": "single_step", "discrepancy": "OLMo's"},
    ], ()),
    "calibration_run_effects": ("calibration_run_effects", {"discrepancy": ("no drift", "OLMo's")}, ()),
    "backtest": ("backtest", {}, ()),
    "paper_parity": ("paper_parity", {}, ()),
    "compute_vs_error": ("compute_vs_error", {}, ()),
    "stacking": ("stacking", {}, ()),
    "prior_selection": ("prior_selection", {}, ()),
    "prior_selection_slopes": ("prior_selection_slopes", {}, ()),
    "prior_selection_slopes2": ("prior_selection_slopes2", {}, ()),
    "prior_selection_exponents": ("prior_selection_exponents", {}, ()),
    "prior_selection_exponent_means": ("prior_selection_exponent_means", {}, ()),
    "prior_selection_exponent_sd_only": ("prior_selection_exponent_sd_only", {}, ()),
    "prior_selection_exponent_02_sd": ("prior_selection_exponent_02_sd", {}, ()),
    # the default and the paper's two steps on OLMo (Pythia's 1-2 held-out runs leave no interval)
    "run_bootstrap": ("run_bootstrap#table", {"ladder": "olmo", "model": ("single_step", "two_step", "v0.1*"),
                                              "discrepancy": ("no drift", "none")}, ()),
    "design_backtest": ("design_backtest", {}, ()),
    "sbc": ("sbc", {}, ()),
    "sbc_divergences": ("sbc#divergences", {}, ()),
    "sbc_run_effects": ("sbc_run_effects", {}, ()),
    "sbc_run_effects_divergences": ("sbc_run_effects#divergences", {}, ()),
    "noise": ("noise", {}, ()),
    "speed": ("speed", {}, ()),
    "speed_stages": ("speed#stages", {}, ()),
    "scale": ("scale", {}, ()),
    "far_width": ("far_width", {}, ()),
    "sampler_grid": ("sampler_grid", {}, ()),
    "sampler_grid_target_accept": ("sampler_grid_target_accept", {}, ("file", "commit", "model")),  # the caption names them
    "sampler_levers": ("sampler_levers", {}, ()),
    "unchecked": ("unchecked", {}, ()),
    "compiler_options": ("compiler_options", {}, ()),
    "predictive_options": ("predictive_options", {}, ()),
    "import_breakdown": ("import_breakdown", {}, ()),
    "gpu_check": ("gpu_check", {}, ()),
    "gpu_check_agreement": ("gpu_check#agreement", {}, ()),
    "first_draws": ("first_draws#first_draws_met", {}, ()),
    "first_draws_cost": ("first_draws#first_draws_cost", {}, ("model",)),
    "ablations": ("ablations", {}, ()),
    "item_calibration": ("item_calibration", {}, ()),
}
#: The README shows this view of a results file between its markers.
README_VIEWS = {"calibration": "calibration_default"}


def load_results(path: Path, key: str = "summary") -> dict:
    """Read and check one results file (its records under ``key``, ``summary`` unless a view
    names another); :class:`ResultsError` if it is malformed."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(payload, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(payload).__name__}")
    missing = [k for k in (*PROVENANCE, key) if k not in payload]
    if missing:
        raise ResultsError(f"{path}: missing key(s) {', '.join(missing)}")
    rows = payload[key]
    if isinstance(rows, dict) and key != "summary":  # one record (sbc.json's divergences): a table of one row
        rows = payload[key] = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ResultsError(f"{path}: {key!r} must be a list of records (JSON objects)")
    for i, row in enumerate(rows):
        bad = [k for k, v in row.items() if isinstance(v, (dict, list))]
        if bad:
            raise ResultsError(f"{path}: {key}[{i}] has nested values in {', '.join(bad)}")
        if set(row) != set(rows[0]):
            raise ResultsError(f"{path}: {key}[{i}] has keys {sorted(row)}, {key}[0] {sorted(rows[0])}")
    return payload


def _matches(value, patterns) -> bool:
    patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    return any(fnmatch.fnmatchcase(str(value), p) for p in patterns)


def select(rows: list[dict], where) -> list[dict]:
    """The records whose values match every pattern of ``where`` (a dict), or of any of the
    dicts of ``where`` (a list), in the file's order."""
    wheres = where if isinstance(where, list) else [where]
    return [r for r in rows if any(all(k in r and _matches(r[k], p) for k, p in w.items()) for w in wheres)]


def _generic_columns(rows: list[dict]) -> tuple:
    return tuple((k, k.replace("_", " "), 1.0 if _is_number(rows[0][k]) else None, "g") for k in rows[0])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cell(value, scale, decimals) -> str:
    """One table cell: text as it is, a number scaled and rounded (``decimals="g"``: 4 significant
    digits), True and False as yes and no, an empty or non-finite number as an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if scale is None or not _is_number(value):  # "--fit" stays two hyphens (MyST's smartquotes make "--" a dash)
        return str(value).replace("|", "\\|").replace("--", "\\-\\-")
    if isinstance(value, int) and scale == 1.0:
        return str(value)
    if decimals == "g":
        return f"{value * scale:.4g}"
    return f"{value * scale:.{decimals}f}"


def caption(name: str, payload: dict) -> str:
    """Where the numbers come from: script, commit, date, machine, ladderfit and Python versions."""
    extra = ", ".join(f"{k} {payload[k]}" for k in ("version", "python") if k in payload)
    extra = extra.replace("version", "ladderfit").replace("python", "Python")
    script = payload.get("script", f"benchmarks/{name}.py")  # a script that writes more than one file names itself
    return (f"*Written by `{script}` at commit `{payload['commit']}` on {payload['date']}, "
            f"{payload['machine']}" + (f" ({extra})" if extra else "") + f"; file `benchmarks/results/{name}.json`.*")


def not_measured(name: str) -> str:
    return f"*Not yet measured: `benchmarks/results/{name}.json` is written by `python benchmarks/{name}.py`.*\n"


def render(view: str, results_dir: Path | None = None) -> str:
    """Markdown for one view of :data:`VIEWS` (or a results file name): the table, its caption and
    note, or the "not yet measured" line when the file is missing. Raises :class:`ResultsError`
    for a malformed file."""
    source, where, drop = VIEWS.get(view, (view, {}, ()))
    name, _, key = source.partition("#")  # "calibration#by_task": the file's records under by_task
    path = Path(results_dir or RESULTS) / f"{name}.json"
    if not path.exists():
        return not_measured(name)
    payload = load_results(path, key or "summary")
    rows = select(payload[key or "summary"], where)
    if not rows:
        return f"*No rows in `benchmarks/results/{name}.json` for {where}.*\n\n{caption(name, payload)}\n"
    columns = [c for c in COLUMNS.get(source, _generic_columns(rows)) if c[0] not in drop]
    absent = [c[0] for c in columns if c[0] not in rows[0]]
    if absent:
        raise ResultsError(f"{path}: summary records lack {', '.join(absent)}")
    align = ["---:" if _is_number(rows[0][key]) else "---" for key, *_ in columns]
    lines = ["| " + " | ".join(c[1] for c in columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell(r[key], scale, dec) for key, _, scale, dec in columns) + " |" for r in rows]
    text = "\n".join(lines) + "\n\n" + caption(name, payload) + "\n"
    if source in NOTES:
        text += "\n" + NOTES[source] + "\n"
    return text


def parse_table(markdown: str) -> list[dict]:
    """The rows of the first pipe table in ``markdown`` as {header: cell text} (for the tests)."""
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    if len(lines) < 2:
        return []
    split = lambda ln: [c.strip() for c in re.split(r"(?<!\\)\|", ln.strip())[1:-1]]  # noqa: E731
    head = split(lines[0])
    return [dict(zip(head, split(ln))) for ln in lines[2:]]


def readme_block(name: str, results_dir: Path | None = None) -> str:
    """What the README holds between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``."""
    return "\n" + render(README_VIEWS.get(name, name), results_dir) + "\n"


MARKERS = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.S)


def readme_tables(text: str) -> dict[str, str]:
    """{name: the text between the markers} of every marked table in a README."""
    return {m["name"]: m["body"] for m in MARKERS.finditer(text)}


def update_readme(path: Path = README, results_dir: Path | None = None) -> bool:
    """Rewrite the README's marked tables from the results files; True if it changed."""
    text = path.read_text()
    new = MARKERS.sub(lambda m: m[1] + readme_block(m["name"], results_dir) + m[4], text)
    if new != text:
        path.write_text(new)
    return new != text


def write_generated(out: Path = GENERATED, results_dir: Path | None = None) -> list[Path]:
    """Write ``VIEW.md`` for every view into ``out`` (a file is rewritten only when it changed,
    so Sphinx does not rebuild the pages that include it)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for view in VIEWS:
        path, text = out / f"{view}.md", render(view, results_dir)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def _builder_inited(app) -> None:
    from sphinx.errors import ExtensionError

    try:
        write_generated()
    except ResultsError as err:
        raise ExtensionError(f"malformed results file: {err}") from err


def setup(app):
    app.connect("builder-inited", _builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Render benchmarks/results/*.json into the README and docs.")
    ap.add_argument("--readme", action="store_true", help="rewrite the README's marked tables")
    ap.add_argument("--check", action="store_true", help="exit 1 if the README's marked tables are stale")
    ap.add_argument("--print", metavar="VIEW", help="print one view's markdown")
    args = ap.parse_args(argv)
    if args.print:
        print(render(args.print), end="")
    if args.check:
        stale = [n for n, body in readme_tables(README.read_text()).items() if body != readme_block(n)]
        print("README tables stale: " + ", ".join(stale) if stale else "README tables current")
        return 1 if stale else 0
    if args.readme:
        print("README updated" if update_readme() else "README already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A fitted ladder: posterior, predictions at targets, summaries, save and load."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import numpy as np
import pandas as pd
from numpyro.infer import Predictive

from .config import FitConfig
from .diagnostics import PARAMETERS, ConvergenceReport, check_convergence
from .draws import Draws, to_inference_data
from .inputs import ModelData
from .joint import SAMPLED_SITES, SAMPLER_SITES, model_for
from .priors import DEFAULT_PRIORS, DISCREPANCY_PRIORS, resolve_priors
from .provenance import DATA_HASH_DESCRIPTION, library_versions
from .runtime import compiler_options, unchecked
from .spec import as_spec
from ..data.targets import as_targets

if TYPE_CHECKING:  # ArviZ and xarray are imported where used: a fit and its predictions need neither
    import arviz as az
    import xarray as xr

__all__ = ["LadderFit", "load", "interval_columns", "discrepancy_priors", "MODEL_NAME", "PREDICTED",
           "format_version", "quantile_summary"]

MODEL_NAME = "ladderfit.joint_two_step.v4"

#: The variables of the ``predictions`` group (:meth:`LadderFit.add_predictions`).
PREDICTED: tuple[str, ...] = ("accuracy", "accuracy_mean", "task_loss", "task_loss_mean")


def interval_columns(samples: np.ndarray, levels=(50, 90, 95), axis: int = 0) -> dict[str, np.ndarray]:
    """mean, median, sd and central ``lower_L``/``upper_L`` intervals of samples along ``axis``."""
    out = {
        "mean": samples.mean(axis),
        "median": np.median(samples, axis),
        "sd": samples.std(axis, ddof=1),
    }
    for lev in levels:
        if not 0 < lev < 100:
            raise ValueError(f"interval level must be in (0, 100), got {lev!r}")
        lo, hi = np.percentile(samples, [50 - lev / 2, 50 + lev / 2], axis=axis)
        out[f"lower_{lev:g}"], out[f"upper_{lev:g}"] = lo, hi
    return out


@dataclass(init=False)
class LadderFit:
    """The result of :func:`ladderfit.fit`.

    Attributes
    ----------
    idata : arviz.InferenceData with dims ``task``, ``run``, ``step1_point``, ``checkpoint``
        (and ``target`` in the ``predictions`` groups once :meth:`add_predictions` ran). A fresh
        fit builds it on first use from its draws (the posterior predictive and the pointwise
        log-likelihood are computed then): predictions at targets (:meth:`predict`, ``ladderfit
        predict``) need neither and do not wait for them.
    config : the :class:`~ladderfit.model.config.FitConfig` used.
    model_data : the arrays the model saw.
    diagnostics : R-hat, ESS and divergences (:class:`ConvergenceReport`).
    data_sha256 : SHA-256 of the data the fit saw
        (:func:`~ladderfit.model.provenance.data_sha256`); ``None`` where unknown.
    versions : the library versions that made the fit
        (:func:`~ladderfit.model.provenance.library_versions`).
    """

    config: FitConfig
    model_data: ModelData
    priors: dict
    diagnostics: ConvergenceReport
    sampling_seconds: float
    data_sha256: str | None
    versions: dict

    def __init__(self, idata: az.InferenceData | None = None, config: FitConfig | None = None,
                 model_data: ModelData | None = None, priors: dict | None = None,
                 diagnostics: ConvergenceReport | None = None, sampling_seconds: float = float("nan"),
                 data_sha256: str | None = None, versions: dict | None = None, *, draws: Draws | None = None):
        """``idata`` (a loaded fit) or ``draws`` (a fresh one's :class:`~ladderfit.model.draws.Draws`,
        turned into :attr:`idata` when it is first used)."""
        if (idata is None) == (draws is None):
            raise TypeError("LadderFit needs either idata or draws")
        self._idata, self._draws = idata, draws
        self._predictors: dict = {}  # compiled posterior predictives at targets (_predictor)
        self.config, self.model_data, self.priors, self.diagnostics = config, model_data, priors, diagnostics
        self.sampling_seconds, self.data_sha256 = sampling_seconds, data_sha256
        self.versions = library_versions() if versions is None else versions

    @property
    def idata(self) -> az.InferenceData:
        if self._idata is None:
            self._idata = to_inference_data(self._draws, self.model_data, self.priors, self.config.seed)
            self._draws = None  # the posterior lives in idata now
        return self._idata

    @property
    def n_chains(self) -> int:
        return self._draws.n_chains if self._draws is not None else int(self.idata.posterior.sizes["chain"])

    @property
    def n_draws(self) -> int:
        """Draws per chain."""
        return self._draws.n_draws if self._draws is not None else int(self.idata.posterior.sizes["draw"])

    @property
    def draws_note(self) -> str:
        """How many draws per chain were taken, and why (empty for fits saved without it)."""
        if self._draws is not None:
            return self._draws.note
        return str(self.idata.sample_stats.attrs.get("ladderfit_draws", ""))

    @property
    def tasks(self) -> list[str]:
        return list(self.model_data.tasks)

    @property
    def converged(self) -> bool:
        return self.diagnostics.converged

    def __repr__(self) -> str:
        d = self.diagnostics.as_dict()
        return (
            f"<LadderFit: {len(self.tasks)} tasks, {self.model_data.n_runs} runs, "
            f"{self.n_chains} chains x {self.n_draws} draws; max R-hat {d['max_r_hat']:.3f}, "
            f"min bulk ESS {d['min_ess_bulk']:.0f}, {d['divergences']} divergences>"
        )

    @property
    def provenance(self) -> dict:
        """Where the fit came from, as saved with it (and for a fresh fit the same).

        Keys: ``format`` (the saved-fit format), ``versions`` (ladderfit, numpyro, jax,
        arviz, python that made the fit), ``data_sha256`` and ``data_hashed`` (what the hash
        covers), ``model`` (the specification), ``preprocessing``, ``priors``, ``sampler``
        (chains, warmup, draws asked (``None``: by need) and taken, ESS target, seed, chain
        method, target_accept (the one the draws came from) and retry_target_accept, tree depths,
        progress bar, seconds) and ``convergence`` (max R-hat, min ESS, divergences, the verdict and
        its problems).
        """
        c = self.config
        return {
            "format": MODEL_NAME,
            "versions": dict(self.versions),
            "data_sha256": self.data_sha256,
            "data_hashed": DATA_HASH_DESCRIPTION,
            "model": c.model.to_dict(),
            "preprocessing": c.preprocessing.to_dict(),
            "priors": {k: [v[0], list(v[1])] for k, v in self.priors.items()},
            "sampler": {
                "chains": c.chains, "warmup": c.warmup, "draws": c.draws, "seed": c.seed,
                "draws_taken": self.n_draws, "ess_target": c.ess_target,
                "max_draws": c.max_draws, "chain_method": c.chain_method, "target_accept": c.target_accept,
                "retry_target_accept": c.retry_target_accept,
                "max_tree_depth": c.max_tree_depth, "warmup_tree_depth": c.warmup_tree_depth,
                "progress_bar": c.progress_bar,
                "sampling_seconds": float(self.sampling_seconds),
            },  # fmt: skip
            "convergence": {**self.diagnostics.as_dict(), "problems": self.diagnostics.problems()},
        }

    # ------------------------------------------------------------------ summaries
    def summary(self, var_names=None, hdi_prob: float = 0.9) -> pd.DataFrame:
        """ArviZ's posterior summary of the model's parameters: mean, sd, HDI, the Monte Carlo
        standard errors of mean and sd (``mcse_mean``, ``mcse_sd``), R-hat and bulk/tail ESS.
        For predictions, :meth:`prediction_summary`."""
        import arviz as az

        names = var_names or [v for v in PARAMETERS if v in self.idata.posterior]
        return az.summary(self.idata, var_names=list(names), hdi_prob=hdi_prob)

    def prediction_summary(self, targets=None, levels=(50, 90), seed: int | None = None,
                           discrepancy=None) -> pd.DataFrame:
        """Median and central intervals of the predictions with their Monte Carlo standard errors.

        The MCSE of each quantile comes from ArviZ (``az.mcse(..., method="quantile")``) on
        the chains of the predictive draws: a value is known to about +-2 MCSE, so it says how
        many digits are real; more draws shrink it (like 1/sqrt(draws)).

        Parameters
        ----------
        targets, seed, discrepancy : as in :meth:`predict`; ``targets=None`` summarises the
            stored ``predictions`` group (:meth:`add_predictions`) where there is one, else
            predicts the paper's targets.
        levels : central interval levels in percent.

        Returns
        -------
        Tidy DataFrame: ``target, task, quantity`` (``task_loss``, ``accuracy``), ``median``,
        ``median_mcse`` and ``lower_L``, ``lower_L_mcse``, ``upper_L``, ``upper_L_mcse`` for
        each level L.
        """
        import xarray as xr

        if targets is None and self._idata is not None and "predictions" in self._idata.groups():
            preds = self._idata.predictions
        else:
            tg = as_targets(targets)
            draws = self.predictive_draws(tg, seed=seed, discrepancy=discrepancy)
            shape = (self.n_chains, self.n_draws)
            preds = xr.Dataset(
                {k: (("chain", "draw", "target", "task"), draws[k].reshape(shape + draws[k].shape[1:]))
                 for k in ("task_loss", "accuracy") if k in draws},
                coords={"target": tg["target"].to_numpy(str), "task": np.array(self.tasks)},
            )  # fmt: skip
        return quantile_summary(preds, levels=levels)

    def parameters(self) -> pd.DataFrame:
        """Tidy per-task parameter table: task, parameter, mean, median, sd, lower_90, upper_90."""
        import xarray as xr

        rows = []
        for name in ("E", "A", "alpha", "B", "beta", "sigma_loss", "floor", "k", "L0", "sigma_acc",
                     "logit_centre", "logit_slope_N", "logit_slope_D"):
            if name not in self.idata.posterior:
                continue
            da = self.idata.posterior[name]
            if "law" in da.dims:  # a shared feature's law: the same for every task
                da = da.isel(law=xr.DataArray(self.model_data.law_of_task, dims="task"))
            da = da.stack(sample=("chain", "draw")).transpose("sample", "task")
            stats = interval_columns(da.values, levels=(90,))
            for i, task in enumerate(self.tasks):
                rows.append({"task": task, "parameter": name, **{k: float(v[i]) for k, v in stats.items()}})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ prediction
    def _posterior_samples(self) -> dict[str, np.ndarray]:
        """The latent sites' draws, chains one after another: ``{site: (chain * draw, ...)}``.
        Without the ladder's run offsets (run effects' ``run_z``, drawn for :attr:`idata` only):
        a prediction is of a new run, which reads none of them."""
        if self._draws is not None:
            return {k: v.reshape((-1,) + v.shape[2:]) for k, v in self._draws.samples.items()
                    if k in SAMPLED_SITES and k not in SAMPLER_SITES}
        post = self.idata.posterior
        sampled = [v for v in post.data_vars if v in SAMPLED_SITES and v != "run_z"]
        return {v: post[v].stack(sample=("chain", "draw")).transpose("sample", ...).values for v in sampled}

    def predict(self, targets=None, levels=(50, 90, 95), seed: int | None = None, discrepancy=None,
                store: bool = False) -> pd.DataFrame:
        """Posterior predictive of task loss and accuracy at target models.

        Parameters
        ----------
        targets : names (``"7B-4T"``), ``"NAME=N,D"`` strings, a DataFrame ``target, N, D`` ...
            (see :func:`ladderfit.data.targets.as_targets`); ``None``: the paper's 7B-4T and 13B-5T.
        levels : central interval levels in percent.
        discrepancy : the model discrepancy ``d^p (delta + gamma eps)`` to predict with:
            ``None`` (the fit's priors: the structure's calibrated default unless overridden),
            a number (a fixed gamma with the fit's drift delta; 0: no discrepancy at all), a
            prior of gamma ``("LogNormal", (mu, sigma))``, or a dict of the priors
            :data:`~ladderfit.model.priors.DISCREPANCY_PRIORS` (what
            :attr:`~ladderfit.analysis.discrepancy.DiscrepancyEstimate.priors` gives). It
            changes predictions only, never the posterior.
        store : also keep the draws in :attr:`idata` as ArviZ's ``predictions`` and
            ``predictions_constant_data`` groups (see :meth:`add_predictions`).

        Returns
        -------
        Tidy DataFrame: ``target, task, N, D, distance, location`` (where the target lies:
        :meth:`locate`), ``quantity`` (``task_loss`` or ``accuracy``), ``mean, median, sd`` and
        ``lower_L``/``upper_L`` for each level L.
        """
        tg = as_targets(targets)
        draws = self.predictive_draws(tg, seed=seed, discrepancy=discrepancy)
        if store:
            self._store_predictions(tg, draws, seed, discrepancy)
        where = self.locate(tg)
        rows = []
        for quantity in ("task_loss", "accuracy"):
            if quantity not in draws:  # the single-step structure predicts accuracy only
                continue
            s = draws[quantity]  # (samples, target, task)
            if not np.isfinite(s).all():
                raise FloatingPointError(f"non-finite posterior predictive draws for {quantity}; the fit is broken")
            stats = interval_columns(s, levels=levels)
            for i, row in tg.iterrows():
                for j, task in enumerate(self.tasks):
                    rows.append(
                        {
                            "target": row["target"],
                            "task": task,
                            "N": row["N"],
                            "D": row["D"],
                            "distance": where["distance"].iloc[i],
                            "location": where["location"].iloc[i],
                            "quantity": quantity,
                            **{k: float(v[i, j]) for k, v in stats.items()},
                        }
                    )
        return pd.DataFrame(rows)

    def locate(self, targets=None) -> pd.DataFrame:
        """Where each target lies relative to the ladder: ``target, N, D, distance, location``.

        ``distance``: from the convex hull of the ladder's runs in (log N, log D) (log C for the
        compute structure; :mod:`ladderfit.model.geometry`), the d of the discrepancy;
        ``location``: ``inside`` (d = 0), ``beyond`` (larger N or D than any ladder run: an
        extrapolation), or ``beside`` (outside the hull, not beyond it: smaller, or another
        tokens-per-parameter ratio within the ladder's range); ``extrapolated``: whether d
        exceeds the largest distance the discrepancy was calibrated at (prior
        ``discrepancy_max_distance``), so that its growth d^p is extrapolated too.
        """
        tg = as_targets(targets)
        md = self.model_data
        x, z = md.target_xz(tg)
        d = np.asarray(md.distance_beyond(x, z), float)
        beyond = (x > md.s1_x.max() + 1e-9) | (z > md.s1_z.max() + 1e-9)
        calibrated = self.priors.get("discrepancy_max_distance", ("Fixed", (np.inf,)))[1][0]
        return pd.DataFrame({
            "target": tg["target"].to_numpy(), "N": tg["N"].to_numpy(float), "D": tg["D"].to_numpy(float),
            "distance": d, "location": np.where(d <= 1e-9, "inside", np.where(beyond, "beyond", "beside")),
            "extrapolated": d > calibrated,
        })  # fmt: skip

    def tasks_at_chance(self, sds: float | None = None) -> pd.DataFrame:
        """Which tasks the ladder shows only at chance (:func:`ladderfit.model.chance.tasks_at_chance`):
        per task, its chance level and items, its best run's final accuracy, how many binomial sds
        above chance that is, and ``at_chance`` (fewer than ``sds``, default
        :data:`~ladderfit.model.chance.AT_CHANCE_SDS`). Beyond the ladder such a task's interval is
        not calibrated for the rise the ladder cannot show."""
        from .chance import AT_CHANCE_SDS, tasks_at_chance

        return tasks_at_chance(self.model_data, AT_CHANCE_SDS if sds is None else float(sds))

    def add_predictions(self, targets=None, seed: int | None = None, discrepancy=None) -> xr.Dataset:
        """Keep the posterior predictive at ``targets`` in :attr:`idata`, the ArviZ way.

        Adds (or replaces) two groups: ``predictions`` with ``accuracy``, ``accuracy_mean``
        (the curve without observation noise), ``task_loss`` and ``task_loss_mean`` (not for
        the single-step structure), dims ``(chain, draw, target, task)``; and
        ``predictions_constant_data`` with the targets' ``N``, ``D`` and ``flops`` (given, or
        estimated from the ladder's FLOPs per token) by ``target``. Then
        ``az.summary(fit.idata, group="predictions")`` works, and :meth:`save` keeps both
        groups. ``targets``, ``seed`` and ``discrepancy`` are those of :meth:`predict`
        (``predict(..., store=True)`` does the same). Returns the ``predictions`` group.
        """
        tg = as_targets(targets)
        draws = self.predictive_draws(tg, seed=seed, discrepancy=discrepancy)
        return self._store_predictions(tg, draws, seed, discrepancy)

    def _store_predictions(self, tg: pd.DataFrame, draws: dict, seed, discrepancy) -> xr.Dataset:
        import xarray as xr

        post = self.idata.posterior
        chains, n_draws = post.sizes["chain"], post.sizes["draw"]
        dims = ("chain", "draw", "target", "task")
        data_vars = {
            name: (dims, np.asarray(draws[name]).reshape((chains, n_draws) + np.shape(draws[name])[1:]))
            for name in PREDICTED if name in draws
        }
        coords = {"chain": post["chain"].values, "draw": post["draw"].values,
                  "target": tg["target"].to_numpy(str), "task": np.array(self.tasks)}  # fmt: skip
        how = "the fit's priors" if discrepancy is None else json.dumps(
            discrepancy_priors(discrepancy), default=lambda o: np.asarray(o).tolist())
        seed = self.config.seed + 1 if seed is None else seed
        preds = xr.Dataset(data_vars, coords=coords,
                           attrs={"ladderfit_seed": int(seed), "ladderfit_discrepancy": how})  # fmt: skip
        N, D = tg["N"].to_numpy(float), tg["D"].to_numpy(float)
        c0, c1 = self.model_data.flops_coef
        flops = np.exp(c0 + c1 * np.log(N)) * D
        if "flops" in tg.columns:
            given = tg["flops"].to_numpy(float)
            flops = np.where(np.isfinite(given), given, flops)
        const = xr.Dataset({"N": ("target", N), "D": ("target", D), "flops": ("target", flops)},
                           coords={"target": coords["target"]})  # fmt: skip
        for group in ("predictions", "predictions_constant_data"):
            if group in self.idata.groups():
                delattr(self.idata, group)
        self.idata.add_groups(predictions=preds, predictions_constant_data=const)
        return self.idata.predictions

    def predictive_draws(self, targets=None, seed: int | None = None, discrepancy=None) -> dict[str, np.ndarray]:
        """Raw draws ``{"task_loss": (samples, target, task), "accuracy": ...}`` at targets
        (``discrepancy`` as in :meth:`predict`).

        Also the pieces of the accuracy draw: ``logit`` (u*, discrepancy included),
        ``discrepancy_draw`` (its standard normal epsilon), ``accuracy_mean`` (the curve at u*),
        ``accuracy_raw`` (before clipping to [0, 1]) and ``floor`` (samples, task).
        """
        tg = as_targets(targets)
        x, z = self.model_data.target_xz(tg)
        sites = ["target_accuracy", "target_accuracy_mean", "target_logit", "target_discrepancy",
                 "target_accuracy_raw", "floor"]
        if self.model_data.structure != "single_step":
            sites += ["target_loss", "target_loss_mean"]
        seed = self.config.seed + 1 if seed is None else seed
        priors = self.priors
        if discrepancy is not None:
            priors = resolve_priors({**{k: v for k, v in self.priors.items() if k in DEFAULT_PRIORS},
                                     **discrepancy_priors(discrepancy)})
        with unchecked(self.model_data.structure):
            out = self._predictor(x, z, priors, tuple(sites))(jax.random.PRNGKey(seed), self._posterior_samples())
        names = {"target_loss": "task_loss", "target_accuracy": "accuracy",
                 "target_loss_mean": "task_loss_mean", "target_accuracy_mean": "accuracy_mean",
                 "target_logit": "logit", "target_discrepancy": "discrepancy_draw",
                 "target_accuracy_raw": "accuracy_raw", "floor": "floor"}
        return {names[k]: np.asarray(v) for k, v in out.items() if k in names}

    def _predictor(self, x, z, priors: dict, sites: tuple):
        """The posterior predictive at targets (x, z) as one compiled program of (key, posterior
        draws), kept for the fit's next calls with the same targets and priors (run op by op,
        NumPyro's ``Predictive`` traces and dispatches the model anew at every call), and on disk
        with the sampler's programs (:class:`~.programs.CachedProgram`). It is vectorised over the
        draws (``parallel=True``; NumPyro's default loops over them one at a time, several times
        slower: ``benchmarks/results/predictive_options.json``)."""
        from .programs import CachedProgram, digest

        inputs = (self.model_data, priors, np.asarray(x), np.asarray(z), sites)
        key = digest(inputs)
        fn = self._predictors.pop(key, None)
        if fn is None:
            md, model = self.model_data, model_for(self.model_data.structure)

            def predictive(rng_key, samples):
                return Predictive(model, posterior_samples=samples, return_sites=list(sites), parallel=True)(
                    rng_key, md, priors, target_x=x, target_z=z)
            fn = CachedProgram(predictive, inputs, "predictive",  # on disk too where the CLI keeps programs
                               compiler_options(self.model_data.spec, "predictive"))
        self._predictors[key] = fn  # the most recent last
        while len(self._predictors) > 8:
            self._predictors.pop(next(iter(self._predictors)))
        return fn

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to netCDF: the InferenceData with config, priors and model data.

        The posterior's attributes also record the fit's :attr:`provenance`: ``ladderfit_versions``,
        ``ladderfit_data_sha256``, ``ladderfit_data_hashed``, ``ladderfit_model_spec``,
        ``ladderfit_sampler`` and ``ladderfit_convergence`` (JSON where not a plain string).
        Stored predictions (:meth:`add_predictions`) are kept.
        """
        import xarray as xr

        path = Path(path)
        idata = self.idata.copy()
        md = self.model_data
        const = {name: np.asarray(getattr(md, name)) for name in ModelData.ARRAYS}
        ds = xr.Dataset({f"md_{k}": (f"md_{k}_dim", v) for k, v in const.items()})
        if "constant_data" in idata.groups():
            del idata.constant_data
        idata.add_groups(constant_data=ds)
        attrs = {
            "ladderfit_model": MODEL_NAME,
            "ladderfit_config": self.config.to_json(),
            "ladderfit_priors": json.dumps({k: [v[0], list(v[1])] for k, v in self.priors.items()}),
            "ladderfit_model_data": json.dumps(
                {"tasks": md.tasks, "runs": md.runs, "spec": md.spec.to_dict(), "logN_c": md.logN_c, "logD_c": md.logD_c,
                 "x_max": md.x_max, "z_max": md.z_max, "logC_c": md.logC_c,
                 "flops_coef": list(md.flops_coef)}
            ),
            "ladderfit_sampling_seconds": float(self.sampling_seconds),
        }
        prov = self.provenance
        attrs.update({
            "ladderfit_versions": json.dumps(prov["versions"], sort_keys=True),
            "ladderfit_data_sha256": prov["data_sha256"] or "",
            "ladderfit_data_hashed": prov["data_hashed"],
            "ladderfit_model_spec": json.dumps(prov["model"], sort_keys=True),
            "ladderfit_sampler": json.dumps(prov["sampler"], sort_keys=True),
            "ladderfit_convergence": json.dumps(prov["convergence"], sort_keys=True),
        })  # fmt: skip
        idata.posterior.attrs.update(attrs)
        idata.posterior.attrs[CHECKSUM_ATTR] = json.dumps(content_checksums(idata), sort_keys=True)
        from ..io import atomic_path

        # a temporary file in the same folder, then os.replace: a failed write (disk full,
        # an interrupt) leaves the previous file, or none, never a broken one
        with atomic_path(path) as tmp:
            data = _netcdf_bytes(idata)
            if data is None:
                idata.to_netcdf(str(tmp))
            else:
                Path(tmp).write_bytes(data)
        return path




def _netcdf_bytes(idata: az.InferenceData) -> bytes | None:
    """The netCDF file in memory (h5netcdf), or ``None`` where that engine is missing.

    HDF5 crashes the process (a segmentation fault) when the disk fills during a direct
    write; built in memory first, the file is written by plain Python I/O, which fails with
    an ``OSError`` instead.
    """
    import io

    try:
        import h5netcdf  # noqa: F401
    except ImportError:
        return None
    buf = io.BytesIO()
    for i, group in enumerate(idata.groups()):
        getattr(idata, group).to_netcdf(buf, mode="w" if i == 0 else "a", group=group, engine="h5netcdf")
    return buf.getvalue()


def quantile_summary(predictions: xr.Dataset, levels=(50, 90), quantities=("task_loss", "accuracy")) -> pd.DataFrame:
    """Quantiles of draws with dims ``(chain, draw, target, task)`` and their MCSE (ArviZ).

    The table of :meth:`LadderFit.prediction_summary`: one row per target, task and quantity
    (those of ``quantities`` in ``predictions``), ``median``, ``median_mcse`` and
    ``lower_L``/``upper_L`` with ``_mcse`` for each level L.
    """
    import arviz as az

    probs = {"median": 0.5}
    for lev in levels:
        if not 0 < lev < 100:
            raise ValueError(f"interval level must be in (0, 100), got {lev!r}")
        probs[f"lower_{lev:g}"] = 0.5 - lev / 200
        probs[f"upper_{lev:g}"] = 0.5 + lev / 200
    names = [q for q in quantities if q in predictions.data_vars]
    ds = predictions[names]
    cols = {}
    for col, q in probs.items():
        value = ds.quantile(q, dim=("chain", "draw")).drop_vars("quantile")
        mcse = az.mcse(ds, method="quantile", prob=q)
        cols[col], cols[f"{col}_mcse"] = value, mcse
    rows = []
    for name in names:
        for target in predictions["target"].values:
            for task in predictions["task"].values:
                row = {"target": str(target), "task": str(task), "quantity": name}
                for col, da in cols.items():
                    row[col] = float(da[name].sel(target=target, task=task))
                rows.append(row)
    return pd.DataFrame(rows)


def discrepancy_priors(discrepancy) -> dict:
    """Prior overrides from :meth:`LadderFit.predict`'s ``discrepancy`` argument: a dict of
    :data:`~ladderfit.model.priors.DISCREPANCY_PRIORS`; a number, a fixed gamma with the fit's drift (0: no
    discrepancy at all, drift included); or a prior of gamma."""
    if isinstance(discrepancy, dict):
        unknown = set(discrepancy) - set(DISCREPANCY_PRIORS)
        if unknown:
            raise ValueError(f"discrepancy: unknown prior(s) {sorted(unknown)}; expected {', '.join(DISCREPANCY_PRIORS)}")
        return dict(discrepancy)
    if isinstance(discrepancy, np.ndarray) and discrepancy.ndim == 0:
        discrepancy = discrepancy.item()
    if isinstance(discrepancy, (str, bool, np.bool_)):
        raise ValueError(f"discrepancy: expected None, a finite number >= 0, a prior or a dict of priors, "
                         f"got {discrepancy!r}")
    if np.isscalar(discrepancy):
        if not (np.isreal(discrepancy) and np.isfinite(discrepancy) and discrepancy >= 0):
            raise ValueError(f"discrepancy: a fixed scale is a finite number >= 0, got {discrepancy!r}")
        if discrepancy == 0:  # no discrepancy at all: neither spread nor drift
            return {"discrepancy": ("Fixed", (0.0,)), "discrepancy_drift": ("Fixed", (0.0,))}
        return {"discrepancy": ("Fixed", (float(discrepancy),))}
    return {"discrepancy": tuple(discrepancy)}


def load(path: str | Path) -> LadderFit:
    """Read a fit written by :meth:`LadderFit.save`; a file from another model is an error.

    Like :func:`~ladderfit.model.bayes.fit`, turns on JAX's float64 mode, so predictions of a
    loaded fit equal those of the fit; a fit that had not converged warns again
    (:class:`~ladderfit.model.diagnostics.ConvergenceWarning`).
    """
    import arviz as az

    from ..errors import LadderDataError
    from ..io import check_input
    from .runtime import enable_x64

    enable_x64()
    path = check_input(path, "a fit saved with LadderFit.save (FIT.nc)")  # never opens a pipe: it would block
    try:
        idata = az.from_netcdf(str(path))
    except Exception as err:  # noqa: BLE001
        detail = " ".join(str(err).split())[:200]
        raise LadderDataError(
            f"{path}: not a readable netCDF fit, truncated or another kind of file ({type(err).__name__}: {detail}); "
            "expected a fit saved with LadderFit.save"
        ) from None
    attrs = idata.posterior.attrs if "posterior" in idata.groups() else {}
    _check_format(path, attrs)
    _check_contents(path, idata)
    try:
        config = FitConfig.from_json(attrs["ladderfit_config"])
        priors = {k: (v[0], tuple(v[1])) for k, v in json.loads(attrs["ladderfit_priors"]).items()}
        # priors the model gained after the fit was saved (the single step's slope population):
        # defaults; predictions use the posterior's per-task values, as before
        priors.update({k: (v[0], tuple(v[1])) for k, v in DEFAULT_PRIORS.items()
                       if k not in priors and k not in DISCREPANCY_PRIORS})
        meta = json.loads(attrs["ladderfit_model_data"])
        const = idata.constant_data
        arrays = {name: const[f"md_{name}"].values for name in ModelData.ARRAYS}
        md = ModelData(
            tasks=list(meta["tasks"]), runs=list(meta["runs"]), logN_c=float(meta["logN_c"]),
            logD_c=float(meta["logD_c"]), x_max=float(meta["x_max"]), z_max=float(meta["z_max"]),
            logC_c=float(meta["logC_c"]), flops_coef=tuple(float(c) for c in meta["flops_coef"]),
            spec=as_spec(meta["spec"]), **arrays,
        )  # fmt: skip
        _check_consistent(idata, md, config)
        seconds = float(attrs.get("ladderfit_sampling_seconds", np.nan))
        # provenance: absent from files saved before it was recorded
        versions = json.loads(attrs["ladderfit_versions"]) if "ladderfit_versions" in attrs else {}
        data_hash = str(attrs.get("ladderfit_data_sha256", "")) or None
    except LadderDataError:
        raise
    except Exception as err:  # noqa: BLE001 (edited or damaged attributes, missing groups)
        what = f"missing {err}" if isinstance(err, (KeyError, AttributeError)) else f"{type(err).__name__}: {err}"
        raise LadderDataError(
            f"{path}: the saved fit is damaged or was edited ({' '.join(what.split())[:200]}); "
            "expected the attributes and constant data LadderFit.save writes: refit and save again"
        ) from None
    report = check_convergence(idata, warn=True)
    return LadderFit(idata, config, md, priors, report, seconds, data_sha256=data_hash, versions=versions)


def _check_format(path: Path, attrs) -> None:
    """The file is a ladderfit fit of this format; an older or newer one says what to do."""
    from ..errors import LadderDataError

    if attrs.get("ladderfit_model") != MODEL_NAME:
        found = attrs.get("ladderfit_model")
        version = format_version(found)
        if version is not None and version > format_version(MODEL_NAME):
            raise LadderDataError(
                f"{path}: written by a newer ladderfit (format v{version}); upgrade ladderfit "
                f"(this one reads format v{format_version(MODEL_NAME)}, {MODEL_NAME!r})"
            )
        if version is not None:
            raise LadderDataError(
                f"{path}: written by an older ladderfit (format v{version}); refit it and save again "
                f"(this one reads format v{format_version(MODEL_NAME)}, {MODEL_NAME!r})"
            )
        hint = " (saved by another version of ladderfit: refit it)" if str(found).startswith("ladderfit.") else ""
        raise LadderDataError(
            f"{path}: not a ladderfit fit of model {MODEL_NAME!r} (found {found!r}){hint}; "
            "expected a fit saved with LadderFit.save"
        )


#: The posterior attribute holding the checksums of a saved fit's contents (:func:`content_checksums`).
CHECKSUM_ATTR = "ladderfit_checksums"


def _digest(values) -> str:
    """SHA-256 (16 hex digits) of an array's shape and values, the same however netCDF stored them
    (integers and booleans as int64, floats as float64 with one NaN)."""
    a = np.asarray(values)
    h = hashlib.sha256(f"{a.shape}".encode())
    if a.dtype.kind in "biu":
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    elif a.dtype.kind == "f":
        a = a.astype(np.float64)
        h.update(np.ascontiguousarray(np.where(np.isnan(a), np.nan, a)).tobytes())
    else:
        h.update(json.dumps(a.tolist(), default=str).encode())
    return h.hexdigest()[:16]


def content_checksums(idata: az.InferenceData) -> dict[str, str]:
    """The checksums a saved fit is checked against when loaded: one per array of every group
    (``posterior/alpha``) and per ``ladderfit_`` attribute of the posterior."""
    out = {f"{group}/{name}": _digest(ds[name].values)
           for group in idata.groups() for ds in [getattr(idata, group)] for name in sorted(ds.data_vars)}
    for key, value in idata.posterior.attrs.items():
        if key.startswith("ladderfit_") and key != CHECKSUM_ATTR:
            value = value.tolist() if hasattr(value, "tolist") else value
            text = json.dumps(value, sort_keys=True, default=str)
            out[f"attribute {key}"] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def _check_contents(path: Path, idata: az.InferenceData) -> None:
    """The contents are those saved (their checksums agree) and the draws are finite; a fit saved
    without checksums (before they were written) loads with a note."""
    from ..errors import LadderDataError, LadderDataWarning

    stored = idata.posterior.attrs.get(CHECKSUM_ATTR)
    if stored is None:
        warnings.warn(f"{path}: saved without checksums (by an older ladderfit): a change since it was saved "
                      "cannot be detected; save it again to add them", LadderDataWarning, stacklevel=3)
    else:
        try:
            expected = dict(json.loads(stored))
        except (TypeError, ValueError):
            expected = {}
        actual = content_checksums(idata)
        changed = [k for k in sorted(set(expected) | set(actual)) if expected.get(k) != actual.get(k)]
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise LadderDataError(f"{path}: the file was changed after it was saved ({', '.join(changed[:3])}{more} "
                                  "differ from the checksums written with it); refit and save again, or restore it")
    for name, da in idata.posterior.data_vars.items():
        values = np.asarray(da.values)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise LadderDataError(f"{path}: posterior variable {name!r} holds {bad} NaN or infinite draw(s); "
                                  "expected finite draws: refit and save again")

def format_version(name) -> int | None:
    """The format number N of a saved-fit format name ``ladderfit.joint_two_step.vN``, else ``None``."""
    m = re.fullmatch(r"ladderfit\.joint_two_step\.v(\d+)", str(name))
    return int(m.group(1)) if m else None


def _check_consistent(idata: az.InferenceData, md: ModelData, config: FitConfig) -> None:
    """The saved labels and arrays must agree with the posterior's shapes."""
    post = idata.posterior
    if "task" in post.dims and post.sizes["task"] != md.n_tasks:
        raise ValueError(f"{md.n_tasks} task names for a posterior of {post.sizes['task']} tasks")
    if len(md.chance) != md.n_tasks or len(md.n_items) != md.n_tasks:
        raise ValueError("per-task arrays do not match the task names")
    if "run" in post.dims and post.sizes["run"] != md.n_runs:
        raise ValueError(f"{md.n_runs} run names for a posterior of {post.sizes['run']} runs")
    for name in ("logN_c", "logD_c", "x_max", "z_max", "logC_c"):
        if not np.isfinite(getattr(md, name)):
            raise ValueError(f"{name} is not finite")
    for name in ModelData.ARRAYS:
        if np.issubdtype(np.asarray(getattr(md, name)).dtype, np.floating) and not np.isfinite(getattr(md, name)).all():
            raise ValueError(f"saved array {name} holds non-finite values")
    if len(md.s1_task) and (md.s1_task.max() >= md.n_tasks or md.s1_task.min() < 0):
        raise ValueError("step-1 task indices out of range")
    if "predictions" in idata.groups():
        preds = idata.predictions
        if list(preds["task"].values) != list(md.tasks):
            raise ValueError("the stored predictions' tasks differ from the fit's")
        if preds.sizes["chain"] != post.sizes["chain"] or preds.sizes["draw"] != post.sizes["draw"]:
            raise ValueError("the stored predictions' chains or draws differ from the posterior's")
    if md.spec != config.model:
        raise ValueError(f"model {md.spec.name!r} of the data differs from the config's {config.model.name!r}")

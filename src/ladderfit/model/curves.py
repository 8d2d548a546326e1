r"""The two curves of the task scaling law, written once for every user of them.

.. math::

    L(N, D) = E + A N^{-\alpha} + B D^{-\beta}                       \quad\text{(step 1)}

    \mathrm{acc}(L) = f + (1 - f)\,\mathrm{sigmoid}\big(-k (L - L_0)\big)  \quad\text{(step 2)}

The Bayesian model, the paper's least squares, the simulator and the figures all call these
functions. They work on NumPy arrays and on JAX arrays alike (inside a NumPyro model too):
the array module is picked from the arguments, so importing this module imports no JAX.
"""

from __future__ import annotations

import numpy as np

__all__ = ["array_module", "scaling_law", "scaling_law_centred", "single_step_logit", "sigmoid", "accuracy_from_loss",
           "accuracy_from_logit"]


def array_module(*args):
    """``jax.numpy`` when any argument is a JAX array or tracer, else NumPy."""
    for a in args:
        if type(a).__module__.startswith("jax"):
            import jax.numpy as jnp

            return jnp
    return np


def scaling_law(N, D, E, A, alpha, B, beta):
    """Step 1 in raw units: ``L = E + A / N^alpha + B / D^beta``."""
    xp = array_module(N, D, E, A, alpha, B, beta)
    return E + A * xp.exp(-alpha * xp.log(N)) + B * xp.exp(-beta * xp.log(D))


def scaling_law_centred(x, z, E, a, alpha, b, beta):
    """Step 1 on the ladder's centred log scale: ``L = E + a e^{-alpha x} + b e^{-beta z}``,
    with ``x = log N - log N_c``, ``z = log D - log D_c``, ``a = A N_c^{-alpha}``, ``b = B D_c^{-beta}``."""
    xp = array_module(x, z, E, a, alpha, b, beta)
    return E + a * xp.exp(-alpha * x) + b * xp.exp(-beta * z)


def single_step_logit(x, z, u_c, a, alpha, b, beta):
    """The single step's law on the logit scale, centred on the ladder:
    ``u = u_c + a (1 - e^{-alpha x}) + b (1 - e^{-beta z})``, with ``a = g_N / alpha`` and
    ``b = g_D / beta`` (``g``: the logit slopes at the centre)."""
    xp = array_module(x, z, u_c, a, alpha, b, beta)
    return u_c + a * (1 - xp.exp(-alpha * x)) + b * (1 - xp.exp(-beta * z))


def sigmoid(u):
    """The logistic function ``1 / (1 + e^{-u})``, overflow-safe."""
    xp = array_module(u)
    if xp is np:
        from scipy.special import expit

        return expit(u)
    import jax

    return jax.nn.sigmoid(u)


def accuracy_from_logit(u, floor):
    """``acc = f + (1 - f) sigmoid(u)``: a logit ``u`` of the rescaled accuracy to accuracy."""
    return floor + (1.0 - floor) * sigmoid(u)


def accuracy_from_loss(L, floor, k, L0):
    """Step 2: ``acc(L) = f + (1 - f) sigmoid(-k (L - L0))``, falling from 1 to the floor f as
    the task loss L grows (the paper's ``a / (1 + e^{-k (L - L0)}) + b`` with ``a + b = 1``)."""
    return accuracy_from_logit(-k * (L - L0), floor)

"""mirrorflow from Python: steepest flows, optimizers, Bregman projections, escape times and the
theorem cards of *Never Saddle for Reparameterized Steepest Descent as Mirror Flow* (Jacobs, Zhou,
Burkholz, ICLR 2026), on numpy arrays.

Every function takes the keyword options of the command of the same name (``--until-loss 1e-10``
becomes ``until_loss=1e-10``), runs the same library code as the ``mirrorflow`` command line, and
returns a dict with the fields of that command's JSON output. Lists of numbers come back as numpy
arrays; a trajectory comes back as a dict of arrays: ``t`` and ``loss`` of shape (k,), ``x`` of shape
(k, d) (and ``step`` for ``train``).

The loss is the sum ``f(x) = ½‖Ax − y‖²`` (``loss_scale="mean"`` for ``1/(2n)‖Ax − y‖²``).
Bad input raises ``ValueError`` naming the keyword.

>>> import numpy as np, mirrorflow
>>> a = np.array([[1.0, 2.0]]); y = np.array([1.0])
>>> out = mirrorflow.flow(a, y, depth=2, q=2.0, alpha=0.1, until_loss=1e-10)
>>> out["status"]
'ok'
"""

import json
import re

import numpy as np

from . import _native

__version__ = _native.__version__
__all__ = ["flow", "train", "bias", "escape", "check"]


def _token(value):
    """One flag value as the command line spells it (floats exactly: shortest round-trip repr)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("booleans are flags")
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _argv(options):
    """Keyword options → the command's flags: ``until_loss=1e-10`` → ``--until-loss 1e-10``; a
    True flag alone, False or None omitted, a sequence comma-separated."""
    argv = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple, np.ndarray)):
            argv += [flag, ",".join(_token(v) for v in np.asarray(value, dtype=float).ravel())]
        else:
            argv += [flag, _token(value)]
    return argv


def _keyword_names(message):
    """A message naming CLI flags, with the flags spelled as keywords (``--until-loss`` → ``until_loss``)."""
    return re.sub(r"--([a-z0-9][a-z0-9-]*)", lambda m: m.group(1).replace("-", "_"), message)


def _call(function, *args):
    try:
        return json.loads(function(*args))
    except ValueError as e:
        # a clap error's first line ("error: unexpected argument '--foo' found"), in keywords
        message = str(e).splitlines()[0].removeprefix("error: ").replace("argument", "keyword")
        raise ValueError(_keyword_names(message)) from None


def _data(a, y):
    """``a`` as an (n, d) float matrix and ``y`` as (n,), checked, as nested lists of exact floats."""
    a = np.asarray(a, dtype=float)
    y = np.asarray(y, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"a: must be a 2-D array (n samples × d features), got shape {a.shape}")
    if y.ndim != 1:
        raise ValueError(f"y: must be a 1-D array, got shape {y.shape}")
    if y.shape[0] != a.shape[0]:
        raise ValueError(f"y: has {y.shape[0]} entries but a has {a.shape[0]} rows")
    return a.tolist(), y.tolist()


def _numeric(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _arrays(value):
    """JSON output → numpy: lists of numbers (or of equal-length number lists) become arrays, a list
    of trajectory samples a dict of arrays."""
    if isinstance(value, dict):
        return {k: _arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "t" in v and "x" in v for v in value):
            keys = value[0].keys()
            return {k: np.array([v[k] for v in value], dtype=float if k != "step" else np.int64) for k in keys}
        if value and all(_numeric(v) for v in value):
            return np.array(value, dtype=float)
        if value and all(isinstance(v, list) and v and all(_numeric(u) for u in v) for v in value):
            if len({len(v) for v in value}) == 1:
                return np.array(value, dtype=float)
        return [_arrays(v) for v in value]
    return value


def flow(a, y, **options):
    """The steepest flow ``ẇ = −φ_q(∇_w f)`` of a deep diagonal model on ``(a, y)``.

    Keywords as ``mirrorflow flow``: ``depth``, ``q``, ``alpha`` (required), ``model``
    ("one-sided" | "two-sided"), ``init`` ("balanced" | "coercive"), ``balance``, ``weight_decay``,
    ``decay``, ``t_end``, ``until_loss``, ``times`` (a sequence) or ``samples``, ``loss_scale``.
    Returns ``status``, ``x``, ``loss``, ``t``, ``w``, ``trajectory`` (dict of arrays), …
    """
    a, y = _data(a, y)
    return _arrays(_call(_native.flow, a, y, _argv(options)))


def train(a, y, **options):
    """A discrete optimizer (``optimizer`` = "gd" | "signgd" | "adam" | "adamw") on a deep diagonal
    model. Keywords as ``mirrorflow train``: ``lr``, ``steps``, ``depth``, ``alpha``, ``model``,
    ``init``, ``balance``, ``weight_decay``, ``decay``, ``beta1``, ``beta2``, ``eps``, ``times`` or
    ``samples``, ``loss_scale``."""
    a, y = _data(a, y)
    return _arrays(_call(_native.train, a, y, _argv(options)))


def bias(a, y, **options):
    """The predicted gradient-flow limit: the Bregman projection ``argmin D_R(x, x0) s.t. Ax = y``.
    Keywords as ``mirrorflow bias``: ``depth``, ``alpha``, ``model``, ``init``, ``balance``,
    ``compare_flow``, ``optimizer`` ("flow" | "gd") with ``lr``, ``t_end``, ``loss_scale``."""
    a, y = _data(a, y)
    return _arrays(_call(_native.bias, a, y, _argv(options)))


def escape(**options):
    """The saddle escape time on ``f(x) = −γx``: closed form against the integrated flow.
    Keywords as ``mirrorflow escape``: ``depth``, ``q``, ``alpha``, ``init``, ``model``, ``gradient``,
    ``level`` (``float("inf")``: the blow-up time), ``sweep=True`` with ``alphas="1e-1:1e-6:11"``."""
    return _arrays(_call(_native.escape, _argv(options)))


def _toml(value):
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return _token(value)


def check(*ids, all=False, paper_scale=False, set=None, controls=True, verify_numerics=False, jobs=None):
    """Run theorem cards (ids, or paths to card files) with their negative controls, as
    ``mirrorflow check --format json``: a list of outcome dicts (``theorem``, ``verdict``,
    ``expected``, ``matches``, ``evidence``, ``parameters``, …). ``set`` overrides parameters:
    ``{"q": 1.5, "grid.depth": [2, 3]}`` (or a list of ``"key=value"`` strings)."""
    if isinstance(set, dict):
        sets = [f"{k}={_toml(v)}" for k, v in set.items()]
    else:
        sets = list(set or [])
    outcomes = _call(_native.check, list(ids), sets, bool(all), bool(paper_scale), bool(controls), bool(verify_numerics), jobs)
    return outcomes

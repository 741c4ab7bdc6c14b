"""I(X;T) and I(T;Y) of a noisy layer by sample propagation.

Goldfeld et al., ICML 2019 (arXiv 1810.05728), section 4; docs/theory.md, sections 3-6:

    I(X;T) = h(T) - (1/m) sum_i h(T | X = x_i),     I(T;Y) = h(T) - sum_y p(y) h(T | Y = y),

every term the entropy of a Gaussian-smoothed law, estimated by SP from the R pre-noise samples of S given
each input. All terms share the centres and the Monte Carlo draws, and I is computed as the mean over
centres of the per-centre difference of the terms: the Monte Carlo noise and the plug-in biases of the
terms then largely cancel (exactly so when the inputs' noisy images do not overlap), and the standard error
is that of one stratified mean (strata: the inputs; units: their replicas).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from estimators import checks
from estimators.convergence import nested_diagnostic, stratified_dof, stratified_se, stratified_skewness
from estimators.estimate import Estimate, z_value
from estimators.mixture import GaussianMixture
from estimators.mixture.threads import engine_threads
from estimators.protocol import NO_LABELS, Estimator, LayerData, MIEstimate
from estimators.sp import gaussian_max_entropy
from estimators.stratified import draw_blocks, gaussian_noise_entropy


def _conditional_neg_log_g(c: torch.Tensor, q: torch.Tensor, beta: float, sizes: tuple[int, ...]) -> torch.Tensor:
    """-ln g_i(q) for the mixture of the first ``size`` replicas of each input, for each size.

    c: (b, R, d) centres; q: (b, Q, d) queries of the same inputs. Returns (b, Q, len(sizes)). Dense, by
    direct differences, in float64 (R is small: these are one input's replicas).
    """
    d = c.shape[-1]
    e = -((q[:, :, None, :] - c[:, None, :, :]) ** 2).sum(-1) / (2.0 * beta**2)  # (b, Q, R)
    log_norm = -0.5 * d * math.log(2.0 * math.pi * beta**2)
    return torch.stack([math.log(s) - log_norm - torch.logsumexp(e[:, :, :s], dim=2) for s in sizes], dim=-1)


@engine_threads()
def sp_mutual_information(
    samples,
    beta: float,
    labels=None,
    *,
    n_mc: int = 4,
    n_query: int | None = None,
    min_draws: int = 2048,
    generator: torch.Generator | int | None = None,
    level: float = 0.95,
    tol: float = 1e-3,
    memory_mb: float = 256.0,
    device: torch.device | str | None = None,
) -> MIEstimate:
    """SP estimates of I(X;T) and I(T;Y) for T = S + Z, Z ~ N(0, beta^2 I), X uniform on m inputs.

    Every term is the entropy of a Gaussian mixture on R replicas per input (pooled: all m R; conditional:
    input i's R; class: the class's replicas). Its Monte Carlo average is taken at n_mc noise draws around
    each of ``n_query`` replicas per input (the query units; replicas are exchangeable, so this is unbiased
    for the SP value while a mixture of all R replicas keeps the plug-in bias low), and I is the mean over
    units of the per-unit difference of the terms.

    Args:
        samples: Tensor or array (m, R, d), float; for each of the m inputs x_i (each once: X is uniform
            on them), R i.i.d. pre-noise samples of S given X = x_i (sample propagation: x_i pushed through
            the noisy twin R times with fresh noise in the earlier layers). Inputs whose R replicas are
            identical (a layer that is a deterministic function of X, e.g. the first) get the conditional
            density in closed form, N(s_i, beta^2 I).
        beta: noise standard deviation (> 0) of this layer's Z.
        labels: optional (m,) integer class labels (>= 2 classes) for I(T;Y); p(y) is their frequency.
        n_mc: Monte Carlo draws per query unit (>= 1); raised so that m * n_query * n_mc >= min_draws.
        min_draws: fewest Monte Carlo draws in all (the per-draw values are skewed; see sp_entropy).
        n_query: replicas per input that own queries (the first n_query; 2 <= n_query <= R). Default: the
            draw budget goes to units before draws, n_query = min(R, max(min(8, R // 4),
            ceil(min_draws / (m n_mc)))) (R itself for R < 8), so that a few inputs get every replica
            queried: the replica-sampling error then falls like 1/sqrt(m R), and the estimate's sampling law
            loses most of the skew that 8 units per input leave (two-layer tanh chain, m = 4 and 6, R = 32 to
            256: coverage of the 95% interval 84.5-97.0% with 8 units, 93.6-97.7% with this default; see
            tests/estimators/test_sp_mi_coverage.py). Many inputs keep min(8, R // 4) units: min_draws is
            then reached with n_mc draws, and the cost is that of that previous default.
        generator: torch.Generator (CPU) or int seed; None: fresh.
        level: nominal coverage of the intervals.
        tol: per-point bound (nats) on the mixture log-density error (see GaussianMixture).
        memory_mb: budget for intermediates (MiB), independent of m and R.
        device: where to evaluate (CPU by default).

    Returns:
        :class:`MIEstimate` (estimator "sp") of Estimates in nats: ``i_xt``, ``i_ty`` (None without labels)
        and ``terms`` "h_t", "h_t_given_x", "h_t_given_y" (i_xt = h_t - h_t_given_x and i_ty = h_t -
        h_t_given_y, value for value). Intervals account for Monte Carlo and replica-sampling error
        (stratified standard error over the query units of each input; Student's t with Welch-Satterthwaite
        degrees of freedom; with three or more units per input, the Cornish-Fisher skewness correction of
        docs/theory.md section 6; "dof" and "skewness" in ``diagnostics``), the truncation/merge bounds, and
        the plug-in bias through the nested-replica diagnostic (R/4, R/2, R at the units among the first R/4
        replicas; needs R >= 8 where replicas differ), whose outcome is in ``diagnostics`` ("converged",
        "drift"). Values are not clipped to the a-priori ranges [0, ln m] and [0, H(Y)]; an estimate outside
        them is reported as it is.

    Raises:
        ValueError: samples not (m, R, d) or with NaN/inf; R = 1 (the conditional terms need replicas);
            beta outside (1.5e-154, 1.3e154) (beta^2 and 1/beta^2 must be finite); n_mc < 1; n_query out of
            range; labels of the wrong length, with a single class, or not integers int64 holds exactly.
        TypeError: beta or level not a number (a bool or a string included); labels not numbers.

    Examples:
        Four inputs whose layer sits at 0, 0, 1, 1 (two pairs merged, the pairs 20 beta apart), replicas
        all equal (a deterministic layer): I(X;T) = ln 2, I(T;Y) = ln 2 for the labels 0, 0, 1, 1.

        >>> import math, torch
        >>> from estimators import sp_mutual_information
        >>> s = torch.tensor([0.0, 0.0, 1.0, 1.0])[:, None, None].expand(4, 8, 1)  # (m, R, d)
        >>> info = sp_mutual_information(s, 0.05, torch.tensor([0, 0, 1, 1]), generator=0)
        >>> [e.ci_low <= math.log(2) <= e.ci_high for e in (info.i_xt, info.i_ty)]
        [True, True]
    """
    x = checks.samples(samples, "samples", rank=3, distances=True)
    beta = checks.beta(beta, "beta")
    n_mc = checks.positive_int(n_mc, "n_mc", minimum=1)
    level = checks.probability(level, "level")
    gen = checks.generator(generator)
    m, R, d = x.shape
    if R < 2:
        raise ValueError(
            f"samples: got R = {R} replica per input, expected R >= 2: h(T | X = x) needs replicas of S given "
            "each input (identical replicas mark a layer that is a deterministic function of X)"
        )
    y = None if labels is None else checks.labels(labels, "labels", length=m)
    coincident = (x == x[:, :1]).all(dim=2).all(dim=1)  # (m,)
    nested = R >= 8 and not bool(coincident.all())
    R2, R4 = R // 2, R // 4
    min_draws = checks.positive_int(min_draws, "min_draws")
    if n_query is None:  # the draw budget goes to query units first, up to every replica
        U = min(R, max(min(8, R4) if R >= 8 else R, -(-min_draws // (m * n_mc))))
    else:
        U = checks.positive_int(n_query, "n_query", minimum=2)
        if U > R:
            raise ValueError(f"n_query: got {U}, expected at most R = {R} (query units are replicas)")
    Un = min(U, R4)  # the units among the first R/4 replicas: they belong to all three nested mixtures
    n_mc = max(n_mc, -(-min_draws // (m * U)))
    sizes = (R, R2, R4) if nested else (R,)
    ns = len(sizes)

    # weight columns of the pooled mixture: the first R, R/2, R/4 replicas of every input; then per class
    r_idx = torch.arange(R).repeat(m)
    subsets = [r_idx < s for s in sizes]
    cols = [sub.double() for sub in subsets]
    classes = torch.unique(y) if y is not None else None
    if y is not None:
        cls_of = torch.searchsorted(classes, y)  # (m,) class index of every input
        cls_c = cls_of.repeat_interleave(R)
        cols += [(sub & (cls_c == k)).double() for k in range(classes.numel()) for sub in subsets]
    units = (torch.arange(m)[:, None] * R + torch.arange(U)[None, :]).reshape(-1)  # centre index of each unit
    pooled = GaussianMixture(x.reshape(m * R, d), beta, torch.stack(cols, 1), tol=tol,
                             memory_mb=memory_mb, device=device)
    dev = pooled.device

    n_units = m * U
    a_pool = torch.empty(n_units, ns, dtype=torch.float64)  # per-unit mean of -ln g_pooled (per size)
    a_cond = torch.empty_like(a_pool)  # ... of -ln g_{the unit's input}
    a_cls = torch.empty_like(a_pool)  # ... of -ln g_{the unit's class}
    var_x = torch.empty(n_units, dtype=torch.float64)  # per-draw variance of the I(X;T) difference
    var_y = torch.empty(n_units, dtype=torch.float64)
    bnd = torch.zeros(4, dtype=torch.float64)  # summed above/below of the pooled and the class terms
    xs = x.to(dev)
    for rows, z in draw_blocks(n_units, n_mc, d, beta, gen, memory_mb=memory_mb / 4, device=dev, align=U):
        b = (rows.stop - rows.start) // U
        inputs = slice(rows.start // U, rows.stop // U)
        owner = units[rows].to(dev).repeat_interleave(n_mc)
        ld = pooled.log_density(owner, z.reshape(-1, d))
        neg_pool = -ld.values.reshape(b * U, n_mc, -1)  # (bU, n_mc, S)
        c = xs[inputs]  # (b, R, d)
        q = (c[:, :U, None, :] + z.reshape(b, U, n_mc, d)).reshape(b, U * n_mc, d)
        neg_cond = _conditional_neg_log_g(c, q, beta, sizes).reshape(b * U, n_mc, ns)
        same = coincident[inputs].to(dev).repeat_interleave(U)
        if same.any():  # the conditional law is N(s_i, beta^2 I) exactly
            zz = z[same]
            closed = -pooled.log_norm + (zz**2).sum(-1) / (2.0 * beta**2)
            neg_cond[same] = closed[:, :, None].expand(-1, -1, ns)
        a_pool[rows] = neg_pool[:, :, :ns].mean(1).cpu()
        a_cond[rows] = neg_cond.mean(1).cpu()
        var_x[rows] = (neg_pool[:, :, 0] - neg_cond[:, :, 0]).var(1).cpu() if n_mc > 1 else 0.0
        bnd[0] += ld.above[:, 0].sum().cpu()
        bnd[1] += ld.below[:, 0].sum().cpu()
        if y is not None:
            k = cls_of[inputs].to(dev).repeat_interleave(U)
            col = ns + k[:, None] * ns + torch.arange(ns, device=dev)[None, :]  # (bU, ns)
            neg_cls = torch.gather(neg_pool, 2, col[:, None, :].expand(-1, n_mc, -1))
            a_cls[rows] = neg_cls.mean(1).cpu()
            var_y[rows] = (neg_pool[:, :, 0] - neg_cls[:, :, 0]).var(1).cpu() if n_mc > 1 else 0.0
            own = ld.above.reshape(b * U, n_mc, -1).gather(2, col[:, None, :1].expand(-1, n_mc, -1))
            bnd[2] += own.sum().cpu()
            bnd[3] += ld.below[:, 0].sum().cpu()

    n_q = n_units * n_mc
    z = z_value(level)
    h_z = gaussian_noise_entropy(d, beta)
    common = {"n": m * R, "n_mc": n_mc, "level": level,
              "params": {"beta": beta, "tol": tol, "m": m, "R": R, "n_query": U}}
    meta = {"engine": pooled.describe(), "closed_form_inputs": int(coincident.sum()), "m": m, "R": R}

    # rigorous Monte Carlo variance bounds (docs/theory.md, section 5): the gradient of z -> ln g(s + z) is at
    # most (||z|| + D) / beta^2, D the largest distance from s to a centre of the mixture, so a difference
    # of two such terms has per-draw variance at most (2 sqrt(d) + (D_1 + D_2) / beta)^2
    flat = x.reshape(m * R, d)
    rad = (flat - flat.mean(0)).norm(dim=1)
    d_pool = rad[units] + rad.max()
    d_cond = 2.0 * (x - x.mean(1, keepdim=True)).norm(dim=2).max(dim=1).values.repeat_interleave(U)
    scale = 1.0 / (n_mc * n_units**2)
    vb_h = float(((math.sqrt(d) + d_pool / beta) ** 2).sum()) * scale
    vb_x = float(((2 * math.sqrt(d) + (d_pool + d_cond) / beta) ** 2).sum()) * scale
    vb_y = float(((2 * math.sqrt(d) + 2 * d_pool / beta) ** 2).sum()) * scale

    def estimate(per_unit: torch.Tensor, var_draw, name: str, bounds, m_low=0.0, m_high=0.0,
                 var_bound=None) -> Estimate:
        full = per_unit[:, 0].reshape(m, U)
        value = float(full.mean())
        diagnostics = dict(meta)
        if var_draw is not None and n_mc > 1:
            diagnostics["mc_std_error"] = math.sqrt(float(var_draw.sum()) / n_mc) / n_units
        if nested:
            nd = nested_diagnostic(value, full[:, :Un], per_unit[:, 1].reshape(m, U)[:, :Un],
                                   per_unit[:, 2].reshape(m, U)[:, :Un], sizes=(R4, R2, R), bounds=bounds,
                                   z=z, atol=tol)
            m_low, m_high = m_low + nd.margin_low, m_high + nd.margin_high
            diagnostics.update(nd.as_dict())
        else:
            diagnostics["converged"] = True if bool(coincident.all()) else None
            diagnostics["note"] = ("replicas coincide for every input: the pooled law is known exactly"
                                   if bool(coincident.all()) else f"not checked: R = {R} < 8 replicas")
        if bool(coincident.all()) and var_draw is not None and n_mc > 1:
            # every centre is an input's exact image: only Monte Carlo error, estimated from all the draws
            se, dof, skew = diagnostics["mc_std_error"], n_units * (n_mc - 1), None
        else:
            se, dof = stratified_se(full), stratified_dof(full)
            skew = stratified_skewness(full) if U >= 3 else None
        return Estimate.from_normal(
            value, se, margin_low=max(m_low, tol), margin_high=max(m_high, tol), estimator=name,
            var_bound=var_bound, dof=dof, skewness=skew,
            bound="stratified CLT over query units (Monte Carlo + replica sampling"
                  + ("; skew-corrected" if skew is not None else "") + ") + nested-replica bias allowance + "
                  "truncation/merge bounds",
            diagnostics=diagnostics, **common,
        )

    # h = -mean ln g: a log-density too low by <= above makes h too high by <= above
    lo_p, hi_p = float(bnd[0]) / n_q, float(bnd[1]) / n_q
    h_bounds = (h_z, gaussian_max_entropy(x.reshape(m * R, d), beta, z=z))
    h_t = estimate(a_pool, None, "sp h(T)", h_bounds, lo_p, hi_p, vb_h)
    h_tx = estimate(a_cond, None, "sp h(T|X)", h_bounds)
    i_xt = estimate(a_pool - a_cond, var_x, "sp I(X;T)", (0.0, math.log(m)), lo_p, hi_p, vb_x)
    i_ty = h_ty = None
    if y is not None:
        p = torch.bincount(cls_of).double() / m
        H_y = float(-(p * p.log()).sum())
        h_ty = estimate(a_cls, None, "sp h(T|Y)", h_bounds, float(bnd[2]) / n_q, float(bnd[3]) / n_q)
        # I(T;Y) = h(T) - h(T|Y): the pooled term's error enters with +, the class term's with -
        i_ty = estimate(a_pool - a_cls, var_y, "sp I(T;Y)", (0.0, H_y),
                        lo_p + float(bnd[3]) / n_q, hi_p + float(bnd[2]) / n_q, vb_y)
    terms = {"h_t": h_t, "h_t_given_x": h_tx} | ({"h_t_given_y": h_ty} if h_ty is not None else {})
    return MIEstimate(i_xt, i_ty, "sp", params=dict(common["params"], n_mc=n_mc, level=level),
                      reasons={} if i_ty is not None else {"I_TY": NO_LABELS}, terms=terms)


@dataclass(frozen=True)
class SP(Estimator):
    """The sample-propagation estimator (Goldfeld et al., ICML 2019, section 4; docs/theory.md, sections 4-6)
    in the estimator protocol: :func:`sp_mutual_information` of ``layer.samples`` (m, R, d), ``layer.beta``
    and ``layer.labels``, with these hyperparameters (see that function for each). ``name``: "sp".

    Returns (the call): the :class:`MIEstimate` of :func:`sp_mutual_information`, Estimates in nats.

    Raises:
        ValueError / TypeError: as :func:`sp_mutual_information`, at the call (the hyperparameters are checked
            there, not at construction): R < 2, n_mc < 1, n_query out of range, bad labels.
    """

    n_mc: int = 4
    n_query: int | None = None
    min_draws: int = 2048
    level: float = 0.95
    tol: float = 1e-3
    name = "sp"

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        return sp_mutual_information(layer.samples, layer.beta, layer.labels, n_mc=self.n_mc,
                                     n_query=self.n_query, min_draws=self.min_draws, generator=generator,
                                     level=self.level, tol=self.tol)

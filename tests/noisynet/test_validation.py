"""The reduced ground-truth suite: the SP estimator's 95% intervals cover the truth, and the suite catches a
deliberately broken estimator (beta used as a variance; one input dropped)."""

import pytest

from estimators import sp_entropy, sp_mutual_information
from noisynet.validation import Estimators, run_case, suite

REPS = 20
FLOOR = 16  # of 20: P(X <= 15) < 2% for a correct 95% interval; a broken estimator covers ~never


@pytest.fixture(scope="module")
def cases():
    return suite("quick")


def test_quick_suite_covers_the_truth(cases):
    for case in cases:
        r = run_case(case, REPS, seed=100)
        assert r.coverage * REPS >= FLOOR, (case.name, r)
        assert abs(r.bias) < 3 * r.rmse + 1e-9
        if r.rigorous_coverage is not None:
            assert r.rigorous_coverage == 1.0


def _variance_as_std():
    return Estimators(
        entropy=lambda x, beta, **kw: sp_entropy(x, beta**2, **kw),
        mutual_information=lambda s, beta, *a, **kw: sp_mutual_information(s, beta**2, *a, **kw),
    )


def _one_input_dropped():
    def mi(s, beta, labels=None, **kw):
        return sp_mutual_information(s[1:], beta, None if labels is None else labels[1:], **kw)

    return Estimators(entropy=lambda x, beta, **kw: sp_entropy(x[1:], beta, **kw), mutual_information=mi)


@pytest.mark.parametrize("fault", [_variance_as_std, _one_input_dropped], ids=["beta-as-variance", "input-dropped"])
def test_suite_fails_a_broken_estimator(cases, fault):
    broken = fault()
    failures = [c.name for c in cases if run_case(c, 8, seed=100, estimators=broken).coverage * 8 < 8 * FLOOR / REPS]
    assert failures, "the reduced suite did not notice the fault"

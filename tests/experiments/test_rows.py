"""metrics.csv rows: the data-processing flag against the previous layer's interval."""

from types import SimpleNamespace

from experiments.rows import dpi_violation


def _meas(site, low, high, supported=True):
    return SimpleNamespace(site=site, supported=supported, i_xt=SimpleNamespace(ci_low=low, ci_high=high))


def test_dpi_flag_is_set_only_where_the_interval_lies_entirely_above_the_previous_one():
    sites, known = ["T1", "T2", "T3", "T4"], {}
    assert dpi_violation(_meas("T1", 2.0, 2.5), sites, known) is None  # first site: nothing to compare
    assert dpi_violation(_meas("T2", 2.4, 3.0), sites, known) is False  # overlaps [2.0, 2.5]
    assert dpi_violation(_meas("T3", 3.1, 3.3), sites, known) is True  # above T2's upper bound 3.0
    assert known == {"T1": 2.5, "T2": 3.0, "T3": 3.3}
    assert dpi_violation(_meas("T4", 9.0, 9.5, supported=False), sites, known) is None  # not estimated
    assert "T4" not in known


def test_dpi_flag_uses_upper_bounds_read_back_from_the_file():
    known = {"T1": 1.0}  # T1 measured before an interruption; T2 only now
    assert dpi_violation(_meas("T2", 1.5, 2.0), ["T1", "T2"], known) is True
    assert dpi_violation(_meas("T2", 1.5, 2.0), ["T1", "T2"], {}) is None  # previous layer unknown

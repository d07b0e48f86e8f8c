"""The bootstrap interval is seeded, ordered and brackets the mean."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsr_lightning.report.bootstrap import bootstrap_mean_ci


def test_interval_contains_mean_and_is_ordered() -> None:
    values = np.random.default_rng(1).normal(0.05, 0.1, size=15)
    low, high = bootstrap_mean_ci(values)
    assert low < values.mean() < high
    # roughly mean ± 1.96 standard errors for a normal-ish sample
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.25)


def test_seeded_and_reproducible() -> None:
    values = np.random.default_rng(3).normal(0.0, 1.0, size=20)
    assert bootstrap_mean_ci(values) == bootstrap_mean_ci(values)
    assert bootstrap_mean_ci(values, seed=1) != bootstrap_mean_ci(values, seed=2)


def test_degenerate_inputs() -> None:
    assert bootstrap_mean_ci([0.2]) == (0.2, 0.2)
    low, high = bootstrap_mean_ci([])
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([1.0, 2.0], level=1.5)

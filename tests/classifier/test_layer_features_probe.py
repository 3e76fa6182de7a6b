"""The layer-features probe: its feature layout and a small run (the pools themselves: test_features.py)."""

from __future__ import annotations

import numpy as np

from benchmarks.layer_features_probe import FEATURE_SETS, features, run, table
from tests.classifier.conftest import requires_shared


def test_features_put_the_chosen_layers_side_by_side() -> None:
    pools = np.arange(2 * 6 * 384, dtype=np.float32).reshape(2, 6, 384)
    both = features(pools, FEATURE_SETS["layers 1-6"])
    assert both.shape == (2, 6 * 384)
    np.testing.assert_array_equal(features(pools, FEATURE_SETS["final embedding"]), pools[:, 5])
    np.testing.assert_array_equal(both[:, :384], pools[:, 0])


@requires_shared
def test_a_small_run_scores_both_feature_sets_on_every_held_out_part() -> None:
    results = run(sample=40, log=lambda line: None)
    assert set(results) == set(FEATURE_SETS)
    for figures in results.values():
        assert 0.0 <= figures["tweeteval"] <= 1.0
        assert {"banking77", "nlbse24_issue_reports", "maalej2016_app_reviews"} <= set(figures)
        assert "f1" in figures["banking77"] and "flagged" in figures["semeval2017_task4a_devdata"]
    printed = table(results)
    assert "| target |" in printed and "layers 1-6" in printed

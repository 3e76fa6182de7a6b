"""The layer-features probe: its last-layer pool is the product's embedding, its cache, a small run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.layer_features_probe import FEATURE_SETS, LayerPools, cached_layer_pools, features, run, table
from tests.classifier.conftest import requires_shared

TEXTS = ["my card payment was declined again", "the app crashes on login @user http", "great service"]


def test_the_last_layer_pool_is_the_embedding_the_product_clusters_on(analyzer) -> None:  # type: ignore[no-untyped-def]
    pools = LayerPools().encode_batch(TEXTS)
    assert pools.shape == (3, 6, 384)
    np.testing.assert_allclose(np.linalg.norm(pools, axis=-1), 1.0, atol=1e-5)
    cosine = (pools[:, -1] * analyzer.embed(TEXTS)).sum(1)
    assert cosine.min() > 0.9999
    assert (pools[:, 0] * pools[:, -1]).sum(1).max() < 0.99  # the first layer says something else


class CountingPools:
    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        self.encoded += texts
        return np.stack([np.full((6, 384), float(len(text)), dtype=np.float32) for text in texts])


def test_cached_pools_come_back_in_input_order_and_are_encoded_once(tmp_path: Path) -> None:
    model = CountingPools()
    cache = tmp_path / "pools.npz"
    first = cached_layer_pools(TEXTS, lambda: model, cache)  # type: ignore[arg-type,return-value]
    assert [row[0, 0] for row in first] == [float(len(text)) for text in TEXTS]
    again = cached_layer_pools([TEXTS[2], "new text", TEXTS[0]], lambda: model, cache)  # type: ignore[arg-type,return-value]
    assert sorted(model.encoded) == sorted([*TEXTS, "new text"])
    assert [row[0, 0] for row in again] == [float(len(TEXTS[2])), 8.0, float(len(TEXTS[0]))]


def test_features_put_the_chosen_layers_side_by_side() -> None:
    pools = np.arange(2 * 6 * 384, dtype=np.float32).reshape(2, 6, 384)
    both = features(pools, FEATURE_SETS["layers 1-6"])
    assert both.shape == (2, 6 * 384)
    np.testing.assert_array_equal(features(pools, FEATURE_SETS["final embedding"]), pools[:, 5])
    np.testing.assert_array_equal(both[:, :384], pools[:, 0])


@requires_shared
def test_a_small_run_scores_both_feature_sets_on_every_held_out_part(tmp_path: Path) -> None:
    results = run(sample=40, cache=tmp_path / "pools.npz", log=lambda line: None)
    assert set(results) == set(FEATURE_SETS)
    for figures in results.values():
        assert 0.0 <= figures["tweeteval"] <= 1.0
        assert {"banking77", "nlbse24_issue_reports", "maalej2016_app_reviews"} <= set(figures)
        assert "f1" in figures["banking77"] and "flagged" in figures["semeval2017_task4a_devdata"]
    printed = table(results)
    assert "| target |" in printed and "layers 1-6" in printed

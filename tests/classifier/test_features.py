"""What heads read: the embedding, or every layer's pool from the same pass (v3 on)."""

from __future__ import annotations

import numpy as np
import pytest

from classifier import bf16_backend
from classifier.analysis import Analyzer, apply_heads, load_encoder_backend
from classifier.artifact import ModelArtifactError
from classifier.features import (
    EMBEDDING,
    LAYER_POOLS,
    FeatureLoader,
    artifact_features,
    cache_pool,
    feature_encoder,
)
from tests.classifier.factories import (
    CountingEncoder,
    CountingLayerEncoder,
    mixed_artifact,
    tiny_artifact,
    tiny_layer_pool_artifact,
)

TEXTS = ["my card payment was declined again", "the app crashes on login @user http", "great service"]


def test_the_torch_backends_last_layer_pool_is_the_embedding_it_clusters_on(analyzer: Analyzer) -> None:
    pools = analyzer._encoder.encode_layers(TEXTS)  # type: ignore[attr-defined]
    assert pools.shape == (3, 6, 384) and pools.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(pools, axis=-1), 1.0, atol=1e-5)
    # bit for bit: a post analysed for heads on layer pools stores and clusters on the same embedding
    np.testing.assert_array_equal(pools[:, -1], analyzer._encoder.encode_batch(TEXTS))
    assert (pools[:, 0] * pools[:, -1]).sum(1).max() < 0.99  # the first layer says something else


def test_bf16_layer_pools_come_from_the_same_pass_as_its_embedding(analyzer: Analyzer) -> None:
    encoder = bf16_backend.load_bf16_encoder(require_native=False)
    pools = encoder.encode_layers(TEXTS)
    np.testing.assert_allclose(pools[:, -1], encoder.encode_batch(TEXTS), atol=1e-6)
    reference = analyzer._encoder.encode_layers(TEXTS)  # type: ignore[attr-defined]
    assert (pools * reference).sum(-1).min() > 0.99


def test_a_backend_without_hidden_states_is_refused_for_layer_pools() -> None:
    plain = CountingEncoder()
    assert feature_encoder(plain, EMBEDDING) is plain
    with pytest.raises(ModelArtifactError, match="backend fake cannot serve heads that read layer-pools"):
        feature_encoder(plain, LAYER_POOLS)
    with pytest.raises(ModelArtifactError, match="cannot serve"):
        Analyzer(plain, tiny_layer_pool_artifact())


def test_layer_pool_features_put_the_embedding_last() -> None:
    features = feature_encoder(CountingLayerEncoder(), LAYER_POOLS).encode_batch(TEXTS)
    assert features.shape == (3, 6 * 384)
    np.testing.assert_array_equal(features[:, -384:], CountingEncoder().encode_batch(TEXTS))


def test_an_analyzer_on_layer_pools_keeps_the_clustering_embedding_and_encodes_each_text_once() -> None:
    encoder = CountingLayerEncoder()
    analyzer = Analyzer(encoder, tiny_layer_pool_artifact())
    assert analyzer.features == LAYER_POOLS and not analyzer.reads_embeddings
    results = analyzer.analyze([*TEXTS, TEXTS[0]])
    assert encoder.seen == sorted(TEXTS, key=len, reverse=True)  # the repeat was looked up
    expected = CountingEncoder().encode_batch([*TEXTS, TEXTS[0]])
    np.testing.assert_array_equal(np.stack([r.embedding for r in results]), expected)
    assert results[0].problem_probability == results[3].problem_probability
    assert analyzer.cache.capacity == 50_000 // 6  # the same memory as an embedding cache
    with pytest.raises(ValueError, match="must be analysed from text"):
        analyzer.analyze_embeddings(TEXTS, expected[:3])


def test_heads_refuse_features_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="reads 2304 numbers per post"):
        apply_heads(tiny_layer_pool_artifact(), TEXTS, np.zeros((3, 384), np.float32))
    with pytest.raises(ValueError, match="reads 384 numbers per post"):
        apply_heads(tiny_artifact(), TEXTS, np.zeros((3, 2304), np.float32))


def test_artifacts_name_what_they_read_and_unknown_kinds_are_refused() -> None:
    assert artifact_features(tiny_artifact()) == EMBEDDING  # v1/v2 name none
    assert artifact_features(tiny_layer_pool_artifact()) == LAYER_POOLS
    future = tiny_artifact()
    future.manifest["features"] = "attention-maps"
    with pytest.raises(ModelArtifactError, match="not know; upgrade"):
        artifact_features(future)
    with pytest.raises(ValueError, match="unknown features"):
        FeatureLoader("attention-maps", CountingEncoder)


def test_each_feature_kind_is_cached_in_its_own_file_and_loaded_lazily() -> None:
    assert cache_pool("banking77", EMBEDDING) == "banking77"
    assert cache_pool("banking77", LAYER_POOLS) == "banking77.layer-pools"
    loads: list[int] = []

    def load() -> CountingLayerEncoder:
        loads.append(1)
        return CountingLayerEncoder()

    loader = FeatureLoader(LAYER_POOLS, load)
    assert loads == []
    assert loader() is loader() and loads == [1]
    assert loader().encode_batch(TEXTS).shape == (3, 2304)


def test_heads_may_read_different_kinds_each_taking_its_own_from_the_tail() -> None:
    mixed = mixed_artifact()
    assert artifact_features(mixed) == LAYER_POOLS  # what must be encoded: the widest
    encoder = CountingLayerEncoder()
    results = Analyzer(encoder, mixed).analyze(TEXTS)
    pools = feature_encoder(CountingLayerEncoder(), LAYER_POOLS).encode_batch(TEXTS)
    on_embeddings = apply_heads(tiny_artifact(), TEXTS, pools[:, -384:])
    on_pools = apply_heads(tiny_layer_pool_artifact(), TEXTS, pools)
    for result, embedding_heads, pool_heads in zip(results, on_embeddings, on_pools, strict=True):
        assert result.problem_probability == embedding_heads.problem_probability
        assert result.category == embedding_heads.category
        assert result.sentiment_scores == pool_heads.sentiment_scores
    unknown = mixed_artifact()
    unknown.manifest["features"] = {"sentiment": "attention-maps"}
    with pytest.raises(ModelArtifactError, match="head 'sentiment' reads features 'attention-maps'"):
        artifact_features(unknown)


def test_an_onnx_backend_without_its_packages_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("onnxruntime"):
            raise ModuleNotFoundError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.raises(ModelArtifactError, match=r"onnxruntime: pip install 'signal-triage\[onnx\]'"):
        load_encoder_backend("onnx-fp32")

"""The OpenVINO backend keeps the fp32 embedding row for row, converts once, and refuses clearly."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from classifier import openvino_backend
from classifier.analysis import Analyzer, load_encoder_backend
from classifier.artifact import ModelArtifactError
from classifier.encoder import encode_normalized

pytest.importorskip("openvino")

# Lengths differ a lot and there are more texts than one request holds, so a row stored in the wrong
# place by the asynchronous requests would show as a low cosine to its own reference.
TEXTS = [
    "down again?",
    "the checkout page throws an error when I pay with my card",
    "anyone else unable to log in since this morning? the app just spins and then says something went wrong",
    "great update, thank you",
    "@user my transfer from yesterday still shows pending http",
] * 5 + [f"order {number} never arrived and tracking has not moved for {number} days" for number in range(9)]


@pytest.fixture(scope="module")
def encoder() -> openvino_backend.OpenVinoSentenceEncoder:
    return openvino_backend.load_openvino_encoder(require_native=False)


def test_embeddings_match_fp32_row_for_row(
    analyzer: Analyzer, encoder: openvino_backend.OpenVinoSentenceEncoder
) -> None:
    reference = encode_normalized(analyzer._encoder, TEXTS)
    vectors = encoder.encode_batch(TEXTS)
    assert len(TEXTS) > openvino_backend.REQUEST_SIZE
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(vectors * reference, axis=1))) > 0.999
    single = encoder.encode_batch(TEXTS[:1])  # one text, no padding: a shape the conversion never saw
    assert float(single[0] @ reference[0]) > 0.999


def test_layer_pools_come_from_the_same_pass_and_match_fp32(
    analyzer: Analyzer, encoder: openvino_backend.OpenVinoSentenceEncoder
) -> None:
    pools = encoder.encode_layers(TEXTS)
    assert pools.dtype == np.float32 and pools.shape == (len(TEXTS), 6, 384)
    np.testing.assert_allclose(pools[:, -1], encoder.encode_batch(TEXTS), atol=1e-6)
    reference = analyzer._encoder.encode_layers(TEXTS)  # type: ignore[attr-defined]
    assert float(np.min(np.sum(pools * reference, axis=-1))) > 0.99


def test_threads_sharing_one_encoder_each_get_their_own_rows(
    encoder: openvino_backend.OpenVinoSentenceEncoder,
) -> None:
    expected = {name: encoder.encode_batch(TEXTS[start:]) for name, start in (("a", 0), ("b", 7))}
    results: dict[str, np.ndarray] = {}

    def encode(name: str, start: int) -> None:
        results[name] = encoder.encode_batch(TEXTS[start:])

    threads = [threading.Thread(target=encode, args=item) for item in (("a", 0), ("b", 7))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, vectors in expected.items():
        assert np.allclose(results[name], vectors, atol=1e-6)


def test_conversion_is_cached_by_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(openvino_backend, "cache_dir", lambda: tmp_path)
    path = openvino_backend.openvino_model_path()
    assert path.is_file() and path.with_suffix(".bin").is_file()
    assert path.parent.name == "layer-pools" and path.parent.parent.parent == tmp_path / "openvino"
    assert not [leftover for leftover in path.parent.iterdir() if leftover.name.startswith(".partial")]

    def convert_again(*_: object) -> None:
        raise AssertionError("converted although the cache holds the graph")

    monkeypatch.setattr(openvino_backend, "convert_to_openvino", convert_again)
    assert openvino_backend.openvino_model_path() == path


def test_refused_on_a_cpu_without_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openvino_backend, "cpu_runs_bf16", lambda core: False)
    with pytest.raises(ModelArtifactError, match="native bfloat16"):
        load_encoder_backend("openvino-bf16")


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import now fails as if it were not installed
    with pytest.raises(ModelArtifactError, match=r"signal-triage\[openvino\]"):
        load_encoder_backend("openvino-bf16")

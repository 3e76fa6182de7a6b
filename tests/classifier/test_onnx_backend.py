"""The ONNX backends reproduce the fp32 sentence embedding (skipped when onnxruntime is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.analysis import Analyzer, load_encoder_backend
from classifier.encoder import encode_normalized

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

SENTENCES = [
    "the checkout page throws an error when I pay with my card",
    "anyone else unable to log in since this morning?",
    "great update, thank you",
]


@pytest.mark.parametrize(("backend", "minimum_cosine"), [("onnx-fp32", 0.9999), ("onnx-int8", 0.97)])
def test_backend_matches_reference(analyzer: Analyzer, backend: str, minimum_cosine: float) -> None:
    reference = encode_normalized(analyzer._encoder, SENTENCES)
    vectors = encode_normalized(load_encoder_backend(backend), SENTENCES)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert float(np.min(np.sum(vectors * reference, axis=1))) > minimum_cosine


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoder backend"):
        load_encoder_backend("tpu")

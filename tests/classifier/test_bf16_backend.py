"""The bfloat16 backend keeps the fp32 embedding, and is refused where the CPU would emulate it."""

from __future__ import annotations

import numpy as np
import pytest

from classifier import bf16_backend
from classifier.analysis import Analyzer, load_encoder_backend
from classifier.artifact import ModelArtifactError
from classifier.encoder import encode_normalized

SENTENCES = [
    "the checkout page throws an error when I pay with my card",
    "anyone else unable to log in since this morning?",
    "great update, thank you",
    "@user my transfer from yesterday still shows pending http",
]


def test_bf16_embeddings_stay_within_rounding_of_fp32(analyzer: Analyzer) -> None:
    reference = encode_normalized(analyzer._encoder, SENTENCES)
    vectors = encode_normalized(bf16_backend.load_bf16_encoder(require_native=False), SENTENCES, batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * reference, axis=1)
    assert float(cosines.min()) > 0.999
    assert float(cosines.max()) < 1.0 - 1e-9  # really computed in bf16, not a second fp32 pass


def test_bf16_is_refused_on_a_cpu_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bf16_backend, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(ModelArtifactError, match="native bfloat16"):
        load_encoder_backend("torch-bf16")

"""Per-post analysis: one encoder pass yields the embedding, problem probability, category and sentiment.

The embedding handed to clustering is the base model's own normalised sentence embedding (of the text
after :func:`classifier.text.prepare_text`), so heads can be retrained or swapped without moving clusters.
The heads read what their artifact names (:mod:`classifier.features`): that embedding, or every layer's
pool from the same pass, whose last part is the same embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.artifact import ModelArtifact, ModelArtifactError, load_artifact
from classifier.encoder import EMBEDDING_DIM, SentenceEncoder, encode_normalized, load_sentence_encoder
from classifier.features import (
    EMBEDDING,
    FEATURE_WIDTHS,
    artifact_features,
    embeddings_of,
    feature_encoder,
    head_features,
    head_input,
)
from classifier.language import detect_language
from classifier.recent_embeddings import RecentEmbeddings
from classifier.text import prepare_text
from classifier.versions import resolve_artifact_dir

__all__ = ["Analyzer", "ModelArtifactError", "PostAnalysis", "load_analyzer", "load_encoder_backend"]

PROBLEM_LABEL = "problem"
#: texts whose embeddings an analyser remembers (about 80 MB at 384 float32 dimensions); heads that read
#: wider features remember proportionally fewer texts, so the memory stays the same
DEFAULT_CACHE_ENTRIES = 50_000


@dataclass(frozen=True)
class PostAnalysis:
    """What the classifier says about one post.

    ``category`` is ``None`` unless ``problem_probability`` reaches the artifact's threshold.
    ``language`` is best-effort (see :mod:`classifier.language`); scores of non-``en`` posts come from
    English-trained heads and should not be trusted.
    """

    embedding: np.ndarray
    problem_probability: float
    category: str | None
    sentiment: str
    sentiment_scores: dict[str, float]
    language: str


class Analyzer:
    """The encoder (loaded once) plus one artifact's heads.

    Texts analysed again (retweets, copy-pasted complaints, templated tickets) take their features
    from a bounded cache instead of the encoder; ``cache_entries=0`` turns it off. Raises
    :class:`ModelArtifactError` when the backend cannot give the features the artifact's heads read.
    """

    def __init__(
        self, encoder: SentenceEncoder, artifact: ModelArtifact, cache_entries: int = DEFAULT_CACHE_ENTRIES
    ) -> None:
        self._encoder = encoder
        self._artifact = artifact
        self.features = artifact_features(artifact)
        self._feature_encoder = feature_encoder(encoder, self.features)
        self._width = FEATURE_WIDTHS[self.features]
        self.cache = RecentEmbeddings(cache_entries * EMBEDDING_DIM // self._width)
        self.model_version: str = artifact.version
        self.problem_threshold: float = artifact.problem_threshold

    @property
    def reads_embeddings(self) -> bool:
        """Whether the heads read the stored embedding alone, so a stored post is re-scored without the
        encoder (:meth:`analyze_embeddings`); heads on layer pools need the text encoded again."""
        return self.features == EMBEDDING

    @property
    def batch_size(self) -> int:
        """Texts per encoder call when a caller does not choose: the backend's own."""
        return self._encoder.batch_size

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """(n, 384) float32 normalised embeddings, for service descriptions and change summaries."""
        return encode_normalized(
            self._encoder, [prepare_text(text) for text in texts], batch_size or self.batch_size
        )

    def analyze(
        self,
        texts: Sequence[str],
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[PostAnalysis]:
        """Analyse posts in one encoder pass each; results come back in input order.

        Texts are length-sorted internally to cut padding, and each distinct text is encoded once (a
        repeated or remembered one is looked up); ``progress(n_done)`` is called after each batch with
        the number of texts of this call finished so far.
        """
        return apply_heads(self._artifact, texts, self.features_of(texts, batch_size, progress))

    def features_of(
        self,
        texts: Sequence[str],
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """(n, width) features the heads read, in input order: each distinct text encoded once, a
        remembered one looked up; ``progress`` as in :meth:`analyze`."""
        prepared = [prepare_text(text) for text in texts]
        known, missing = self.cache.split(prepared)
        reused = len(prepared) - len(missing)
        if progress is not None and reused:
            progress(reused)
        encoded = encode_normalized(
            self._feature_encoder,
            missing,
            batch_size or self.batch_size,
            None if progress is None else lambda done: progress(reused + done),
            self._width,
        )
        for text, row in zip(missing, encoded, strict=True):
            known[text] = row
            self.cache.put(text, row)
        features = np.zeros((len(prepared), self._width), dtype=np.float32)
        for row_index, text in enumerate(prepared):
            features[row_index] = known[text]
        return features

    def analyze_embeddings(self, texts: Sequence[str], embeddings: np.ndarray) -> list[PostAnalysis]:
        """Apply the heads to embeddings already computed for ``texts`` (stored ones, or a benchmark's);
        only for heads that read the embedding (:attr:`reads_embeddings`)."""
        if not self.reads_embeddings:
            raise ValueError(
                f"model {self.model_version} reads {self.features}: its posts must be analysed from text"
            )
        return apply_heads(self._artifact, texts, embeddings)


def apply_heads(artifact: ModelArtifact, texts: Sequence[str], features: np.ndarray) -> list[PostAnalysis]:
    """One artifact's heads on the features of ``texts`` it reads (:mod:`classifier.features`).

    For heads on the embedding no encoder is needed: every version shares it, which is how a stored
    post is re-scored by a new version or by a candidate in shadow.
    """
    width = FEATURE_WIDTHS[artifact_features(artifact)]
    if features.ndim != 2 or features.shape[1] != width:
        raise ValueError(
            f"model {artifact.version} reads {width} numbers per post, got an array of shape {features.shape}"
        )
    embeddings = np.array(embeddings_of(features), dtype=np.float32)  # copied: results do not pin features
    kinds = head_features(artifact)
    problem_index = artifact.problem.labels.index(PROBLEM_LABEL)
    problem = artifact.problem.predict_proba(head_input(features, kinds["problem"]))[:, problem_index]
    categories = artifact.category.predict(head_input(features, kinds["category"]))
    sentiment = artifact.sentiment.predict_proba(head_input(features, kinds["sentiment"]))
    labels = artifact.sentiment.labels
    results = []
    for row, text in enumerate(texts):
        scores = {label: float(sentiment[row, column]) for column, label in enumerate(labels)}
        results.append(
            PostAnalysis(
                embedding=embeddings[row],
                problem_probability=float(problem[row]),
                category=categories[row] if problem[row] >= artifact.problem_threshold else None,
                sentiment=max(scores, key=lambda label: scores[label]),
                sentiment_scores=scores,
                language=detect_language(text),
            )
        )
    return results


BACKENDS = ("torch", "torch-bf16", "openvino-bf16", "onnx-fp32", "onnx-int8")


def load_encoder_backend(backend: str = "torch") -> SentenceEncoder:
    """Encoder backend by name.

    ``torch``: the fp32 sentence-transformers reference. ``torch-bf16``: the same weights in bfloat16,
    about twice as fast where the CPU has native bf16 and within the agreement the speed benchmark
    checks (refused elsewhere). ``openvino-bf16``: the same bf16 arithmetic in OpenVINO's fused kernels, the
    fastest backend that keeps the fp32 decisions (needs ``openvino``; refused without native bf16).
    ``onnx-fp32``: the same graph in ONNX Runtime (identical embeddings,
    somewhat faster on CPU). ``onnx-int8``: dynamic int8, fastest but its decisions differ from fp32 on a
    few % of posts (see benchmarks/analysis_speed.py). The ONNX ones need ``onnx`` and ``onnxruntime``
    and are built into the cache on first use.
    """
    if backend == "torch":
        return load_sentence_encoder()
    if backend == "torch-bf16":
        from classifier.bf16_backend import load_bf16_encoder

        return load_bf16_encoder()
    if backend == "openvino-bf16":
        from classifier.openvino_backend import load_openvino_encoder

        return load_openvino_encoder()
    if backend in ("onnx-fp32", "onnx-int8"):
        try:
            from classifier.onnx_backend import load_onnx_encoder

            return load_onnx_encoder(quantized=backend == "onnx-int8")
        except ImportError as error:
            raise ModelArtifactError(
                f"backend {backend} needs onnx and onnxruntime: pip install 'signal-triage[onnx]' ({error})"
            ) from None
    raise ValueError(f"unknown encoder backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def load_analyzer(artifact_dir: Path | None = None, backend: str = "torch") -> Analyzer:
    """Analyzer for ``artifact_dir`` (default: the version in use in the bundled artifacts root).

    ``artifact_dir`` is one version folder, or an artifacts root whose ``DEFAULT`` names the version in
    use (so a service pointed at a root picks up ``triage model promote`` on its next start).
    Raises :class:`classifier.artifact.ModelArtifactError` (a ``ValueError``) when the artifact is missing
    or corrupt; the artifact is verified before the (slower) encoder is loaded.
    """
    artifact = load_artifact(resolve_artifact_dir(artifact_dir))
    return Analyzer(load_encoder_backend(backend), artifact)

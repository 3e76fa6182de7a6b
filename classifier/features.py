"""What an artifact's heads read: the sentence embedding, or the mean pools of all six encoder layers.

v1 and v2 heads read the final normalised sentence embedding, the vector clustering uses, so a stored
post can be re-scored by any such version without the encoder. v3 heads read the masked mean pool of
every transformer layer's output (each L2-normalised, side by side: 6 x 384 numbers): the lower layers
keep wording (negations, "still", "again") that the paraphrase-trained top layer averages away, and all
of them are computed in the same encoder pass anyway (``benchmarks/layer_features_probe.py``). The last
layer's pool *is* the sentence embedding, so the clustering vector is always the last 384 numbers of the
features and clustering does not move whichever kind a version reads.

An artifact may name a kind per head (v3: problem and category heads on the embedding, so problem
decisions and with them clustering stay those of v2; the sentiment head on layer pools). The price of
layer pools: re-scoring a stored post needs its text encoded again (the database keeps only
the embedding), and a backend must expose its hidden states (``encode_layers``; torch, torch-bf16 and
openvino-bf16 do, the ONNX exports do not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.artifact import HEAD_NAMES, ModelArtifact, ModelArtifactError
from classifier.encoder import EMBEDDING_DIM, LAYERS, LayerPoolEncoder, SentenceEncoder

EMBEDDING = "embedding"
LAYER_POOLS = "layer-pools"
FEATURE_WIDTHS = {EMBEDDING: EMBEDDING_DIM, LAYER_POOLS: LAYERS * EMBEDDING_DIM}


def check_kind(kind: str) -> str:
    """``kind`` if it names a known feature kind; a clear error otherwise."""
    if kind not in FEATURE_WIDTHS:
        raise ValueError(f"unknown features {kind!r}; choose one of {', '.join(FEATURE_WIDTHS)}")
    return kind


def head_features(artifact: ModelArtifact) -> dict[str, str]:
    """The feature kind each head reads: the manifest's ``features`` names one kind for every head or a
    kind per head (artifacts before v3 name none: the embedding)."""
    named = artifact.manifest.get("features", EMBEDDING)
    kinds = dict.fromkeys(HEAD_NAMES, named) if isinstance(named, str) else dict(named)
    for head, kind in kinds.items():
        if head not in HEAD_NAMES or kind not in FEATURE_WIDTHS:
            raise ModelArtifactError(
                f"model {artifact.version}: head {head!r} reads features {kind!r}, which this release does "
                "not know; upgrade"
            )
    return {head: kinds.get(head, EMBEDDING) for head in HEAD_NAMES}


def artifact_features(artifact: ModelArtifact) -> str:
    """What must be encoded for ``artifact``: the widest kind any of its heads reads (every kind ends
    with the narrower ones, so each head takes its own from the tail, :func:`head_input`)."""
    return max(head_features(artifact).values(), key=FEATURE_WIDTHS.__getitem__)


def head_input(features: np.ndarray, kind: str) -> np.ndarray:
    """The columns of ``features`` (of this or a wider kind) that a head reading ``kind`` takes."""
    return features[:, -FEATURE_WIDTHS[kind] :]


class LayerPoolFeatures:
    """A layer-pool backend seen as a ``SentenceEncoder`` whose rows are the flattened pools (6 x 384),
    so batching, caching and progress code written for embeddings serve layer pools unchanged."""

    def __init__(self, encoder: LayerPoolEncoder) -> None:
        self._encoder = encoder
        self.name = f"{encoder.name} layer pools"
        self.batch_size = encoder.batch_size

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        pools = self._encoder.encode_layers(texts)
        return np.ascontiguousarray(pools.reshape(len(pools), -1), dtype=np.float32)


def feature_encoder(encoder: SentenceEncoder, kind: str) -> SentenceEncoder:
    """What turns texts into the features of ``kind`` on this backend; a backend without hidden states
    is refused for layer pools in one line, before any work."""
    if check_kind(kind) == EMBEDDING:
        return encoder
    if not isinstance(encoder, LayerPoolEncoder):
        raise ModelArtifactError(
            f"backend {encoder.name} cannot serve heads that read {kind}; "
            "use torch, torch-bf16 or openvino-bf16"
        )
    return LayerPoolFeatures(encoder)


def embeddings_of(features: np.ndarray) -> np.ndarray:
    """The sentence embeddings inside features of either kind (the last layer's pool comes last)."""
    return head_input(features, EMBEDDING)


@dataclass
class FeatureLoader:
    """A lazy encoder loader that knows which features it gives: training and evaluation cache each
    kind in its own files, and the encoder is loaded only when a text is missing from them."""

    kind: str
    load: Callable[[], SentenceEncoder]
    _loaded: list[SentenceEncoder] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        check_kind(self.kind)

    def __call__(self) -> SentenceEncoder:
        if not self._loaded:
            self._loaded.append(feature_encoder(self.load(), self.kind))
        return self._loaded[0]


def loader_kind(loader: object) -> str:
    """The features an encoder loader gives: a :class:`FeatureLoader` says, any other gives embeddings."""
    return loader.kind if isinstance(loader, FeatureLoader) else EMBEDDING


def cache_pool(pool: str, kind: str) -> str:
    """Cache name of ``pool`` for features of ``kind``: embeddings keep the plain name (the caches v1
    and v2 were trained from), other kinds get their own file."""
    return pool if kind == EMBEDDING else f"{pool}.{kind}"

"""Optional fast encoder backend: the same MiniLM exported to ONNX and quantised to dynamic int8.

The export is built locally from the packaged model folder (never downloaded) into the git-ignored cache
on first use and reused afterwards; the file is keyed by the hash of the packaged weights, so a new
package version rebuilds it. Pooling and normalisation are the sentence-transformers ones (attention-
masked mean, then L2), done in numpy. Needs ``onnx`` (export) and ``onnxruntime`` (inference);
``benchmarks/analysis_speed.py`` measures its agreement with the fp32 reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier.encoder import (
    MAX_SEQ_LENGTH,
    PADDED_BATCH_SIZE,
    encoder_path,
    offline_environment,
    weights_fingerprint,
)
from classifier.paths import cache_dir


def export_onnx(model_dir: Path, destination: Path) -> None:
    """Export the transformer (token embeddings only) with dynamic batch and sequence axes."""
    offline_environment()
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class TokenEmbeddings(torch.nn.Module):
        """Keyword call into the HF model (its positional order changes between releases)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(
        ["a short sample", "another, slightly longer sample text"], padding=True, return_tensors="pt"
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    destination.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            TokenEmbeddings().eval(),
            tuple(sample[name] for name in names),
            str(destination),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={
                **{name: {0: "batch", 1: "tokens"} for name in names},
                "last_hidden_state": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )


QUANTIZATION_RECIPE = "int8-pc-ffnout-fp32"


def _ffn_output_projections(model_path: Path) -> list[str]:
    """Names of the feed-forward output MatMuls (1536 -> 384), which stay fp32.

    Their inputs are post-GELU activations with a long tail; quantising them per tensor costs most of
    the int8 error (mean cosine to fp32 0.989 with them quantised, 0.994 without, on real tweets).
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and "/output/dense/" in node.name and "/attention/" not in node.name
    ]


def quantized_model_path(model_dir: Path | None = None) -> Path:
    """Path of the int8 model in the cache, exporting and quantising it first when absent.

    Recipe: dynamic int8, per-channel weights, MatMul only, feed-forward output projections kept fp32.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir = model_dir or encoder_path()
    folder = cache_dir() / "onnx" / weights_fingerprint(model_dir)
    int8_path = folder / f"model.{QUANTIZATION_RECIPE}.onnx"
    if not int8_path.is_file():
        fp32_path = folder / "model.fp32.onnx"
        if not fp32_path.is_file():
            export_onnx(model_dir, fp32_path)
        partial = folder / "partial.onnx"
        quantize_dynamic(
            str(fp32_path),
            str(partial),
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=_ffn_output_projections(fp32_path),
        )
        partial.replace(int8_path)
    return int8_path


class OnnxSentenceEncoder:
    """MiniLM through ONNX Runtime (dynamic int8 by default); a drop-in ``SentenceEncoder``."""

    batch_size = PADDED_BATCH_SIZE

    def __init__(
        self, model_path: Path, tokenizer_dir: Path, threads: int | None = None, name: str = "onnx-int8"
    ) -> None:
        offline_environment()
        import onnxruntime
        from transformers import AutoTokenizer

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        self.name = name

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="np"
        )
        feeds = {
            name: tokens[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def load_onnx_encoder(quantized: bool = True, threads: int | None = None) -> OnnxSentenceEncoder:
    """The ONNX backend, building the export in the cache on first use (about a minute on 2 cores)."""
    model_dir = encoder_path()
    path = quantized_model_path(model_dir)  # also builds the fp32 export it is made from
    if not quantized:
        path = path.with_name("model.fp32.onnx")
    return OnnxSentenceEncoder(path, model_dir, threads, "onnx-int8" if quantized else "onnx-fp32")

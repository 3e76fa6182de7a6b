"""The fastest encoder backend that keeps the fp32 decisions: MiniLM compiled by OpenVINO in bfloat16.

OpenVINO's CPU plugin fuses the transformer's layers into its own kernels and, on a CPU with native
bfloat16 (AVX512-BF16 or AMX), runs them in bf16; here it analyses about 2.3x as fast as the torch fp32
analysis (torch-bf16: about 1.7x) with mean cosine 0.99998 to the fp32 embedding and >= 99.9 % identical
problem and sentiment decisions (``benchmarks/analysis_speed.py``). Two things make the difference besides
the kernels: mean pooling and normalisation are part of the compiled graph, and each batch is cut into
small requests run on all of the plugin's streams at once while the next one is tokenised, instead of
one large request whose padding and threading waste the cores.

The graph is converted from the packaged model folder (never downloaded) on first use and kept in the
git-ignored cache, keyed by the hash of the packaged weights; the weights stay fp32 in the cached file.
Static int8 (NNCF) is faster still but flips 1.3-3.8 % of sentiment decisions, so it is not offered
(classifier/STATUS.md).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artifact import ModelArtifactError
from classifier.bf16_backend import Bf16UnsupportedError
from classifier.encoder import (
    EMBEDDING_DIM,
    LAYERS,
    MAX_SEQ_LENGTH,
    encoder_path,
    offline_environment,
    weights_fingerprint,
)
from classifier.paths import cache_dir

BACKEND_NAME = "openvino-bf16"
REQUEST_SIZE = 16  # texts per inference request: little padding, still a batch (8: 2.7x, 16: 2.9x, 32: 2.6x)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


class OpenVinoMissingError(ModelArtifactError):
    """The backend was asked for without the ``openvino`` package (a model that cannot be served as
    configured: reported in one line, before any work)."""


def _openvino() -> Any:
    try:
        import openvino
    except ImportError as error:
        raise OpenVinoMissingError(
            f"backend {BACKEND_NAME} needs the openvino package: pip install 'signal-triage[openvino]'"
        ) from error
    return openvino


def cpu_runs_bf16(core: Any) -> bool:
    """Whether OpenVINO's CPU plugin can run bfloat16 natively here (otherwise it silently runs fp32)."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def convert_to_openvino(model_dir: Path, destination: Path) -> None:
    """Convert transformer + mean pooling + L2 normalisation into one OpenVINO graph at ``destination``
    (``model.xml`` and its ``model.bin``), written whole or not at all. Output 0 is the embedding,
    output 1 every layer's pool (n, 6, 384)."""
    offline_environment()
    ov = _openvino()
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class PooledEmbedding(torch.nn.Module):
        """The sentence-transformers embedding (attention-masked mean of the token states, then L2) and,
        as a second output, the same pool of every layer (what heads on layer pools read)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden_states = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                output_hidden_states=True,
            ).hidden_states[1:]
            mask = attention_mask.unsqueeze(-1).to(hidden_states[-1].dtype)
            count = mask.sum(dim=1).clamp(min=1e-9)
            pools = torch.stack([(states * mask).sum(dim=1) / count for states in hidden_states], dim=1)
            normalised = torch.nn.functional.normalize(pools, dim=-1)
            return normalised[:, -1], normalised

    sample = tokenizer(
        ["a short sample", "another, slightly longer sample text"], padding=True, return_tensors="pt"
    )
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns that two shape tests in transformers' masking code become constants; both are
        # constant for an encoder with an attention mask (no causal mask, no cache), whatever the shape
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        inputs = {name: sample[name] for name in INPUT_NAMES}
        graph = ov.convert_model(PooledEmbedding().eval(), example_input=inputs)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".partial-"))
    try:
        ov.save_model(graph, str(staging / destination.name), compress_to_fp16=False)
        for part in (destination.name, destination.with_suffix(".bin").name):
            (staging / part).replace(destination.parent / part)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def openvino_model_path(model_dir: Path | None = None) -> Path:
    """The converted graph in the cache, converting it first when absent (about 15 s on 2 cores)."""
    model_dir = model_dir or encoder_path()
    # "layer-pools": graphs of earlier releases had the embedding as their only output
    path = cache_dir() / "openvino" / weights_fingerprint(model_dir) / "layer-pools" / "model.xml"
    if not (path.is_file() and path.with_suffix(".bin").is_file()):
        convert_to_openvino(model_dir, path)
    return path


class OpenVinoSentenceEncoder:
    """MiniLM compiled by OpenVINO in bfloat16; a drop-in ``SentenceEncoder`` (safe to share between
    threads: one batch is encoded at a time)."""

    name = BACKEND_NAME
    # Each call is cut into REQUEST_SIZE requests that run on all streams at once, and the streams idle
    # while the last requests of a call finish: the more requests per call, the less that idle time
    # weighs (2,000 tweets: 2.5x bare encode at 64 per call, 3.0x at 256).
    batch_size = 256

    def __init__(self, compiled: Any, tokenizer: Any, requests: int) -> None:
        ov = _openvino()
        self._tokenizer = tokenizer
        self._queue = ov.AsyncInferQueue(compiled, requests)
        self._queue.set_callback(self._store)
        self._lock = threading.Lock()
        self._output = np.zeros((0, EMBEDDING_DIM), np.float32)
        self._output_index = 0

    def _store(self, request: Any, rows: slice) -> None:
        self._output[rows] = request.get_output_tensor(self._output_index).data

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, 0, (EMBEDDING_DIM,))

    def encode_layers(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 6, 384): every layer's pool, the graph's second output, from the same pass."""
        return self._run(texts, 1, (LAYERS, EMBEDDING_DIM))

    def _run(self, texts: Sequence[str], output_index: int, row_shape: tuple[int, ...]) -> np.ndarray:
        with self._lock:
            self._output = np.zeros((len(texts), *row_shape), np.float32)
            self._output_index = output_index
            for start in range(0, len(texts), REQUEST_SIZE):
                tokens = self._tokenizer(
                    list(texts[start : start + REQUEST_SIZE]),
                    padding=True,
                    truncation=True,
                    max_length=MAX_SEQ_LENGTH,
                    return_tensors="np",
                )
                feeds = {name: tokens[name].astype(np.int64) for name in INPUT_NAMES}
                self._queue.start_async(feeds, slice(start, start + REQUEST_SIZE))
            self._queue.wait_all()
            return self._output


def compile_encoder(graph: Any, name: str = BACKEND_NAME) -> OpenVinoSentenceEncoder:
    """A ``SentenceEncoder`` running ``graph`` (a path to a converted model, or an ``openvino.Model`` such
    as a quantised variant a benchmark probes) in bf16 on as many parallel requests as the CPU plugin
    finds best."""
    ov = _openvino()
    offline_environment()
    from transformers import AutoTokenizer

    compiled = ov.Core().compile_model(
        str(graph) if isinstance(graph, Path) else graph,
        "CPU",
        {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "bf16"},
    )
    requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    encoder = OpenVinoSentenceEncoder(compiled, AutoTokenizer.from_pretrained(str(encoder_path())), requests)
    encoder.name = name
    return encoder


def load_openvino_encoder(require_native: bool = True) -> OpenVinoSentenceEncoder:
    """The OpenVINO bf16 backend; raises :class:`Bf16UnsupportedError` on a CPU without native bfloat16
    (``require_native=False`` compiles anyway, for tests on any machine) and
    :class:`OpenVinoMissingError` without the package."""
    if require_native and not cpu_runs_bf16(_openvino().Core()):
        raise Bf16UnsupportedError(
            f"backend {BACKEND_NAME} needs a CPU with native bfloat16 (AVX512-BF16 or AMX); "
            "use torch or onnx-fp32 on this machine"
        )
    return compile_encoder(openvino_model_path())

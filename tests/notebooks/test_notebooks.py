"""The notebooks run top to bottom on small settings, are committed without outputs, and print the
same figures as ``benchmarks/classifier_eval.py`` for the same artifact and sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from classifier.versions import current_version
from tests.classifier.conftest import requires_shared
from tests.classifier.reviews import write_reviewed_export
from tests.factories import write_small_scenario

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EVAL_SAMPLE = 40


def execute(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel from ``notebooks/``; parameters travel as environment variables."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return notebook


def output_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
    )


def count_images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


@pytest.mark.parametrize("name", ["retrain_classifier.ipynb", "explore_clusters.ipynb"])
def test_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "a notebook without code"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), (
        f"{name} has outputs; clear them before committing (jupyter nbconvert --clear-output --inplace)"
    )


def test_explore_clusters_runs_on_a_small_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = tmp_path / "bank.jsonl"
    write_small_scenario(scenario)
    notebook = execute(
        "explore_clusters.ipynb",
        {"SCENARIO": str(scenario), "SMALL": "1", "WORK_DIR": str(tmp_path / "work")},
        monkeypatch,
    )
    text = output_text(notebook)
    assert "analysed posts, 384-d embeddings" in text and "mean cosine to centroid" in text
    assert count_images(notebook) == 2  # the PCA projection and the probability/volume figure
    assert (tmp_path / "work" / "explore.db").is_file()


@requires_shared
def test_retrain_notebook_trains_a_candidate_and_matches_the_benchmark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_reviewed_export(tmp_path)
    figures_path = tmp_path / "figures.json"
    notebook = execute(
        "retrain_classifier.ipynb",
        {
            "SMALL": "1",
            "LABELS_EXPORT": str(export),
            "CANDIDATE_ROOT": str(tmp_path / "candidates"),
            "CANDIDATE_VERSION": "nb1",
            "EVAL_SAMPLE": str(EVAL_SAMPLE),
            "FIGURES_OUT": str(figures_path),
            "ARTIFACTS_ROOT": str(REPO / "classifier" / "artifacts"),
        },
        monkeypatch,
    )
    candidate = tmp_path / "candidates" / "nb1"
    manifest = json.loads((candidate / "manifest.json").read_text())
    in_use = current_version(REPO / "classifier" / "artifacts")
    assert manifest["parent"] == in_use
    assert manifest["training_data"]["reviewed_labels"]["file"] == export.name
    assert "reviewed_labels" in manifest["training_data"]["problem_rows"]
    assert "## Lineage" in (candidate / "MODEL_CARD.md").read_text()
    figures = json.loads(figures_path.read_text())
    assert set(figures["evaluations"]["candidate"]["categories"]) and count_images(notebook) == 1
    text = output_text(notebook)

    benchmark = subprocess.run(
        [
            sys.executable,
            "benchmarks/classifier_eval.py",
            "--artifact",
            str(candidate),
            "--sample",
            str(EVAL_SAMPLE),
        ],
        cwd=REPO,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert benchmark.returncode == 0, benchmark.stderr
    printed = {
        line[:45].strip(): line[45:].split()[0]
        for line in benchmark.stdout.splitlines()[1:7]
        if line[:2] != "  "
    }
    for name, value in figures["benchmark_figures"]["candidate"]:
        assert printed[name] == value, (name, printed[name], value)
        assert f"  {name}: {value}" in text  # what the executed notebook shows

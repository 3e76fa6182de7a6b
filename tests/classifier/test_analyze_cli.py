"""`triage analyze` on tiny inputs written for the test: output lines, skipped rows, fatal file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from classifier.analysis import Analyzer
from triage.cli import analyze as analyze_module

app = typer.Typer()
app.command()(analyze_module.analyze)


@pytest.fixture(autouse=True)
def shared_analyzer(monkeypatch: pytest.MonkeyPatch, analyzer: Analyzer) -> None:
    monkeypatch.setattr(analyze_module, "load_analyzer", lambda model_dir=None, backend="torch": analyzer)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_jsonl_good_and_bad_rows(tmp_path: Path) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_text(
        '{"id": "a", "text": "checkout keeps failing with error 500"}\n'
        "not json at all\n"
        '{"id": "c", "text": ""}\n'
        '{"id": "d", "text": "thanks, all good now"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out" / "result.jsonl"
    code, output = run(str(source), "--out", str(out))
    assert code == 0, output
    assert ":2: invalid JSON" in output and ":3: empty text" in output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", "d"]
    assert set(lines[0]) >= {"id", "problem", "category", "sentiment", "sentiment_scores"}
    assert isinstance(lines[0]["problem"], bool)


def test_csv_without_ids(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("text\nmy transfer never arrived\nwhat a lovely day\n", encoding="utf-8")
    out = tmp_path / "result.jsonl"
    code, output = run(str(source), "--out", str(out))
    assert code == 0, output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["2", "3"]


def test_file_level_errors_exit_non_zero(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("body\nhello\n", encoding="utf-8")
    code, output = run(str(source), "--out", str(tmp_path / "o.jsonl"))
    assert code == 1 and "no 'text' column" in output
    code, output = run(str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "o.jsonl"))
    assert code == 1 and "does not exist" in output


def test_an_unknown_backend_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from classifier.analysis import load_analyzer

    monkeypatch.setattr(analyze_module, "load_analyzer", load_analyzer)
    source = tmp_path / "posts.csv"
    source.write_text("text\nmy transfer never arrived\n", encoding="utf-8")
    code, output = run(str(source), "--out", str(tmp_path / "o.jsonl"), "--backend", "tpu")
    assert code == 1
    assert "unknown encoder backend 'tpu'" in output and not (tmp_path / "o.jsonl").exists()


def test_a_refused_backend_names_its_extra_with_the_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifier.artifact import ModelArtifactError

    def refuse(model_dir: object = None, backend: str = "torch") -> Analyzer:
        raise ModelArtifactError(
            f"backend {backend} needs the openvino package: pip install 'signal-triage[openvino]'"
        )

    monkeypatch.setattr(analyze_module, "load_analyzer", refuse)
    source = tmp_path / "posts.csv"
    source.write_text("text\nmy transfer never arrived\n", encoding="utf-8")
    code, output = run(str(source), "--out", str(tmp_path / "o.jsonl"), "--backend", "openvino-bf16")
    assert code == 1 and "pip install 'signal-triage[openvino]'" in output  # not eaten as console markup

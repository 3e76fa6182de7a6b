"""People's reviewed labels (a ``triage labels export`` file) as one more training dataset.

The export is read as a file, not from the database, so the classifier stays independent of ``triage/``
and a notebook can train on an export made anywhere. Texts are deduplicated by the same normalisation as
the public sets (the latest label of a text wins) and split 70/10/20 by a hash of that text, so a
relabelled post never sits in train and test at once and its split does not move between exports.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.artifact import ModelArtifactError
from classifier.datasets.common import LabelledText, hash_split, normalize_for_dedup
from classifier.labels import REVIEWED_DATASET

REQUIRED_COLUMNS = ("text", "is_problem", "category", "labelled_at")


class ReviewedLabelsError(ModelArtifactError):
    """The reviewed-labels file cannot be used for training; the message says why."""


@dataclass(frozen=True)
class ReviewedLabels:
    """Deduplicated reviewed records plus where they came from (written into the model manifest)."""

    records: list[LabelledText]
    source: dict[str, Any] = field(default_factory=dict)


def _truthy(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    raise ReviewedLabelsError(f"{path}: reviewed labels must be a .parquet or .csv export")


def load_reviewed_labels(path: Path) -> ReviewedLabels:
    """Records of ``reviewed_labels``, labelled ``problem``, ``not_problem`` or ``category:<name>``."""
    if not path.is_file():
        raise ReviewedLabelsError(f"{path} does not exist; write one with `triage labels export`")
    rows = _read_rows(path)
    if rows and not set(REQUIRED_COLUMNS) <= set(rows[0]):
        missing = sorted(set(REQUIRED_COLUMNS) - set(rows[0]))
        raise ReviewedLabelsError(f"{path} lacks columns {missing}; is it a `triage labels export` file?")
    latest: dict[str, tuple[str, LabelledText]] = {}
    for number, row in enumerate(rows):
        text = str(row.get("text") or "")
        is_problem = _truthy(row.get("is_problem"))
        key = normalize_for_dedup(text)
        if not key or is_problem is None:
            continue
        category = str(row.get("category") or "").strip()
        label = ("category:" + category if category else "problem") if is_problem else "not_problem"
        record = LabelledText(
            str(row.get("external_id") or number), text, label, hash_split(key), REVIEWED_DATASET
        )
        stamp = str(row.get("labelled_at") or "")
        if key not in latest or stamp >= latest[key][0]:
            latest[key] = (stamp, record)
    records = [record for _, record in latest.values()]
    source = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows": len(rows),
        "texts": len(records),
        "problems": sum(record.label != "not_problem" for record in records),
    }
    return ReviewedLabels(records, source)

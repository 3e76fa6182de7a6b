"""Model versions in an artifacts root: which one is in use, promotion, rollback and their log.

An *artifacts root* is a folder of version folders (``v1/``, ``v2/``, ...) plus ``DEFAULT``, the name of
the version in use, and ``promotions.jsonl``, an append-only log of every promotion and rollback (who,
when, why, from which version, with the evaluation that justified it). The bundled root is
``classifier/artifacts``; a deployment points ``SIGNAL_TRIAGE_MODEL_DIR`` at its own root so it can
promote without writing into the installed package.

``DEFAULT`` is replaced atomically (write beside, then rename), so a reader never sees a half-written
name; the log line is appended after the pointer moved, so a crash in between leaves the pointer right
and the log one line short, which :func:`rollback` notices instead of guessing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from classifier.artifact import (
    DEFAULT_POINTER,
    MANIFEST_FILE,
    ModelArtifactError,
    load_artifact,
)
from classifier.paths import ARTIFACTS_DIR

PROMOTIONS_LOG = "promotions.jsonl"


class PromotionError(ModelArtifactError):
    """A promotion or rollback that cannot be done as asked; the message says what to do instead."""


@dataclass(frozen=True)
class VersionInfo:
    """One artifact version as listed to people: lineage, data, headline figures, whether it is in use."""

    version: str
    path: Path
    created: str | None
    parent: str | None
    in_use: bool
    training_data: dict[str, Any]
    headline: dict[str, float]
    valid: bool = True
    problem: str = ""


@dataclass(frozen=True)
class PromotionRecord:
    """One line of ``promotions.jsonl``."""

    action: str  # "promote" or "rollback"
    version: str
    previous: str | None
    by: str
    reason: str
    at: str
    forced: bool = False
    evaluation: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "version": self.version,
            "previous": self.previous,
            "by": self.by,
            "reason": self.reason,
            "at": self.at,
            "forced": self.forced,
            "evaluation": self.evaluation,
        }


def is_artifact_dir(path: Path) -> bool:
    """A single version folder (it holds a manifest), as opposed to a root of versions."""
    return (path / MANIFEST_FILE).is_file()


def artifacts_root_for(model_dir: Path | None) -> Path:
    """The root of versions that ``Settings.model_dir`` designates.

    ``None`` is the bundled root; a version folder (one holding ``manifest.json``) pins that version, and
    its parent is the root it is listed in; anything else is itself a root.
    """
    if model_dir is None:
        return ARTIFACTS_DIR
    return model_dir.parent if is_artifact_dir(model_dir) else model_dir


def resolve_artifact_dir(model_dir: Path | None) -> Path:
    """The version folder to load for ``Settings.model_dir`` (see :func:`artifacts_root_for`)."""
    if model_dir is not None and is_artifact_dir(model_dir):
        return model_dir
    root = artifacts_root_for(model_dir)
    return root / current_version(root)


def _check_name(version: str) -> str:
    if (
        not version
        or "/" in version
        or "\\" in version
        or version.startswith(".")
        or version.strip() != version
    ):
        raise PromotionError(f"{version!r} is not a version folder name (e.g. v3)")
    return version


def current_version(root: Path) -> str:
    """The version named in ``<root>/DEFAULT``."""
    pointer = root / DEFAULT_POINTER
    if not pointer.is_file():
        raise ModelArtifactError(
            f"no model in use: {pointer} is missing; promote a version with `triage model promote`"
        )
    version = pointer.read_text(encoding="utf-8").strip()
    try:
        return _check_name(version)
    except PromotionError:
        raise ModelArtifactError(f"{pointer} must hold a version folder name, found {version!r}") from None


def headline_figures(manifest: dict[str, Any]) -> dict[str, float]:
    """The few figures a version list shows: mean problem F1 over test sets with problems, sentiment."""
    metrics = manifest.get("metrics", {})
    tests = metrics.get("problem", {}).get("test", {})
    f1s = [float(s["f1"]) for s in tests.values() if isinstance(s, dict) and s.get("positives", 0) > 0]
    figures: dict[str, float] = {}
    if f1s:
        figures["problem_f1_mean"] = sum(f1s) / len(f1s)
    recall = metrics.get("sentiment", {}).get("tweeteval_test_macro_recall")
    if recall is not None:
        figures["sentiment_macro_recall"] = float(recall)
    return figures


def list_versions(root: Path) -> list[VersionInfo]:
    """Every version folder of ``root``, oldest first by creation date; broken ones say why."""
    try:
        in_use: str | None = current_version(root)
    except ModelArtifactError:
        in_use = None
    found = []
    for folder in sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else []:
        if not is_artifact_dir(folder):
            continue
        try:
            manifest = load_artifact(folder).manifest
        except ModelArtifactError as error:
            found.append(
                VersionInfo(folder.name, folder, None, None, folder.name == in_use, {}, {}, False, str(error))
            )
            continue
        found.append(
            VersionInfo(
                version=folder.name,
                path=folder,
                created=manifest.get("created"),
                parent=manifest.get("parent"),
                in_use=folder.name == in_use,
                training_data=dict(manifest.get("training_data", {})),
                headline=headline_figures(manifest),
            )
        )
    return sorted(found, key=lambda info: (info.created or "", info.version))


def promotion_log(root: Path) -> list[PromotionRecord]:
    """Every promotion and rollback recorded in ``root``, oldest first."""
    path = root / PROMOTIONS_LOG
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            records.append(
                PromotionRecord(
                    str(data["action"]),
                    str(data["version"]),
                    data.get("previous"),
                    str(data["by"]),
                    str(data["reason"]),
                    str(data["at"]),
                    bool(data.get("forced", False)),
                    dict(data.get("evaluation") or {}),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise PromotionError(
                f"{path}:{number} is not a promotion record ({error}); restore the log"
            ) from None
    return records


def promoted_stack(records: Sequence[PromotionRecord]) -> list[str]:
    """Versions in use one after the other, as promotions pushed and rollbacks popped them."""
    stack: list[str] = []
    for record in records:
        if record.action == "promote":
            if not stack and record.previous:
                stack.append(record.previous)
            stack.append(record.version)
        elif record.action == "rollback" and stack:
            stack.pop()
    return stack


def _write_pointer(root: Path, version: str) -> None:
    pointer = root / DEFAULT_POINTER
    partial = root / (DEFAULT_POINTER + ".partial")
    partial.write_text(version + "\n", encoding="utf-8")
    os.replace(partial, pointer)


def _append(root: Path, record: PromotionRecord) -> None:
    with (root / PROMOTIONS_LOG).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record.as_json(), sort_keys=True) + "\n")


def import_candidate(root: Path, candidate: Path) -> str:
    """Copy an artifact folder written elsewhere (a notebook's candidate) into ``root``; returns its version.

    The folder name in the root is the manifest's version. An existing folder of that name is accepted only
    when it holds the same weights, so a promotion can never silently replace a different model.
    """
    artifact = load_artifact(candidate)
    version = _check_name(artifact.version)
    target = root / version
    if target.resolve() == candidate.resolve():
        return version
    if target.exists():
        existing = load_artifact(target)
        if existing.manifest.get("weights_sha256") != artifact.manifest.get("weights_sha256"):
            raise PromotionError(
                f"{target} already holds a different {version}; train the candidate under a new version name"
            )
        return version
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(candidate, partial)
    partial.rename(target)
    return version


def promote(
    root: Path,
    version: str,
    *,
    by: str,
    reason: str,
    at: datetime,
    evaluation: dict[str, Any] | None = None,
    forced: bool = False,
) -> PromotionRecord:
    """Point ``DEFAULT`` at ``version`` (verified first) and log who did it and why.

    Whether the candidate is good enough is decided by the caller (``triage model promote`` checks the
    stored evaluation); this function only refuses what is never right: no reason, no name, a broken
    artifact, or promoting the version already in use.
    """
    _check_name(version)
    if not reason.strip():
        raise PromotionError("a promotion needs a reason (--reason), recorded in the promotions log")
    if not by.strip():
        raise PromotionError("a promotion needs the name of who promotes (--by)")
    load_artifact(root / version)  # a corrupt or missing artifact is refused before anything changes
    try:
        previous: str | None = current_version(root)
    except ModelArtifactError:
        previous = None
    if previous == version:
        raise PromotionError(f"{version} is already the version in use in {root}")
    record = PromotionRecord(
        "promote", version, previous, by.strip(), reason.strip(), at.isoformat(), forced, evaluation or {}
    )
    _write_pointer(root, version)
    _append(root, record)
    return record


def rollback(root: Path, *, by: str, reason: str, at: datetime) -> PromotionRecord:
    """Return to the version in use before the latest promotion still in effect, and log it."""
    if not reason.strip():
        raise PromotionError("a rollback needs a reason (--reason), recorded in the promotions log")
    current = current_version(root)
    stack = promoted_stack(promotion_log(root))
    if len(stack) < 2:
        raise PromotionError(f"nothing to roll back to in {root}: no earlier promotion is recorded")
    if stack[-1] != current:
        raise PromotionError(
            f"{root / DEFAULT_POINTER} names {current} but the promotions log ends at {stack[-1]}; "
            "the pointer was changed by hand: promote the version you want explicitly"
        )
    target = stack[-2]
    load_artifact(root / target)
    record = PromotionRecord(
        "rollback", target, current, by.strip() or "unknown", reason.strip(), at.isoformat()
    )
    _write_pointer(root, target)
    _append(root, record)
    return record

"""No row of the public datasets may enter this repository (their licences forbid it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_repository_holds_no_dataset_rows(shared_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(shared_dir / "tools" / "check_no_shared_rows.py"),
            str(REPO),
            str(shared_dir / "datasets"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr

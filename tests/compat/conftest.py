"""The compatibility suite's npm packages: installed from the lock file, bundled with esbuild."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENTRIES = ("modern", "legacy")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Return each tracker's page script, bundled by esbuild (``npm ci`` first if needed)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH: Plausible's npm trackers cannot be installed")
    if not (HERE / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)
    out = tmp_path_factory.mktemp("bundles")
    esbuild = HERE / "node_modules" / ".bin" / "esbuild"
    found = {}
    for name in ENTRIES:
        target = out / f"{name}.js"
        subprocess.run(
            [
                str(esbuild),
                str(HERE / "pages" / f"{name}.js"),
                "--bundle",
                "--format=iife",
                "--log-level=warning",
                f"--outfile={target}",
            ],
            cwd=HERE,
            check=True,
            timeout=120,
        )
        found[name] = target
    return found

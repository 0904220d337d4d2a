"""The systemd units of the production recipe in ``deploy/`` are ones systemd accepts.

``systemd-analyze verify`` (from Debian's systemd package) parses each unit as
systemd would load it and names unknown keys, bad values and missing programs.
The units point at a Portal checked out in /opt/portal, which this machine does
not have: that, and only that, is expected to be reported.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted(path.name for path in DEPLOY.iterdir() if path.suffix in {".service", ".timer"})
#: What verify says about a program of the Portal checkout this machine does not have.
NOT_INSTALLED_HERE = re.compile(
    r"^\S+\.service: Command /opt/portal/\.venv/bin/\w+ is not executable: "
    r"No such file or directory$"
)


def test_the_recipe_has_the_web_worker_and_backup_units():
    assert UNITS == [
        "portal-backup.service",
        "portal-backup.timer",
        "portal-web.service",
        "portal-worker@.service",
    ]


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_accepts_the_unit(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd")
    for path in DEPLOY.iterdir():  # a timer is verified together with its service
        if path.suffix in {".service", ".timer"}:
            shutil.copy(path, tmp_path / path.name)
    names = [unit] + ([unit.replace(".timer", ".service")] if unit.endswith(".timer") else [])

    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{name}" for name in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not NOT_INSTALLED_HERE.match(line)
    ]
    assert complaints == []

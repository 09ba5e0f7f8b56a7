"""What leaves the staff's hands: the student bundle and the Gradescope autograder zip.

The student bundle is the kit minus everything staff-only (``autograder/``, ``solution/``,
``planted/``): handout, questions, shared fixtures, starter and visible tests, under one
folder named after the kit. The Gradescope zip is what Gradescope's "Autograder
Specifications" ask for: ``setup.sh`` (run once, as root, when Gradescope builds its image)
and ``run_autograder`` (run per submission: ``/autograder/submission`` in,
``/autograder/results/results.json`` out) at the zip's root, with the kit's tests and this
package's source beside them, so the grader on Gradescope is the same code as ``sai kit
grade`` here.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from scalable_ai.errors import UserError
from scalable_ai.kits.kit import STAFF_ONLY, Kit, missing_parts

_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".git", ".venv", "build"}
_SKIP_SUFFIXES = {".pyc", ".so", ".o"}
_PACKAGE_ROOT = Path(__file__).resolve().parents[3]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs Python 3.11, bubblewrap and this course's package (with its grading extra)
# into /opt/sai. No weights or data are downloaded: the kits build tiny models themselves.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3.11 python3.11-venv bubblewrap git >/dev/null
python3.11 -m venv /opt/sai
/opt/sai/bin/pip install --quiet --upgrade pip
/opt/sai/bin/pip install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
/opt/sai/bin/pip install --quiet "/autograder/source/scalable-ai[kits]"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: the files are in /autograder/submission and the
# grade goes to /autograder/results/results.json (Gradescope's format). AUTOGRADER_ROOT and
# SAI_BIN let staff run the very same script on their own machine.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SAI="${SAI_BIN:-/opt/sai/bin/sai}"
mkdir -p "$ROOT/results"
exec "$SAI" kit grade "$ROOT/source/kit" "$ROOT/submission" \\
  --out "$ROOT/results/results.json" --sandbox auto
"""


def _files(folder: Path, skip_top: tuple[str, ...] = ()) -> list[Path]:
    chosen = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip_top or _SKIP_PARTS & set(relative.parts):
            continue
        if path.is_file() and not path.is_symlink() and path.suffix not in _SKIP_SUFFIXES:
            chosen.append(path)
    return chosen


def _add(archive: zipfile.ZipFile, path: Path, name: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes())


def _add_text(archive: zipfile.ZipFile, text: str, name: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def build_student_bundle(kit: Kit, out_dir: Path) -> Path:
    """``<out_dir>/<kit>-student.zip``: everything but the staff-only folders."""
    missing = missing_parts(kit)
    if missing:
        raise UserError(f"kit {kit.id} is not complete: it lacks {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{kit.id}-student.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in _files(kit.root, skip_top=STAFF_ONLY):
            _add(archive, path, f"{kit.id}/{path.relative_to(kit.root).as_posix()}")
    return target


def build_gradescope_zip(kit: Kit, out_dir: Path) -> Path:
    """``<out_dir>/<kit>-gradescope.zip``: setup.sh, run_autograder, the kit's tests and the
    package's source, ready to upload as a Gradescope autograder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{kit.id}-gradescope.zip"
    with zipfile.ZipFile(target, "w") as archive:
        _add_text(archive, SETUP_SH, "setup.sh", executable=True)
        _add_text(archive, RUN_AUTOGRADER, "run_autograder", executable=True)
        for path in _files(kit.root, skip_top=("solution", "planted", "starter")):
            _add(archive, path, f"kit/{path.relative_to(kit.root).as_posix()}")
        for name in ("pyproject.toml", "README.md"):
            _add(archive, _PACKAGE_ROOT / name, f"scalable-ai/{name}")
        for path in _files(_PACKAGE_ROOT / "src" / "scalable_ai"):
            relative = path.relative_to(_PACKAGE_ROOT).as_posix()
            _add(archive, path, f"scalable-ai/{relative}")
    return target

"""Fetching a submission: folder, zip or local git repository; nothing unsafe gets in."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from scalable_ai.errors import UserError
from scalable_ai.kits.submission import fetch_submission


def test_a_zip_of_a_folder_gives_that_folders_files(tmp_path):
    archive = tmp_path / "hand-in.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("starter/block_allocator.py", "X = 1\n")
        z.writestr("starter/__pycache__/junk.pyc", "junk")
    fetched = fetch_submission(str(archive), tmp_path / "out")
    assert sorted(p.name for p in fetched.folder.iterdir()) == ["block_allocator.py"]


def test_a_zip_that_climbs_out_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../etc/cron.d/evil", "* * * * * root rm -rf /")
    with pytest.raises(UserError, match="unsafe path"):
        fetch_submission(str(archive), tmp_path / "out")


def test_a_folder_is_copied_without_links(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "admission.py").write_text("Y = 2\n")
    (source / "leak.py").symlink_to("/etc/passwd")
    fetched = fetch_submission(str(source), tmp_path / "out")
    assert [p.name for p in fetched.folder.iterdir()] == ["admission.py"]


def test_a_local_git_repository_is_cloned_at_its_commit(tmp_path):
    repo = tmp_path / "group-repo"
    repo.mkdir()
    (repo / "speculative.py").write_text("Z = 3\n")
    git = ["git", "-C", str(repo), "-c", "user.name=s", "-c", "user.email=s@x"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "A4"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    fetched = fetch_submission(f"file://{repo}", tmp_path / "out")
    assert fetched.commit == head.strip()
    assert (fetched.folder / "speculative.py").read_text() == "Z = 3\n"
    assert not (fetched.folder / ".git").exists()


def test_remote_urls_are_refused(tmp_path):
    with pytest.raises(UserError, match="on this machine"):
        fetch_submission("https://github.com/someone/a4.git", tmp_path / "out")

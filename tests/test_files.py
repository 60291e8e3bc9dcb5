"""vaetheory.core.files: a group of files is committed whole even when Ctrl-C arrives in the middle, temporaries
never survive a failed write, and a killed writer's leftovers can be found by its process id."""
from __future__ import annotations

import os
import signal

import pytest

from vaetheory.core import files


def test_ctrl_c_during_the_commit_is_delivered_after_every_file_is_in_place(tmp_path, monkeypatch):
    real_replace = os.replace
    calls = []

    def replace_and_interrupt(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the first and the second rename
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace_and_interrupt)
    group = {tmp_path / "r.json": b"{}", tmp_path / "r.md": b"# r", tmp_path / "r.png": b"png"}
    with pytest.raises(KeyboardInterrupt):
        files.write_group(group)
    assert len(calls) == 3
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {p.name: b for p, b in group.items()}


def test_a_failed_write_leaves_no_temporary(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        files.write_group({tmp_path / "a.json": b"1", tmp_path / "b.md": b"2"})
    assert list(tmp_path.iterdir()) == []


def test_keep_existing_and_leftovers_of_a_killed_writer(tmp_path):
    files.write_atomic(tmp_path / "a.json", "first")
    files.write_atomic(tmp_path / "a.json", "second", keep_existing=True)
    assert (tmp_path / "a.json").read_text() == "first"
    (tmp_path / ".b.json.4242.xyz.tmp").write_text("half")  # what a writer killed mid-write leaves
    (tmp_path / ".c.json.4243.xyz.tmp").write_text("another writer's")
    assert [p.name for p in files.remove_temporaries(tmp_path, 4242)] == [".b.json.4242.xyz.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".c.json.4243.xyz.tmp", "a.json"]

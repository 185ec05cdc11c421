"""Checkpoint stores: the file store's atomic, durable writes and its handling of a corrupt file."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from ta_openai_audit.checkpoint import FileCheckpointStore, MemoryCheckpointStore
from ta_openai_audit.errors import CheckpointError, CorruptCheckpointError


def test_memory_store_copies_both_ways():
    store = MemoryCheckpointStore()
    state = {"version": 1, "overlap_ids": {"a": 1}}
    store.update("k", state)
    state["overlap_ids"]["b"] = 2
    got = store.get("k")
    assert got == {"version": 1, "overlap_ids": {"a": 1}}
    got["overlap_ids"]["c"] = 3
    assert store.get("k") == {"version": 1, "overlap_ids": {"a": 1}}
    store.delete("k")
    store.delete("k")  # deleting what is not there is fine
    assert store.get("k") is None


def test_file_store_round_trip_with_several_keys(tmp_path):
    path = tmp_path / "state.json"
    store = FileCheckpointStore(str(path))
    assert store.get("a") is None
    store.update("a", {"high_water": 1})
    store.update("a:tenant", {"high_water": 2})
    store.update("a", {"high_water": 3})
    assert store.get("a") == {"high_water": 3}
    assert FileCheckpointStore(str(path)).get("a:tenant") == {"high_water": 2}
    store.delete("a")
    assert json.loads(path.read_text()) == {"a:tenant": {"high_water": 2}}


def test_file_store_is_private_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "state.json"
    FileCheckpointStore(str(path)).update("k", {"x": 1})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    store = FileCheckpointStore(str(path))
    store.update("k", {"high_water": 1})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(CheckpointError) as info:
        store.update("k", {"high_water": 2})
    assert "No space left" in str(info.value)
    monkeypatch.undo()
    assert store.get("k") == {"high_water": 1}
    assert os.listdir(tmp_path) == ["state.json"]  # the temporary file was removed


def test_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    FileCheckpointStore(str(tmp_path / "s.json")).update("k", {"x": 1})
    # file data, then the rename, then the directory entry
    assert events == ["fsync", "replace", "fsync"]


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_corrupt_file_is_reported_as_a_value_error(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    store = FileCheckpointStore(str(path))
    with pytest.raises(CorruptCheckpointError) as info:
        store.get("k")
    assert isinstance(info.value, ValueError) and info.value.category == "checkpoint"
    assert str(path) in str(info.value)


def test_update_moves_a_corrupt_file_aside(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"{half a reco")
    store = FileCheckpointStore(str(path))
    store.update("k", {"high_water": 5})
    assert store.get("k") == {"high_water": 5}
    aside = [p for p in os.listdir(tmp_path) if p.startswith("state.json.corrupt-")]
    assert len(aside) == 1 and (tmp_path / aside[0]).read_bytes() == b"{half a reco"


def test_missing_directory_is_a_checkpoint_error(tmp_path):
    store = FileCheckpointStore(str(tmp_path / "nope" / "state.json"))
    assert store.get("k") is None
    with pytest.raises(CheckpointError) as info:
        store.update("k", {})
    assert "cannot write state file" in str(info.value)


def test_after_a_corrupt_file_every_key_it_lacks_is_reported_corrupt(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"{half a reco")
    store = FileCheckpointStore(str(path))
    store.update("k", {"high_water": 5})  # the first stream recovered and wrote its record
    assert store.get("k") == {"high_water": 5}
    with pytest.raises(CorruptCheckpointError) as info:  # the second must recover too, not start over
        FileCheckpointStore(str(path)).get("k:tenant")
    assert "was corrupt (kept at %s" % path in str(info.value)


def test_the_lock_admits_one_process_per_state_file(tmp_path):
    path = str(tmp_path / "state.json")
    first = FileCheckpointStore(path)
    first.lock()
    child = subprocess.run([sys.executable, "-c", "import sys; from ta_openai_audit.checkpoint import "
                            "FileCheckpointStore as S; S(sys.argv[1]).lock()", path],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert child.returncode == 1 and "in use by another collect process (pid %d)" % os.getpid() in child.stderr
    first.unlock()
    second = FileCheckpointStore(path)
    second.lock()
    second.unlock()

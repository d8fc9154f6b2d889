"""The hardened writer and reader of _utils/layline_files, by plain import."""

import os

import pytest
from salt.exceptions import CommandExecutionError

import layline_files


def test_read_bounded_reads_a_regular_file_and_refuses_links_fifos_and_big_files(tmp_path):
    target = tmp_path / "file"
    target.write_bytes(b"abc")
    assert layline_files.read_bounded(str(target)) == b"abc"
    with pytest.raises(ValueError, match="larger than 2"):
        layline_files.read_bounded(str(target), limit=2)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError):
        layline_files.read_bounded(str(link))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        layline_files.read_bounded(str(fifo))


@pytest.mark.skipif(os.geteuid() != 0, reason="chowns a link")
def test_write_file_replaces_atomically_with_the_mode_and_never_through_a_link(tmp_path):
    path = tmp_path / "out.txt"
    layline_files.write_file(str(path), "one\n", mode=0o640)
    assert path.read_text() == "one\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]  # no temporary file left
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "via").symlink_to(elsewhere)
    os.lchown(tmp_path / "via", 65534, 65534)  # a link another user planted
    with pytest.raises(CommandExecutionError, match="symbolic link"):
        layline_files.write_file(str(tmp_path / "via" / "x"), "no")
    assert not (elsewhere / "x").exists()


def test_markers_write_list_read_and_clear(tmp_path):
    path = layline_files.marker_path("layline-reactive-engine", str(tmp_path / "pending"))
    marker = {"reasons": ["configuration changed"], "version": "2.5.5", "written": "x"}
    layline_files.write_marker(path, marker)
    assert layline_files.read_marker(path) == marker
    assert layline_files.list_markers(str(tmp_path / "pending")) == {
        "layline-reactive-engine": marker
    }
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert layline_files.clear_marker(path) is True
    assert layline_files.clear_marker(path) is False
    assert layline_files.read_marker(path) is None
    with pytest.raises(CommandExecutionError, match="not a layline unit"):
        layline_files.marker_path("../etc/passwd")

"""Contract tests every `Disk` implementation must pass (FileDisk and SimDisk alike)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Disk, FileDisk, SimDisk


@pytest.fixture(params=["file", "sim"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    if request.param == "file":
        d = FileDisk(tmp_path / "disk")
        yield d
        d.close()
    else:
        yield SimDisk(seed=1)


def test_write_read_roundtrip(disk: Disk) -> None:
    disk.write("a", 0, b"hello")
    assert disk.read("a") == b"hello"
    assert disk.read("a", 1, 3) == b"ell"
    assert disk.read("a", 3) == b"lo"
    assert disk.read("a", 4, 100) == b"o"  # short at the end
    assert disk.read("a", 10) == b""
    assert disk.size("a") == 5


def test_write_past_end_fills_zeros(disk: Disk) -> None:
    disk.write("a", 0, b"ab")
    disk.write("a", 5, b"cd")
    assert disk.read("a") == b"ab\x00\x00\x00cd"


def test_overwrite_in_middle(disk: Disk) -> None:
    disk.write("a", 0, b"0123456789")
    disk.write("a", 3, b"xyz")
    assert disk.read("a") == b"012xyz6789"


def test_empty_write_creates_but_does_not_extend(disk: Disk) -> None:
    disk.write("a", 4, b"")
    assert disk.exists("a")
    assert disk.size("a") == 0


def test_append_returns_offsets(disk: Disk) -> None:
    assert disk.append("log", b"abc") == 0
    assert disk.append("log", b"de") == 3
    assert disk.read("log") == b"abcde"


def test_truncate(disk: Disk) -> None:
    disk.write("a", 0, b"abcdef")
    disk.truncate("a", 2)
    assert disk.read("a") == b"ab"
    assert disk.size("a") == 2
    disk.append("a", b"Z")
    assert disk.read("a") == b"abZ"


def test_list_sorted_exists_delete(disk: Disk) -> None:
    for name in ["c", "a", "b"]:
        disk.write(name, 0, b"x")
    assert disk.list() == ["a", "b", "c"]
    assert disk.exists("b")
    disk.delete("b")
    assert not disk.exists("b")
    assert disk.list() == ["a", "c"]
    with pytest.raises(FileNotFoundError):
        disk.delete("b")


def test_rename_replaces_destination(disk: Disk) -> None:
    disk.write("src", 0, b"new")
    disk.write("dst", 0, b"old-contents")
    disk.rename("src", "dst")
    assert disk.list() == ["dst"]
    assert disk.read("dst") == b"new"
    with pytest.raises(FileNotFoundError):
        disk.rename("nope", "x")


def test_missing_file_raises(disk: Disk) -> None:
    for call in (
        lambda: disk.read("missing"),
        lambda: disk.size("missing"),
        lambda: disk.fsync("missing"),
        lambda: disk.truncate("missing", 0),
    ):
        with pytest.raises(FileNotFoundError):
            call()


@pytest.mark.parametrize("bad", ["", "a/b", "..", ".", "x\\y", "nul\x00"])
def test_bad_names_rejected(disk: Disk, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid disk file name"):
        disk.write(bad, 0, b"x")


def test_negative_offsets_rejected(disk: Disk) -> None:
    disk.write("a", 0, b"x")
    with pytest.raises(ValueError):
        disk.write("a", -1, b"x")
    with pytest.raises(ValueError):
        disk.read("a", -1)


def test_fsync_keeps_contents(disk: Disk) -> None:
    disk.write("a", 0, b"abc")
    disk.fsync("a")
    assert disk.read("a") == b"abc"


def test_filedisk_survives_reopen(tmp_path: Path) -> None:
    d = FileDisk(tmp_path)
    d.write("a", 0, b"abc")
    d.fsync("a")
    d.close()
    again = FileDisk(tmp_path)
    assert again.read("a") == b"abc"
    again.close()

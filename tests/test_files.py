"""Atomic files: one durable writer, one temporary-name pattern, one clean-up."""

from __future__ import annotations

import pytest

from experiments.files import (
    TEMPORARY,
    atomic_save_figure,
    atomic_write,
    atomic_write_csv,
    atomic_write_text,
    remove_stale_temporaries,
    temporary_name,
)
from experiments.reports.figures import subplots


def test_every_writer_uses_one_temporary_pattern_that_the_clean_up_removes(tmp_path):
    seen = []

    def killed(tmp):
        seen.append(tmp)
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt  # the write dies half way: the temporary file is removed

    for name in ("runs.csv", "fan_referrals_month.png", "manifest.json", "report.html"):
        with pytest.raises(KeyboardInterrupt):
            atomic_write(tmp_path / name, killed)
    assert [p.name.startswith(".") and TEMPORARY.match(p.name) is not None for p in seen] == [True] * 4
    assert list(tmp_path.iterdir()) == []
    # A temporary left by a killed process (no chance to clean up) is removed on the next start.
    for name in ("runs.csv", "fan_referrals_month.png"):
        temporary_name(tmp_path / name).write_bytes(b"left over")
    (tmp_path / "keep.png").write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_writers_put_the_whole_file_in_place(tmp_path):
    import pandas as pd

    atomic_write_text(tmp_path / "sub" / "a.txt", "é\nb\n")
    assert (tmp_path / "sub" / "a.txt").read_bytes() == "é\nb\n".encode()
    frame = pd.DataFrame({"x": [1.5, 2.0]})
    atomic_write_csv(frame, tmp_path / "t.csv", index=False, float_format="%.6g")
    assert (tmp_path / "t.csv").read_text() == frame.to_csv(index=False, float_format="%.6g")
    fig, ax = subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    atomic_save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "sub", "t.csv"]

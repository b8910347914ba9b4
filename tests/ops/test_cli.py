"""The command line refuses bad options before it starts anything."""

from __future__ import annotations

import pytest

from ops.cli import main


def test_process_refuses_a_quality_with_format_auto(tmp_path, capsys) -> None:
    code = main(["process", str(tmp_path / "x.csv"), "--format", "auto", "--quality", "50"])
    assert code == 2 and "drop --quality" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option", [["--format", "gif"], ["--quality", "0"], ["--accept", "bmp"], ["--max-width", "0"]]
)
def test_process_refuses_bad_options(tmp_path, option: list[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["process", str(tmp_path / "x.csv"), *option])
    assert refused.value.code == 2

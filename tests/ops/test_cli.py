"""The command line refuses bad options before it starts anything, in the API's words."""

from __future__ import annotations

import pytest

from ops.cli import main


@pytest.mark.parametrize(
    ("option", "refusal"),
    [
        (["--format", "auto", "--quality", "50"], "send quality=auto or leave quality out"),
        (["--format", "gif"], "format must be one of original, auto, jpeg, webp, avif, png"),
        (["--quality", "0"], "quality must be from 1 to 100, not 0"),
        (["--accept", "bmp"], "accept must be a comma-separated list of formats"),
        (["--max-width", "0"], "max_width must be from 1 to 20000, not 0"),
    ],
)
def test_process_refuses_bad_options_as_the_api_does(
    tmp_path, capsys, option: list[str], refusal: str
) -> None:
    code = main(["process", str(tmp_path / "x.csv"), *option])
    assert code == 2 and refusal in capsys.readouterr().err

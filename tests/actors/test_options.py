"""JobOptions: parsed once from text fields, stored as JSON, read back as they were."""

from __future__ import annotations

import dataclasses

import pytest

from actors.errors import OptionError
from actors.formats import DEFAULT_ACCEPT, DEFAULT_TARGET
from actors.option_fields import parse_options
from actors.options import JobOptions
from ops.config import from_env

CONFIG = dataclasses.replace(from_env({}), default_quality=60, auto_target=70.0)


def test_blank_fields_take_the_defaults_and_the_configured_quality() -> None:
    # Given a form (or a command line) that sets no option
    options = parse_options({"format": " ", "quality": ""}, CONFIG)
    # Then the job keeps the original format at the configured quality, and stores only that
    assert options == JobOptions("original", 60)
    assert options.to_json() == {
        "format": "original",
        "quality": 60,
        "max_width": None,
        "max_height": None,
    }


def test_auto_options_store_the_accepted_formats_and_the_configured_target() -> None:
    # Given format=auto with a loosely written accept list
    options = parse_options({"format": "Auto", "accept": "jpeg, WEBP,"}, CONFIG)
    # Then quality is auto too, the formats are in a fixed order, and the target is stored
    assert options.to_json() == {
        "format": "auto",
        "quality": "auto",
        "max_width": None,
        "max_height": None,
        "accept": ["webp", "jpeg"],
        "target": 70.0,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"format": "webp", "quality": "70", "max_width": "800", "accept": "avif"},
        {"format": "auto", "accept": "png,avif", "max_height": "20000"},
        {"format": "jpeg", "quality": "auto"},
    ],
)
def test_parsed_options_read_back_from_json_unchanged(fields: dict[str, str]) -> None:
    # Given options parsed from text fields
    options = parse_options(fields, CONFIG)
    # When they are stored and read back, as the job's row and its image messages carry them
    again = JobOptions.from_json(options.to_json())
    # Then they are the same options
    assert again == options


def test_an_accept_list_without_format_auto_is_checked_but_has_no_effect() -> None:
    options = parse_options({"format": "png", "accept": "webp"}, CONFIG)
    assert options.accept == DEFAULT_ACCEPT and options.target == DEFAULT_TARGET
    with pytest.raises(OptionError, match="found 'gif'"):
        parse_options({"format": "png", "accept": "gif"}, CONFIG)


def test_a_refusal_is_an_option_error_and_a_value_error() -> None:
    with pytest.raises(OptionError) as refused:
        parse_options({"max_height": "0"}, CONFIG)
    assert str(refused.value) == "max_height must be from 1 to 20000, not 0"
    assert isinstance(refused.value, ValueError)

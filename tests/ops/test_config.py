"""Configuration is read once from the environment and refuses values it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.config import ConfigError, from_env, redacted


def test_defaults_follow_the_contract() -> None:
    config = from_env({})
    assert config.data_dir == Path("./var").resolve()
    assert config.database_url == f"sqlite:///{config.data_dir / 'imgpress.sqlite3'}"
    assert config.redis_url is None and config.webhook_secret is None
    assert config.public_base_url == "http://127.0.0.1:8000"
    assert config.webhook_retry_delays == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert (config.default_quality, config.fetch_retries, config.fetch_timeout) == (50, 3, 20)
    assert (config.max_csv_bytes, config.max_rows, config.max_images) == (20971520, 100000, 100000)
    assert (config.max_image_bytes, config.max_pixels) == (26214400, 50000000)
    assert not config.allow_private_urls and config.subscribers == ()


def test_values_are_read_from_the_environment() -> None:
    config = from_env(
        {
            "IMGPRESS_PUBLIC_BASE_URL": "https://img.example.com/",
            "IMGPRESS_WEBHOOK_RETRY_DELAYS": "1, 2.5",
            "IMGPRESS_ALLOW_PRIVATE_URLS": "1",
            "IMGPRESS_SUBSCRIBERS": "a.b, c",
        }
    )
    assert config.public_base_url == "https://img.example.com"
    assert config.webhook_retry_delays == (1, 2.5)
    assert config.allow_private_urls and config.subscribers == ("a.b", "c")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMGPRESS_WEBHOOK_SECRET", "secret"),
        ("IMGPRESS_WEBHOOK_SECRET", "whsec_abc"),
        ("IMGPRESS_WEBHOOK_SECRET", "whsec_not base64 at all!!"),
        ("IMGPRESS_DEFAULT_QUALITY", "101"),
        ("IMGPRESS_MAX_ROWS", "many"),
        ("IMGPRESS_WEBHOOK_RETRY_DELAYS", "5,soon"),
        ("IMGPRESS_FETCH_TIMEOUT", "twenty"),
    ],
)
def test_unusable_values_are_refused_at_start_up(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        from_env({name: value})
    assert name in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres://app:pw@db.example/imgpress", "postgres://app:***@db.example/imgpress"),
        ("postgres://app:p@ss/w@db:5432/imgpress", "postgres://app:***@db:5432/imgpress"),
        ("postgres://:pw@db/imgpress", "postgres://:***@db/imgpress"),
        ("postgres://app@db/imgpress", "postgres://app@db/imgpress"),
        ("postgres://db:5432/imgpress", "postgres://db:5432/imgpress"),
        ("sqlite:////srv/data@2026/imgpress.sqlite3", "sqlite:////srv/data@2026/imgpress.sqlite3"),
        ("app:pw@db/imgpress", "app:***@db/imgpress"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown

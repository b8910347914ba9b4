"""Upload field rules that need the default policy (the suite itself allows loopback URLs)."""

from __future__ import annotations

import pytest

from svc.errors import ApiError
from svc.fields import _webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://0x7f.1/hook",
    ],
)
def test_a_webhook_url_on_a_blocked_literal_address_is_refused(url: str) -> None:
    with pytest.raises(ApiError) as refused:
        _webhook_url(url, allow_private=False)
    assert refused.value.status == 400 and "address" in refused.value.description


def test_a_webhook_url_with_a_name_is_checked_at_delivery_not_upload() -> None:
    assert _webhook_url(" https://hooks.example.com/x ", allow_private=False) == (
        "https://hooks.example.com/x"
    )


def test_loopback_is_allowed_when_private_urls_are() -> None:
    assert _webhook_url("http://127.0.0.1:9/hook", allow_private=True) == "http://127.0.0.1:9/hook"

"""STATE_URL accepts every managed-Redis form, and its password never shows in the settings' repr."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret-pw@redis.internal:6379/0",
        "rediss://:s3cret-pw@redis.internal:6380/0?ssl_ca_certs=/etc/ssl/redis-ca.pem",
        "redis+cluster://:s3cret-pw@node-1.internal:7000",
        "rediss+cluster://:s3cret-pw@node-1.internal:7000?ssl_ca_certs=/etc/ssl/redis-ca.pem",
        "redis+sentinel://:s3cret-pw@s1.internal:26379,s2.internal:26379/aldense/0",
    ],
)
def test_managed_redis_urls_are_accepted_and_their_password_is_never_shown(url: str) -> None:
    settings = load_settings("check-key", server__state_url=url)
    assert settings.server.state_url == url
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in repr(settings.server)
    assert "s3cret-pw" not in str(settings.server)


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(SettingsError, match="STATE_URL"):
        load_settings("check-key", server__state_url="memcached://cache:11211")

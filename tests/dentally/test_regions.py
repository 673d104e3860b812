"""Region hosts, labels, the override URL and the detect order."""

from __future__ import annotations

import pytest

from dentally.regions import DEFAULT_DETECT_ORDER, REGIONS, Endpoints, parse_region, region_label


@pytest.mark.parametrize(
    ("region", "host", "label"),
    [
        ("uk", "https://api.dentally.co", "UK & Ireland"),
        ("au", "https://api.apac.dentally.com", "Australia & New Zealand"),
        ("ca", "https://api.ca.dentally.com", "Canada"),
        ("sandbox", "https://api.sandbox.dentally.co", "Dentally sandbox"),
    ],
)
def test_each_region_uses_its_production_host_without_an_override(region: str, host: str, label: str) -> None:
    region_id = parse_region(region)
    assert Endpoints().base_url(region_id) == host
    assert region_label(region_id) == label
    assert REGIONS[region_id].id == region_id


def test_detect_never_tries_the_sandbox_by_default() -> None:
    assert Endpoints().detect_order == ("uk", "au", "ca")
    assert "sandbox" not in DEFAULT_DETECT_ORDER


def test_a_plain_override_replaces_every_region_host() -> None:
    endpoints = Endpoints("http://127.0.0.1:9000/dentally/")
    assert {endpoints.base_url(r) for r in REGIONS} == {"http://127.0.0.1:9000/dentally"}
    assert endpoints.overridden


def test_a_region_template_gets_the_region_id_written_in() -> None:
    endpoints = Endpoints("http://127.0.0.1:9000/{region}")
    assert endpoints.base_url("au") == "http://127.0.0.1:9000/au"
    assert endpoints.base_url("uk") == "http://127.0.0.1:9000/uk"


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_override_means_the_real_hosts(blank: str | None) -> None:
    endpoints = Endpoints(blank)
    assert not endpoints.overridden
    assert endpoints.base_url("ca") == "https://api.ca.dentally.com"


@pytest.mark.parametrize(
    "bad",
    ["ftp://example.test", "api.dentally.co", "http://127.0.0.1:9000/{regoin}", "http://127.0.0.1:9000/v1"],
)
def test_an_unusable_override_fails_at_start_up(bad: str) -> None:
    with pytest.raises(ValueError, match="override"):
        Endpoints(bad)


def test_the_detect_order_can_include_the_sandbox_when_configured() -> None:
    assert Endpoints(detect_order=["sandbox", "uk"]).detect_order == ("sandbox", "uk")


@pytest.mark.parametrize("order", [[], ["uk", "uk"], ["uk", "mars"]])
def test_a_bad_detect_order_fails_at_start_up(order: list[str]) -> None:
    with pytest.raises(ValueError, match="region"):
        Endpoints(detect_order=order)  # type: ignore[arg-type]


def test_parse_region_is_forgiving_about_case_and_space_only() -> None:
    assert parse_region(" AU ") == "au"
    with pytest.raises(ValueError, match="unknown Dentally region"):
        parse_region("eu")

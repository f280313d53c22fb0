"""Where the client finds its instance and credentials."""

from __future__ import annotations

import pytest

from ziwo_reports.connectors.ziwo import ZiwoSettings, instance_url


def test_instance_name_becomes_its_api_url():
    assert instance_url("acme") == "https://acme-api.aswat.co"
    assert instance_url(" Acme-Dubai ") == "https://acme-dubai-api.aswat.co"
    with pytest.raises(ValueError, match=r"instance 'acme.example.com' is not a Ziwo instance name"):
        instance_url("acme.example.com")


def test_environment_supplies_what_options_do_not():
    env = {
        "ZIWO_INSTANCE": "acme",
        "ZIWO_USERNAME": "sup@acme.ae",
        "ZIWO_PASSWORD": "pw-from-env",
        "ZIWO_PAGE_SIZE": "250",
    }
    settings = ZiwoSettings.from_sources({"username": "other@acme.ae"}, env)
    assert settings.base_url == "https://acme-api.aswat.co"
    assert settings.username == "other@acme.ae" and settings.password == "pw-from-env"
    assert settings.page_size == 250
    assert "pw-from-env" not in repr(settings)


def test_base_url_wins_over_instance_and_options_win_over_environment():
    env = {"ZIWO_BASE_URL": "http://127.0.0.1:9/", "ZIWO_ACCESS_TOKEN": "tok-123456"}
    assert ZiwoSettings.from_sources({}, env).base_url == "http://127.0.0.1:9"
    assert ZiwoSettings.from_sources({"instance": "acme"}, env).base_url == "https://acme-api.aswat.co"
    assert ZiwoSettings.from_sources({"base_url": "http://127.0.0.1:8/"}, env).base_url == "http://127.0.0.1:8"


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({}, {}, "no Ziwo instance given: set ZIWO_INSTANCE or ZIWO_BASE_URL"),
        ({"instance": "acme"}, {}, "credentials incomplete: username and password not set"),
        ({"instance": "acme", "username": "u@x"}, {}, "credentials incomplete: password not set"),
        ({"base_url": "ftp://x", "access_token": "t"}, {}, "base_url 'ftp://x' is not an http"),
        (
            {"instance": "acme", "access_token": "t", "page_size": "lots"},
            {},
            "page_size must be a whole number, got 'lots'",
        ),
    ],
)
def test_bad_configuration_names_the_field_and_value(options, env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ZiwoSettings.from_sources(options, env)

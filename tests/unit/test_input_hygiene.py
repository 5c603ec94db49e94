"""What text, URLs and passwords the platform accepts (pure rules)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flashport.api.inputs import Input
from flashport.domain.accounts import check_password_strength, common_passwords
from flashport.domain.errors import InvalidInput
from flashport.domain.text import forbidden_character, is_safe_url


@pytest.mark.parametrize("text", ["a\x00b", "tab\there", "\u202eevil", "x\x7f", "\x85", "\u2066iso"])
def test_control_and_bidi_characters_are_refused_on_one_line(text: str) -> None:
    assert forbidden_character(text) is not None


def test_line_breaks_pass_only_in_multiline_text() -> None:
    assert forbidden_character("one\ntwo\r\n\tthree", multiline=True) is None
    assert forbidden_character("one\x00two", multiline=True) == "\x00"
    assert forbidden_character("李娜 Müller-O'Brien") is None


class Body(Input):
    name: str
    description: str = ""
    ids: list[int] = []


def test_the_shared_input_base_refuses_controls_and_integers_beyond_64_bits() -> None:
    assert Body(name="ok", description="a\nb").description == "a\nb"
    for bad in ({"name": "a\x00"}, {"name": "a", "ids": [2**64]}, {"name": "a", "extra": 1}):
        with pytest.raises(ValidationError):
            Body.model_validate(bad)


@pytest.mark.parametrize("url", ["https://img.example.com/a.jpg", "/static/a.jpg"])
def test_https_and_site_paths_are_safe_urls(url: str) -> None:
    assert is_safe_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://img.example.com/a.jpg",
        "javascript:alert(1)",
        "//evil.example/a",
        "/\\evil",
        "data:x",
        "a.jpg",
        "https://",
        "https://user@evil/x",
        "/a b",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    assert not is_safe_url(url)


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("password", ""),
        ("12345678", ""),
        (" " * 12, ""),
        ("qwertyuiop", ""),
        ("PASSWORD1234", ""),
        ("aaaaaaaaaaaa", ""),
        ("password-1", ""),
        ("Qwertyuiop123!", ""),
        ("li.na@example.com", "li.na@example.com"),
        ("Li.Na.Wei.2026", "li.na.wei.2026@x.cn"),
    ],
)
def test_weak_passwords_are_refused(password: str, email: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_password_strength(password, email)
    assert exc.value.code == "weak_password"


def test_a_long_uncommon_password_passes_and_the_shipped_list_is_loaded() -> None:
    check_password_strength("correct horse battery", "li.na@example.com")
    assert len(common_passwords()) > 10_000 and "password1234" in common_passwords()

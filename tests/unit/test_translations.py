"""The storefront's catalogues are complete: every text that Babel extracts from the templates and the
web package (as `make translations` does) is in each language's catalogue, translated, with the same
placeholders, and the compiled ``.mo`` files say what the ``.po`` files say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from flashport.web import i18n, messages

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src/flashport/web/locale"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "tr": (2,)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")


def _extracted() -> set[str | tuple[str, ...]]:
    with (LOCALE / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        found.add(message)
    return found


@pytest.fixture(scope="module")
def extracted() -> set[str | tuple[str, ...]]:
    return _extracted()


def _po(code: str) -> Catalog:
    with (LOCALE / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_extraction_finds_the_storefront_texts(extracted: set[str | tuple[str, ...]]) -> None:
    assert "Buy now" in extracted and "Awaiting payment" in extracted  # templates
    assert messages.BY_CODE["sold_out"] in extracted  # N_ in Python
    assert "Welcome back, %(name)s." in extracted  # tr(request, ...) in a route
    assert ("%(num)d item", "%(num)d items") in extracted  # ngettext


def test_the_template_file_is_up_to_date(extracted: set[str | tuple[str, ...]]) -> None:
    with (LOCALE / "messages.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert template == extracted, "run `make translations`"


@pytest.mark.parametrize("language", i18n.LANGUAGES, ids=lambda language: language.code)
def test_every_text_is_translated_with_its_placeholders(
    language: i18n.Language, extracted: set[str | tuple[str, ...]]
) -> None:
    catalog = _po(language.code)
    entries = {m.id: m for m in catalog if m.id}
    missing = sorted(map(str, extracted - set(entries)))
    assert not missing, f"missing in {language.code}: {missing[:10]}"
    stale = sorted(map(str, set(entries) - extracted))
    assert not stale, f"no longer used, remove from {language.code}: {stale[:10]}"
    for message in entries.values():
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        assert all(strings) and "fuzzy" not in message.flags, f"untranslated: {message.id!r}"
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        for text in strings:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), message.id


@pytest.mark.parametrize("language", i18n.LANGUAGES, ids=lambda language: language.code)
def test_the_compiled_catalogue_matches_its_source(language: i18n.Language) -> None:
    with (LOCALE / language.code / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        compiled = _texts(read_mo(fh))
    assert compiled == _texts(_po(language.code)), "run `make translations`"


def _texts(catalog: Catalog) -> dict[object, object]:
    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {frozen(m.id): frozen(m.string) for m in catalog if m.id}


def test_chinese_is_what_the_catalogue_gives() -> None:
    assert i18n.gettext_for(i18n.ZH, "Buy now") == "立即抢购"
    assert i18n.gettext_for(i18n.EN, "Buy now") == "Buy now"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("zh-CN,zh;q=0.9,en;q=0.8", i18n.ZH),
        ("en-US,en;q=0.9", i18n.EN),
        ("en-US,zh;q=0.5", i18n.EN),
        ("fr-FR, zh-TW;q=0.8, en;q=0.5", i18n.ZH),
        ("zh;q=0.2, en;q=0.9", i18n.EN),
        ("de, fr", None),
        ("en;q=0, zh-Hans", i18n.ZH),
    ],
)
def test_accept_language_picks_the_preferred_of_our_languages(
    header: str, expected: i18n.Language | None
) -> None:
    assert i18n.from_accept_language(header) is expected


def test_every_buyer_error_code_has_a_sentence_in_both_languages() -> None:
    zh = {m.id: m.string for m in _po("zh_Hans") if m.id}
    for code, text in messages.BY_CODE.items():
        assert zh.get(text), code

"""The shipped catalogues are complete: every language the README lists has every
message translated (no fuzzy, no empty entry), compiled, and in step with the sources
(``makemessages`` would add nothing). New strings therefore land with their
translations, or CI fails.

Needs GNU gettext (``msgfmt``; Debian's ``gettext``), as ``makemessages`` does.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from django.utils import translation
from django.utils.text import capfirst

from sessions_panel.models import SessionRecord

PACKAGE = Path(__file__).resolve().parent.parent / "sessions_panel"
LOCALE = PACKAGE / "locale"
LANGUAGES = [
    "de", "fr", "es", "it", "nl", "pt_BR", "pl", "ru", "uk", "tr", "ja", "zh_Hans", "ar", "he",
]  # fmt: skip


def cannot_run(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def msgfmt() -> str:
    found = shutil.which("msgfmt")
    if found is None:
        cannot_run("GNU gettext is not installed (apt-get install gettext)")
    return found


def catalogue(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def msgids(po: Path) -> set[str]:
    """The message ids of a .po file (singular ids; the header's empty id left out)."""
    ids: set[str] = set()
    current: list[str] | None = None
    for line in po.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            current = [line[6:]]
        elif current is not None and line.startswith('"'):
            current.append(line)
        else:
            if current is not None:
                text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', "".join(current)))
                if text:
                    ids.add(text)
            current = None
    return ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(msgfmt, language):
    po = catalogue(language)
    assert po.exists(), f"no catalogue for {language}"
    run = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert run.returncode == 0, run.stderr
    assert "fuzzy" not in run.stderr and "untranslated" not in run.stderr, run.stderr
    assert re.match(r"\d+ translated messages?\.", run.stderr.strip()), run.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(msgfmt, tmp_path, language):
    po = catalogue(language)
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "-o", str(fresh), str(po)], check=True)
    shipped = po.with_suffix(".mo")
    assert shipped.exists(), f"{language}: run compilemessages"
    with fresh.open("rb") as new, shipped.open("rb") as old:
        assert gettext.GNUTranslations(old)._catalog == gettext.GNUTranslations(new)._catalog  # type: ignore[attr-defined]


def test_makemessages_would_add_no_string(msgfmt, tmp_path):
    """Extract the sources' messages afresh into a copy of the package and compare."""
    if shutil.which("xgettext") is None:
        cannot_run("GNU gettext's xgettext is not installed")
    copy = tmp_path / "sessions_panel"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    django_admin = Path(sys.executable).with_name("django-admin")
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [str(django_admin), "makemessages", "-l", "de", "--no-obsolete", "--no-location"],
        cwd=copy,
        check=True,
        capture_output=True,
        env=environment,
    )
    extracted = msgids(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")
    for language in LANGUAGES:
        missing = extracted - msgids(catalogue(language))
        assert not missing, f"{language} lacks {sorted(missing)[:5]}"


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sidebar_the_title_and_the_breadcrumb_use_the_same_name(
    language, admin_client, settings
):
    """The index and the sidebar show the model's plural name; the page's title and its
    breadcrumb must say the same word, in every language (a "Sessions" message of the
    panel's own lost to django.contrib.sessions' German "Sessions")."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:3],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[3:],
    ]
    tag = translation.to_language(language)  # pt_BR -> pt-br, as browsers send it
    # LocaleMiddleware activates the language for the thread; override() restores the
    # previous one afterwards, so the tests that follow run in English again.
    with translation.override(None):
        html = admin_client.get(
            "/admin/sessions_panel/sessionrecord/", headers={"accept-language": tag}
        ).content.decode()
    with translation.override(language):
        name = capfirst(str(SessionRecord._meta.verbose_name_plural))
    assert name != "Sessions" or language == "fr"  # French says "Sessions" too
    sidebar = re.search(r'<a href="/admin/sessions_panel/sessionrecord/"[^>]*>([^<]+)</a>', html)
    assert sidebar is not None and sidebar.group(1).strip() == name
    assert f"<h1>{name}</h1>" in html
    # Django 6: <li aria-current="page">…</li>; Django 5.2: "&rsaquo; …" in a div.
    crumb = re.escape(name)
    assert re.search(rf'aria-current="page">{crumb}</li>|&rsaquo; {crumb}\s*</div>', html)


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "question"), [("ar", "؟"), ("he", "?")])
def test_right_to_left_pages_are_marked_rtl_and_read_in_their_own_words(
    language, question, admin_client, settings
):
    """Arabic once read "Active 34" and "?Kill all sessions": English words in a
    right-to-left page. Now the page is marked rtl and its phrases are the language's."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:3],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[3:],
    ]
    with translation.override(None):
        html = admin_client.get(
            "/admin/sessions_panel/sessionrecord/", headers={"accept-language": language}
        ).content.decode()
    assert f'<html lang="{language}" dir="rtl">' in html
    title = re.search(r'<h2 id="sp-kill-all-title">([^<]+)</h2>', html)
    assert title is not None and title.group(1).endswith(question)
    assert not re.search(r"[A-Za-z]", title.group(1))
    badge = re.search(r'<span id="sp-badge" class="sp-badge">([^<]+)</span>', html)
    assert badge is not None and "Active" not in badge.group(1)

"""The Sessions page stays readable, and every control recognisable, under an admin theme.

Issue 12: inside django-unfold, Kill and Kill All looked like plain text, the search box
had no border, the selected filter chip was invisible and the Kill dialog was
transparent over the table, because the stylesheet used the stock admin's CSS variables
with no fallbacks and a theme that defines none of them leaves those properties unset.

What "recognisable" means here, measured from the browser's computed colours (the
theme's palette may be ``oklch()`` or ``color-mix()``: a 1×1 canvas turns any CSS
colour into sRGB and composites the layers behind an element as the browser does):

- a button has a boundary: a border, or a background, that stands out from what is
  behind it by at least ``BOUNDARY`` (a contrast ratio; the stock admin's own input
  border is 1.6:1 on white and 1.5:1 in its dark mode);
- button and chip text, and every other visible text of the page and its dialogs,
  reaches WCAG AA: 4.5:1 (3:1 for large text; links keep the theme's colour, see
  ``LINK_TEXT``);
- a button's text is not cut off (grappelli gives every <button> a 25px square);
- the search box and the sort menu have a border; the selected chip stands out from the
  unselected ones;
- a dialog's background is opaque, over a backdrop that dims the page.

The theme under test is the one in ``INSTALLED_APPS`` (``scripts/theme-tests`` picks
the settings); with none, the stock admin. Every test runs with the browser asking for
a light and for a dark colour scheme.
With ``SP_THEME_SCREENSHOTS=<dir>`` each run also saves ``<theme>[-dark].png`` (the
page) and ``<theme>[-dark]-dialog.png`` (the Kill dialog).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, KILL_ROW, PANEL_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The app that marks a theme in INSTALLED_APPS, and the theme's name in reports/files.
THEME_APPS = {
    "unfold": "unfold",
    "jazzmin": "jazzmin",
    "grappelli": "grappelli",
    "admin_interface": "admin-interface",
}
#: The least contrast ratio that makes a boundary (border or fill) visible.
BOUNDARY = 1.3
#: WCAG 2 AA text contrast: normal text, and large text (24px, or 18.66px bold).
TEXT, LARGE_TEXT = 4.5, 3.0
#: Links (usernames) keep the theme's link colour, so they look like every other link of
#: that admin, even where the theme's own is below AA (grappelli's #309bbf is 3.2:1 on
#: its white); the backgrounds the panel puts under them must not make it worse than this.
LINK_TEXT = 3.0

Rgb = tuple[int, int, int]

# Measures one element. Colours are painted on a 1×1 canvas: its fillStyle parses any
# CSS colour the browser knows, and painting the backgrounds from the outermost ancestor
# inwards composites translucent layers exactly as the page does. An element in an open
# modal dialog is painted over the page behind it and the dialog's ::backdrop.
MEASURE = """
(el) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const paint = (layers) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "#ffffff";  // the browser's canvas behind an unpainted page
    ctx.fillRect(0, 0, 1, 1);
    for (const layer of layers) {
      ctx.fillStyle = "rgba(0, 0, 0, 0)";
      ctx.fillStyle = layer;
      ctx.fillRect(0, 0, 1, 1);
    }
    return Array.from(ctx.getImageData(0, 0, 1, 1).data.slice(0, 3));
  };
  const alpha = (colour) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "rgba(0, 0, 0, 0)";
    ctx.fillStyle = colour;
    ctx.fillRect(0, 0, 1, 1);
    return ctx.getImageData(0, 0, 1, 1).data[3] / 255;
  };
  const layers = (node) => {
    const stack = [];
    while (node && node.nodeType === 1) {
      stack.unshift(getComputedStyle(node).backgroundColor);
      if (node.tagName === "DIALOG" && node.matches(":modal")) {
        const backdrop = getComputedStyle(node, "::backdrop").backgroundColor;
        return [...layers(document.body), backdrop, ...stack];
      }
      node = node.parentElement;
    }
    return stack;
  };
  const style = getComputedStyle(el);
  const behind = layers(el.parentElement);
  const own = layers(el);
  const sides = ["Top", "Right", "Bottom", "Left"].map((side) => ({
    width: parseFloat(style["border" + side + "Width"]) || 0,
    style: style["border" + side + "Style"],
    colour: style["border" + side + "Color"],
  })).filter((s) => s.style !== "none" && s.style !== "hidden" && s.width > 0);
  const border = sides.length ? sides[0] : null;
  return {
    label: (el.getAttribute("aria-label") || el.innerText || el.value || el.id || el.className)
      .trim().replace(/\\s+/g, " ").slice(0, 50),
    fg: paint([...own, style.color]),
    bg: paint(own),
    behind: paint(behind),
    bgAlpha: alpha(style.backgroundColor),
    border: border && { width: border.width, colour: paint([...behind, border.colour]) },
    fontSize: parseFloat(style.fontSize),
    fontWeight: parseInt(style.fontWeight, 10) || 400,
    link: !!el.closest("a[href]:not(.sp-button)"),
    clipped: el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1,
  };
}
"""

# The elements of ``root`` that show text to a sighted reader: a non-blank text node of
# their own, a box, visible; not the IP addresses (blurred on purpose until revealed),
# not visually hidden text for screen readers, not in a closed dialog.
TEXT_ELEMENTS = """
(root) => {
  const found = new Set();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || found.has(el)) continue;
    if (el.closest(".sp-visually-hidden, .sp-ip-value, [hidden], select, script, style")) continue;
    const dialog = el.closest("dialog");
    if (dialog && !dialog.open && dialog !== root) continue;
    if (!dialog && root.tagName !== "DIALOG" && document.querySelector("dialog:modal")) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility !== "visible") continue;
    found.add(el);
  }
  return Array.from(found);
}
"""


@dataclass(frozen=True)
class Look:
    """What one element looks like, in composited sRGB."""

    label: str
    fg: Rgb
    bg: Rgb
    behind: Rgb
    bg_alpha: float
    border: tuple[float, Rgb] | None
    large: bool
    link: bool
    clipped: bool

    @classmethod
    def of(cls, locator: Any) -> Look:
        data = locator.evaluate(MEASURE)
        border = data["border"]
        return cls(
            label=data["label"],
            fg=tuple(data["fg"]),
            bg=tuple(data["bg"]),
            behind=tuple(data["behind"]),
            bg_alpha=float(data["bgAlpha"]),
            border=(border["width"], tuple(border["colour"])) if border else None,
            large=data["fontSize"] >= 24
            or (data["fontSize"] >= 18.66 and data["fontWeight"] >= 700),
            link=bool(data["link"]),
            clipped=bool(data["clipped"]),
        )


def luminance(rgb: Rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Rgb, b: Rgb) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def hexed(rgb: Rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


class Findings:
    """Every problem of one page, reported together: one run shows all of a theme's
    gaps instead of the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def text(self, what: str, look: Look) -> None:
        ratio = contrast(look.fg, look.bg)
        need = LINK_TEXT if look.link else LARGE_TEXT if look.large else TEXT
        if ratio < need:
            self.problems.append(
                f"{what} {look.label!r}: text {hexed(look.fg)} on {hexed(look.bg)} is "
                f"{ratio:.2f}:1, needs {need}:1"
            )

    def boundary(self, what: str, look: Look) -> None:
        """A border or a fill that stands out from what is behind the element."""
        fill = contrast(look.bg, look.behind)
        edge = contrast(look.border[1], look.behind) if look.border else 1.0
        if max(fill, edge) < BOUNDARY:
            border = (
                f"border {look.border[0]:g}px {hexed(look.border[1])}"
                if look.border
                else "no border"
            )
            self.problems.append(
                f"{what} {look.label!r} has no visible boundary: background {hexed(look.bg)}, "
                f"{border}, on {hexed(look.behind)} (needs {BOUNDARY}:1)"
            )

    def bordered(self, what: str, look: Look) -> None:
        """A field: a border of its own that stands out from what is behind it."""
        if look.border is None:
            self.problems.append(f"{what} {look.label!r} has no border")
        elif (
            contrast(look.border[1], look.behind) < BOUNDARY
            and contrast(look.bg, look.behind) < BOUNDARY
        ):
            self.problems.append(
                f"{what} {look.label!r}: border {hexed(look.border[1])} and background "
                f"{hexed(look.bg)} vanish on {hexed(look.behind)}"
            )

    def control(self, what: str, locator: Any, *, text: bool = True) -> Look:
        """A button: bounded, its text readable and whole (not cut off by a size a
        theme gives every button)."""
        look = Look.of(locator)
        self.boundary(what, look)
        if text:
            self.text(what, look)
        if look.clipped:
            self.problems.append(f"{what} {look.label!r} is cut off: its content overflows it")
        return look

    def all_text(self, root: Any) -> None:
        elements = root.evaluate_handle(TEXT_ELEMENTS)
        try:
            for handle in elements.get_properties().values():
                element = handle.as_element()
                if element is not None:
                    self.text("text", Look.of(element))
        finally:
            elements.dispose()

    def assert_none(self, where: str) -> None:
        if self.problems:
            pytest.fail(f"{where}:\n  " + "\n  ".join(self.problems), pytrace=False)


def theme_name() -> str:
    """The theme in INSTALLED_APPS, or ``stock``."""
    for app, name in THEME_APPS.items():
        if app in settings.INSTALLED_APPS:
            return name
    return "stock"


@pytest.fixture(params=["light", "dark"])
def scheme(request: pytest.FixtureRequest) -> str:
    """The browser's preferred colour scheme: the stock admin and the themes that
    follow it switch palettes; the others must stay readable whatever the browser says."""
    return str(request.param)


@pytest.fixture
def shot(scheme: str) -> Callable[[Any, str, bool], None]:
    """Saves a screenshot when ``SP_THEME_SCREENSHOTS`` names a folder."""
    folder = os.environ.get("SP_THEME_SCREENSHOTS")
    stem = theme_name() + ("-dark" if scheme == "dark" else "")

    def save(page: Any, suffix: str, full_page: bool) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{stem}{suffix}.png"), full_page=full_page)

    return save


@pytest.fixture
def panel(
    new_page: Any, admin_user: Any, django_user_model: Any, make_session: Any, scheme: str
) -> Iterator[Any]:
    """The Sessions page, reached by logging in through the theme's own login form, with
    two signed-in users, a guest and the admin's own session listed."""
    for name, app in (("alice", "Shop"), ("bob", "Blog")):
        user = django_user_model.objects.create_user(name, email=f"{name}@example.com")
        make_session(user=user, application=app)
    make_session(user=None, application="Shop", ip="198.51.100.23")
    page, _ = new_page({**DESKTOP, "color_scheme": scheme})
    page.goto(PANEL_URL)
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.fill("input[name=username]", admin_user.get_username())
    page.fill("input[name=password]", "password")  # pytest-django's admin_user
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(re.compile(re.escape(PANEL_URL) + "$"))
    expect(page.locator("#sp-results tr[data-handle]")).to_have_count(4)
    # The script has run: the dialog openers are the buttons they become, not the links
    # they were a moment before (measured mid-swap under load, a button read white on white).
    # (Locator waits, not wait_for_function: a strict CSP forbids its eval.)
    expect(page.locator("html.sp-js")).to_have_count(1)
    expect(page.locator("a[data-sp-open]")).to_have_count(0)
    page.mouse.move(0, 0)  # no hover state on what is measured
    yield page


def test_page_controls_have_boundaries_and_readable_text(
    panel: Any, scheme: str, shot: Callable[[Any, str, bool], None]
) -> None:
    page, found = panel, Findings()
    found.control("Kill All button", page.locator("[data-sp-open=sp-kill-all-dialog]"))
    found.control("Kill button", page.get_by_role("button", name=re.compile(r"of alice$")))
    found.control("Search button", page.locator("#sp-search-form button[type=submit]"))
    found.control("Reveal IPs button", page.locator("#sp-reveal-all"))
    # The address is blurred until revealed: its badge must be there, its text not read.
    found.control("IP badge", page.locator("button.sp-ip").first, text=False)
    found.bordered("search box", Look.of(page.locator("#sp-q")))
    found.bordered("sort menu", Look.of(page.locator(".sp-sort select")))
    chips = page.locator(".sp-chips").first
    selected = found.control("selected chip", chips.locator("input:checked + span"))
    for other in chips.locator("input:not(:checked) + span").all():
        look = Look.of(other)
        found.text("chip", look)
        if contrast(selected.bg, look.bg) < BOUNDARY:
            found.problems.append(
                f"selected chip {selected.label!r} ({hexed(selected.bg)}) looks like the "
                f"unselected {look.label!r} ({hexed(look.bg)})"
            )
    found.all_text(page.locator("#sp-page"))
    shot(page, "", True)
    found.assert_none(f"{theme_name()} ({scheme}), the Sessions page")


def check_dialog(found: Findings, dialog: Any) -> None:
    """Opaque, over a backdrop, every button bounded and every text readable."""
    look = Look.of(dialog)
    if look.bg_alpha < 1:
        found.problems.append(f"dialog background is translucent (alpha {look.bg_alpha:.2f})")
    backdrop = dialog.evaluate(
        "(d) => { const c = document.createElement('canvas').getContext('2d');"
        " c.fillStyle = 'rgba(0,0,0,0)'; c.fillStyle = getComputedStyle(d, '::backdrop')"
        ".backgroundColor; c.fillRect(0, 0, 1, 1); return c.getImageData(0, 0, 1, 1).data[3]; }"
    )
    if not backdrop:
        found.problems.append("dialog has no backdrop: the page behind is not dimmed")
    for button in dialog.locator(".sp-dialog-actions .sp-button:visible").all():
        found.control("dialog button", button)
    for field in dialog.locator("input:visible").all():
        found.bordered("dialog field", Look.of(field))
    found.all_text(dialog)


def test_kill_dialog_is_opaque_with_bounded_buttons(
    panel: Any, scheme: str, shot: Callable[[Any, str, bool], None]
) -> None:
    page, found = panel, Findings()
    page.get_by_role("button", name=KILL_ROW).and_(
        page.get_by_role("button", name=re.compile(r"of alice$"))
    ).click()
    dialog = page.locator("#sp-kill-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Kill session", exact=True)).to_be_visible()
    page.mouse.move(0, 0)
    check_dialog(found, dialog)
    shot(page, "-dialog", False)
    found.assert_none(f"{theme_name()} ({scheme}), the Kill dialog")


def test_kill_all_dialog_is_opaque_with_bounded_buttons(panel: Any, scheme: str) -> None:
    page, found = panel, Findings()
    page.locator("[data-sp-open=sp-kill-all-dialog]").click()
    dialog = page.locator("#sp-kill-all-dialog")
    expect(dialog).to_be_visible()
    page.mouse.move(0, 0)
    check_dialog(found, dialog)
    found.assert_none(f"{theme_name()} ({scheme}), the Kill All dialog")


def test_user_scope_kill_button_and_dialog(panel: Any, scheme: str, django_user_model: Any) -> None:
    """One user's sessions: the outlined "Kill all sessions of alice" and its dialog."""
    page, found = panel, Findings()
    alice = django_user_model.objects.get(username="alice")
    page.goto(f"{PANEL_URL}?user={alice.pk}")
    opener = page.locator("#sp-kill-user-open")
    expect(opener).to_be_visible()
    page.mouse.move(0, 0)
    found.control("Kill user button", opener)
    opener.click()
    dialog = page.locator("#sp-kill-user-dialog")
    expect(dialog).to_be_visible()
    page.mouse.move(0, 0)
    check_dialog(found, dialog)
    found.assert_none(f"{theme_name()} ({scheme}), one user's sessions")

"""The Content-Security-Policy a theme's own pages can live with.

The demo host runs a strict policy on Django 6 (no inline script or style), which the
panel itself satisfies. Most themes do not: unfold puts its colour palette in an inline
``<style>`` and runs Alpine.js (which evaluates strings); jazzmin and grappelli have
inline ``<script>`` blocks; grappelli's jQuery UI and admin-interface write inline
styles. Blocking those would test a broken theme, not the panel, so each theme's
settings loosen only the directives that theme needs, and every other violation still
fails the test (``tests/browser/conftest.py`` reports them as console errors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def loosened(
    policy: Mapping[str, object],
    *,
    inline_style: bool = False,
    inline_script: bool = False,
    eval_script: bool = False,
) -> dict[str, object]:
    """A copy of ``policy`` with what a theme needs added.

    ``'unsafe-inline'`` is ignored by browsers whenever a nonce is in the same
    directive, so an inline-script theme also drops the nonce from ``script-src``
    (the panel's own scripts are files from ``'self'`` and still load).
    """
    from django.utils.csp import CSP

    def sources(name: str) -> list[str]:
        value = policy.get(name, [CSP.SELF])
        assert isinstance(value, Iterable) and not isinstance(value, str), value
        return [str(source) for source in value]

    result: dict[str, object] = dict(policy)
    if inline_style:
        result["style-src"] = [*sources("style-src"), CSP.UNSAFE_INLINE]
    scripts = sources("script-src")
    if inline_script:
        scripts = [*(s for s in scripts if s != CSP.NONCE), CSP.UNSAFE_INLINE]
    if eval_script:
        scripts.append(CSP.UNSAFE_EVAL)
    result["script-src"] = scripts
    return result

"""Whether the live refresh has anything new: an entity tag for the results fragment.

The list refreshes every few seconds, and most refreshes find nothing changed; sending
the same rows again (~2 KB a row) is what a refresh cost. The poller sends the tag of
what it shows (``If-None-Match``); an unchanged list answers ``304`` with no body.

The tag is a hash of the fragment as rendered, so it is right by construction: whatever
the page shows (a row, a relative time, a count, a permission's button, the language)
changes it. Two parts change on every response without changing what is shown, and are
left out of the hash: the masked CSRF tokens (a fresh mask of the same secret each time;
the secret itself goes into the hash, so a rotated token is never kept) and the
"Updated at" time, which a 304 carries in a header instead (:data:`UPDATED_HEADER`).

The page is ``no-store`` (``never_cache``), so the browser keeps no copy to revalidate:
the validator is the client's own (``sessions_panel.js`` stores the tag of the last
answer and sends it), and the 304 is a plain "keep what you have" to it.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags

#: A 304's "Updated at …" sentence, percent-encoded (a header is Latin-1 at best).
UPDATED_HEADER = "SP-Updated"
#: The per-response parts of the fragment: a masked token and the time of the answer.
_VOLATILE = re.compile(
    rb'(name="csrfmiddlewaretoken" value=")[^"]*(")'
    rb'|(<p class="sp-updated">).*?(</p>)',
    re.DOTALL,
)
_UPDATED = re.compile(rb'<p class="sp-updated">(.*?)</p>', re.DOTALL)
_TAGS = re.compile(rb"<[^>]*>")


def etag(request: HttpRequest, content: bytes) -> str:
    """The strong tag of ``content`` as the requester would see it, less its volatile parts."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(_VOLATILE.sub(rb"\1\2\3\4", content))
    # The CSRF secret behind the masked tokens: kept tokens must still be this admin's.
    digest.update(b"\0" + str(request.META.get("CSRF_COOKIE", "")).encode())
    return f'"{digest.hexdigest()}"'


def updated_text(content: bytes) -> str:
    """The footer's "Updated at …" text of ``content``, markup removed."""
    found = _UPDATED.search(content)
    if found is None:
        return ""
    return b" ".join(_TAGS.sub(b"", found.group(1)).split()).decode()


def conditional(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """``response`` with its tag, or a bodiless ``304`` if the requester has it already.

    Only a ``200`` is tagged: an error or a redirect is never "unchanged".
    """
    if response.status_code != 200 or response.streaming:
        return response
    tag = etag(request, response.content)
    response["ETag"] = tag
    # Compared weakly (RFC 9110 for If-None-Match): GZipMiddleware marks the tag it
    # passes on weak ("W/..."), and the client sends back what it was given.
    sent = {
        held.removeprefix("W/") for held in parse_etags(request.headers.get("If-None-Match", ""))
    }
    if tag not in sent:
        return response
    unchanged = HttpResponseNotModified()
    unchanged["ETag"] = tag
    unchanged[UPDATED_HEADER] = quote(updated_text(response.content))
    if "HX-Replace-Url" in response:
        unchanged["HX-Replace-Url"] = response["HX-Replace-Url"]
    # The admin's never_cache wraps this answer too: still never stored by anyone.
    patch_vary_headers(unchanged, ("HX-Request",))
    return unchanged

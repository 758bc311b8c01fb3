"""What every request leaves behind, and what every load checks.

The client (address, user agent, application) of a request, the index writer that
keeps :class:`~sessions_panel.models.SessionRecord` exact (:mod:`.index`: created, last
seen, ended), the revocation markers every load consults (:mod:`.revocation`), the
session policies those loads apply (:mod:`.policies`), and the database's clock they
all share (:mod:`.clock`). Nothing here lists, searches or kills.
"""

"""“Your sessions”: every signed-in user's own page of their live sessions, outside the admin.

The host includes ``sessions_panel.urls`` where it likes (``account/sessions/``, say).
The page lists the user's own live sessions (browser and system, IP address, the
application last used, when signed in and last seen, "this device" marked) and ends
one of them, or every one but this device's, through
:mod:`sessions_panel.termination` with the user as the audit trail's actor.

One concern per module:

- :mod:`.rows`: which sessions are the user's, and what the page shows of each;
- :mod:`.confirmation`: the password a kill asks for when
  :func:`sessions_panel.termination.reauth.needs_password` says so;
- :mod:`.views`: the page and its two actions (plain forms, POST, redirect, messages).

A user can never see or end another user's session: every handle is looked up among
the user's own, and a handle that is not theirs gets the very answer of one that has
already ended.
"""

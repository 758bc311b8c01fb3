"""The Sessions page in the admin: the list view (:mod:`.changelist`), the kill
actions (:mod:`.actions` shared, :mod:`.kill_one`, :mod:`.kill_many`), the rows'
markup (:mod:`.row_markup`), the live refresh's validator (:mod:`.freshness`) and the
health banner (:mod:`.health`). Mounted by :mod:`sessions_panel.sites`; it ends
sessions only through :mod:`sessions_panel.termination` and never touches a store.
"""

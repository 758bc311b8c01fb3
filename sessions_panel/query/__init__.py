"""Finding the rows a viewer sees: the list's state and filters (:mod:`.state`,
:mod:`.listing`), the search (:mod:`.search`, :mod:`.usermatch`, :mod:`.usertext`,
:mod:`.trigram`), keyset pages (:mod:`.cursor`), the flags (:mod:`.flags`) and what a
reader may see of addresses and users (:mod:`.privacy`). Reads only: nothing here kills.
"""

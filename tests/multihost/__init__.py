"""Several app servers on one PostgreSQL database and one Redis, each on its own clock.

The other tests run the panel in one process, where every clock reading agrees; a
deployment runs several processes on several machines whose clocks drift apart. These
tests start three gunicorn servers whose clocks libfaketime shifts (ahead, behind,
exact) and check that kills hold on every host: see ``test_multihost.py``.
"""

"""The peer benchmark: ours next to django-qsessions and django-user-sessions.

See ``bench/peers/run.py``; the peers run in their own virtualenv (``.venv-peers``).
"""

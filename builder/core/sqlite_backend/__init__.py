"""Django's SQLite backend, with every database file it opens private (see ``base.py``)."""

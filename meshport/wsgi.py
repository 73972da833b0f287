import logging
import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshport.settings")
application = get_wsgi_application()

from meshport.db import WalCheckpointer  # noqa: E402 (needs the apps loaded)
from meshport.heap import freeze_loaded  # noqa: E402


def _warm_search() -> None:
    """Read the search index's columns ahead of the first search (~1 s at 100k documents)."""
    from catalog.search import backend

    try:
        backend().warm()
    except Exception:  # a missing or broken index is the first search's to report
        logging.getLogger(__name__).warning("search index not warmed", exc_info=True)


threading.Thread(target=_warm_search, name="search-warm", daemon=True).start()

# SQLite's WAL is copied back into the database by a thread, not by the commits.
WalCheckpointer.start_for_sqlite()

# Everything loaded so far lives as long as the process: out of the collector's way.
freeze_loaded()

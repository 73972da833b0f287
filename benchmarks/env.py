"""Django for a benchmark script: settings, and the data dir it keeps between runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def setup_django(data_dir: str, *, fresh: bool = False) -> None:
    """Point Meshport at ``data_dir`` (emptied first with ``fresh``, unless the database
    is ``DATABASE_URL``'s: the script flushes that itself) and set Django up."""
    os.environ.setdefault("MESHPORT_DEBUG", "1")
    os.environ["MESHPORT_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshport.settings")
    if fresh and Path(data_dir).exists() and "DATABASE_URL" not in os.environ:
        shutil.rmtree(data_dir)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()

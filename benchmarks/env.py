"""Django for a benchmark script: settings, and the data dir it keeps between runs."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def store_dir(keep: Path | None, *, prefix: str, work_dir: str | None = None) -> Iterator[Path]:
    """The benchmark's store: ``keep`` (made if missing, kept for the next run) or a
    temporary folder removed afterwards."""
    if keep:
        path = keep.resolve()
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

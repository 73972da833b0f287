"""Loaded by pytest before Django (``-p meshport.pytest_plugin``): tests default to debug
settings, so that no secret key needs to be configured to run them."""

import os

os.environ.setdefault("MESHPORT_DEBUG", "1")
# The search index lives in RAM unless a test asks for one on disk.
os.environ.setdefault("MESHPORT_SEARCH_BACKEND", "catalog.search.whoosh_backend.MemoryBackend")

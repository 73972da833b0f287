"""Loaded by pytest before Django (``-p meshport.pytest_plugin``): tests default to debug
settings, so that no secret key needs to be configured to run them."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("MESHPORT_DEBUG", "1")
# The search index lives in RAM unless a test asks for one on disk.
os.environ.setdefault("MESHPORT_SEARCH_BACKEND", "catalog.search.whoosh_backend.MemoryBackend")

# whoosh's in-RAM index spills merges to "<tmp>/MAIN.tmp", one fixed path per machine: a
# second test run on the same machine would delete it under the first. Each run gets its
# own temporary directory.
_tmp = tempfile.mkdtemp(prefix="meshport-tests-")
tempfile.tempdir = _tmp
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)

"""Loaded by pytest before Django (``-p meshport.pytest_plugin``): tests default to debug
settings, so that no secret key needs to be configured to run them."""

import os

os.environ.setdefault("MESHPORT_DEBUG", "1")

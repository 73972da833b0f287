"""Data product and data contract descriptors: loading, validation, normalization.

Pure (no database): :func:`parse_bundle` / :func:`parse_path` turn descriptor files into
the dataclasses of :mod:`catalog.descriptors.model`, or raise :class:`DescriptorError`.
The import policy is documented in :mod:`catalog.descriptors.parse`.
"""

from catalog.descriptors.errors import DescriptorError
from catalog.descriptors.loading import load_text
from catalog.descriptors.parse import parse_bundle, parse_path

__all__ = ["DescriptorError", "load_text", "parse_bundle", "parse_path"]

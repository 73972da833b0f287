"""The one exception the descriptor import layer raises."""

from __future__ import annotations

from catalog.descriptors.model import Issue


class DescriptorError(Exception):
    """A descriptor (or bundle of them) that cannot be imported.

    ``issues`` lists every problem found, each naming its file (``source``) and its JSON
    path, so that a user can fix them all in one go.
    """

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(_describe(issue) for issue in issues))


def _describe(issue: Issue) -> str:
    path = "" if issue.path == issue.source else issue.path
    return ": ".join(part for part in (issue.source, path, issue.message) if part)


def fail(path: str, message: str, *, source: str = "") -> DescriptorError:
    """A :class:`DescriptorError` holding one issue, for ``raise fail(...)``."""
    return DescriptorError([Issue(path, message, source)])

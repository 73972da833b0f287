"""``manage.py ingest_events FILE...``: bulk-load OpenLineage events from files.

A file holds one event (a JSON object), an array of events, or one event per line
(JSON lines, as openlineage-python's ``FileTransport`` writes them); ``.gz`` files are
read compressed and ``-`` reads standard input. Events go through the ingestion service
in chunks, exactly as if posted to ``/api/v1/lineage/batch``; an event seen before is
counted as a duplicate and stored once. Lines that are not JSON and events the service
rejects are listed with where they came from (``file:line`` or ``file[index]``) and the
path of each problem. The exit status is 1 when anything was rejected, unless
``--allow-rejects``.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from lineage.services import IngestBusy, lineage_events_ingest
from meshport.heap import loaded_frozen

BUSY_RETRIES = 5


@dataclass
class _Bad:
    """A line or file that is not JSON: rejected before it reaches the service."""

    message: str


@dataclass
class _Totals:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    with_warnings: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def _decode(text: bytes, *, line: bool = False) -> Any:
    """The JSON value of ``text``, or a :class:`_Bad` saying where it breaks."""
    try:
        return json.loads(text)
    except UnicodeDecodeError:
        return _Bad("not UTF-8 text")
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if line else f"line {exc.lineno} column {exc.colno}"
        return _Bad(f"malformed JSON: {exc.msg} ({where})")


def _open(name: str) -> IO[bytes] | gzip.GzipFile:
    if name == "-":
        return sys.stdin.buffer
    if name.endswith(".gz"):
        return gzip.GzipFile(name, "rb")
    return open(name, "rb")  # closed by read_events


def read_events(name: str) -> Iterator[tuple[str, Any]]:
    """``(where, event)`` for each event of a file; ``event`` is a :class:`_Bad` when the
    text could not be decoded.

    The first non-blank line decides the format: ``[`` starts an array; a line that is a
    JSON value on its own starts JSON lines, which are streamed; anything else is read as
    one document (a pretty-printed event) or several one after another. A file that is
    none of these is reported line by line when its other lines are events (JSON lines
    with a broken first line), else once.
    """
    stream = _open(name)
    try:
        yield from _read(name, iter(stream))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _read(name: str, lines: Iterator[bytes]) -> Iterator[tuple[str, Any]]:
    number, head = next(((n, line) for n, line in enumerate(lines, 1) if line.strip()), (0, b""))
    if not head:
        return
    if head.lstrip().startswith(b"["):
        yield from _document(name, _decode(head + b"".join(lines)))
        return
    first = _decode(head.strip(), line=True)
    if not isinstance(first, _Bad):
        yield f"{name}:{number}", first
        yield from _json_lines(name, lines, number + 1)
        return
    rest = b"".join(lines)
    whole = _decode(head + rest)
    if not isinstance(whole, _Bad):
        yield from _document(name, whole)
        return
    documents = _concatenated(name, head + rest, number)
    if documents is not None:
        yield from documents
        return
    others = list(_json_lines(name, iter(rest.splitlines()), number + 1))
    if any(isinstance(event, dict) for _, event in others):
        yield f"{name}:{number}", first
        yield from others
    else:
        yield name, whole


def _concatenated(name: str, text: bytes, first_line: int) -> list[tuple[str, Any]] | None:
    """Pretty-printed events one after another (``FileTransport`` in debug mode), each
    named by the line it starts on; None unless the whole text reads that way."""
    try:
        source = text.decode()
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    found: list[tuple[str, Any]] = []
    pos, line = 0, first_line
    while True:
        start = len(source) - len(source[pos:].lstrip())
        if start == len(source):
            return found
        line += source.count("\n", pos, start)
        try:
            value, pos = decoder.raw_decode(source, start)
        except json.JSONDecodeError:
            return None
        found.append((f"{name}:{line}", value))
        line += source.count("\n", start, pos)


def _json_lines(name: str, lines: Iterator[bytes], start: int) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(lines, start=start):
        if line.strip():
            yield f"{name}:{number}", _decode(line.strip(), line=True)


def _document(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{name}[{index}]", item
    else:
        yield name, value


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class Command(BaseCommand):
    help = "Ingest OpenLineage events from JSON or JSON-lines files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "files",
            nargs="+",
            metavar="FILE",
            help="a .json, .jsonl or .ndjson file (optionally .gz), or -",
        )
        parser.add_argument(
            "--token-name",
            default="cli",
            help="recorded on each stored event as who sent it (default: cli)",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=500, help="events per transaction (default: 500)"
        )
        parser.add_argument(
            "--allow-rejects",
            action="store_true",
            help="exit 0 even when some events were rejected",
        )
        parser.add_argument(
            "--show", type=int, default=50, help="rejected events to list (default: 50)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[str] = options["files"]
        missing = [f for f in files if f != "-" and not Path(f).is_file()]
        if missing:
            raise CommandError(f"no such file: {', '.join(missing)}")
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1")
        totals = _Totals()
        with (
            loaded_frozen(),
            tqdm(
                desc="events",
                unit=" events",
                file=sys.stderr,
                disable=True if options["no_progress"] else None,
            ) as bar,
        ):
            for name in files:
                self._ingest_file(name, options, totals, bar)
        self._report(totals, len(files), options["show"])
        if totals.rejected and not options["allow_rejects"]:
            raise CommandError(
                f"{_plural(len(totals.rejected), 'event')} rejected "
                "(--allow-rejects to exit 0 anyway)"
            )

    def _ingest_file(
        self, name: str, options: dict[str, Any], totals: _Totals, bar: tqdm[Any]
    ) -> None:
        chunk: list[tuple[str, Any]] = []
        for where, event in read_events(name):
            totals.read += 1
            if isinstance(event, _Bad):
                totals.rejected.append((where, event.message))
                bar.update(1)
                continue
            chunk.append((where, event))
            if len(chunk) >= options["chunk_size"]:
                self._ingest_chunk(chunk, options["token_name"], totals)
                bar.update(len(chunk))
                chunk = []
        if chunk:
            self._ingest_chunk(chunk, options["token_name"], totals)
            bar.update(len(chunk))

    def _ingest_chunk(self, chunk: list[tuple[str, Any]], token_name: str, totals: _Totals) -> None:
        payloads = [event for _, event in chunk]
        for attempt in range(BUSY_RETRIES):
            try:
                result = lineage_events_ingest(payloads=payloads, token_name=token_name)
                break
            except IngestBusy as exc:
                if attempt == BUSY_RETRIES - 1:
                    raise CommandError(f"the database stayed busy: {exc}") from exc
                time.sleep(IngestBusy.retry_after * (attempt + 1))
        totals.accepted += result.accepted
        totals.duplicates += result.duplicates
        totals.with_warnings += len(result.warnings)
        for failure in result.failed:
            problems = "; ".join(f"{e['path']}: {e['message']}" for e in failure["errors"])
            totals.rejected.append((chunk[failure["index"]][0], problems))

    def _report(self, totals: _Totals, files: int, show: int) -> None:
        self.stdout.write(
            f"Read {_plural(totals.read, 'event')} from {_plural(files, 'file')}: "
            f"{totals.accepted} accepted, {_plural(totals.duplicates, 'duplicate')}, "
            f"{len(totals.rejected)} rejected."
        )
        if totals.with_warnings:
            self.stdout.write(
                f"{_plural(totals.with_warnings, 'event')} stored with warnings about their facets."
            )
        if totals.rejected:
            self.stdout.write("Rejected:")
            for where, why in totals.rejected[:show]:
                self.stdout.write(f"  {where}: {why}")
            if len(totals.rejected) > show:
                self.stdout.write(f"  ... and {len(totals.rejected) - show} more")

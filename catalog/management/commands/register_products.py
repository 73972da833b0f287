"""``manage.py register_products PATH...``: register data products from descriptor files,
the way a GitOps job syncs a repository of them into the catalog.

Which files make one product (a *bundle*), for each PATH:

1. A file is a bundle on its own.
2. A folder with a product descriptor (ODPS, DPDS or DPS) at its top is one bundle: every
   ``*.yaml``, ``*.yml``, ``*.json``, ``*.avsc`` and ``*.proto`` file under it, sub-folders
   included (its contracts, and the files DPDS ``$ref`` s point at). File names are
   relative to that folder.
3. Any other folder is a collection: each descriptor file at its top is a bundle on its
   own (a standalone ODCS or DCS contract becomes a product whose id is the contract's),
   and each sub-folder is looked at with these same rules. So a repository can hold one
   sub-folder per product, group those by domain, and keep loose contracts beside them.

Exception to rule 3: a folder without sub-folders, with several descriptor files of which
one cannot be read or is no known descriptor, is one bundle (rule 2). A product whose
descriptor is broken then fails with its contracts, instead of its contracts being
registered as products of their own. Hidden files and folders (``.git``) are skipped.

Each bundle goes through ``data_product_register`` with source ``cli``: identical
content is a no-op, a breaking change to an active product needs a major version bump or
``--accept-breaking``. A bundle that fails is reported on stderr and the others still
register; the command then exits non-zero. ``--prune`` retires the products whose latest
revision came from this command (source ``cli``) and whose id is not among this run's
bundles; products published through the API or the portal are never retired, and nothing
is retired when a bundle could not be parsed (its product id is unknown).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.audit import Via
from catalog.descriptors import DescriptorError, parse_bundle
from catalog.descriptors.formats import detect
from catalog.descriptors.loading import MAX_BYTES, load_text
from catalog.descriptors.model import Issue, Product
from catalog.descriptors.parse import DESCRIPTOR_SUFFIXES
from catalog.models import DataProduct, ProductStatus
from catalog.services import (
    BreakingChangeRefused,
    DomainForbidden,
    Registration,
    data_product_register,
    data_product_retire,
)

SOURCE = "cli"
BUNDLE_SUFFIXES = (*DESCRIPTOR_SUFFIXES, ".avsc", ".proto")
PROGRESS_FROM = 20  # bundles; fewer register too fast for a bar to help


@dataclass
class Bundle:
    """The files of one product: ``root`` is what names are relative to."""

    label: str  # as shown to the user: the folder (with a trailing /) or the file
    root: Path
    paths: list[Path]


@dataclass
class Outcome:
    bundle: Bundle
    files: dict[str, str] = field(default_factory=dict)
    spec: Product | None = None
    registration: Registration | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)  # breaking findings
    errors: list[str] = field(default_factory=list)

    @property
    def product_id(self) -> str:
        return self.spec.id if self.spec else ""


# --- finding bundles ----------------------------------------------------------------------


def find_bundles(paths: Iterable[str | Path]) -> list[Bundle]:
    """The bundles under ``paths``, after the rules of the module docstring."""
    bundles: list[Bundle] = []
    for path in map(Path, paths):
        if path.is_file():
            bundles.append(Bundle(str(path), path.parent, [path]))
        elif path.is_dir():
            bundles += _walk(path)
        else:
            raise CommandError(f"no such file or folder: {path}")
    return bundles


def _walk(folder: Path) -> Iterator[Bundle]:
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file() and p.suffix.lower() in DESCRIPTOR_SUFFIXES]
    folders = [p for p in entries if p.is_dir()]
    kinds = [_kind(p) for p in files]
    if "product" in kinds or (len(files) > 1 and "unknown" in kinds and not folders):
        yield Bundle(f"{folder}/", folder, sorted(_bundle_files(folder)))
        return
    for path in files:
        yield Bundle(str(path), folder, [path])
    for sub in folders:
        yield from _walk(sub)


def _kind(path: Path) -> str:
    """``product``, ``contract`` or ``unknown`` (unreadable, or no known descriptor)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return "unknown"
        found = detect(load_text(path.read_text(encoding="utf-8"), source=path.name))
    except (DescriptorError, UnicodeDecodeError, OSError):
        return "unknown"
    return "product" if found.is_product else "contract"


def _bundle_files(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.is_file() and path.suffix.lower() in BUNDLE_SUFFIXES:
            yield path


def read_bundle(bundle: Bundle) -> dict[str, str]:
    """``{name relative to the bundle root: text}``; a file that is too large or not UTF-8
    text is a :class:`DescriptorError` naming it."""
    files, issues = {}, []
    for path in bundle.paths:
        name = path.relative_to(bundle.root).as_posix()
        if path.stat().st_size > MAX_BYTES:
            issues.append(Issue(name, f"file is larger than {MAX_BYTES // 2**20} MB", name))
            continue
        try:
            files[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            issues.append(Issue(name, "file is not UTF-8 text", name))
    if issues:
        raise DescriptorError(issues)
    return files


# --- the command --------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Register data products from descriptor files or folders (a GitOps sync). A file is "
        "one product; a folder with a product descriptor (ODPS/DPDS/DPS) at its top is one "
        "product with every descriptor under it; any other folder holds products: each "
        "descriptor file at its top (a standalone ODCS/DCS contract) is one, and each "
        "sub-folder is looked at in the same way."
    )
    # load_demo registers the demo products with source "demo", which --prune never touches.
    stealth_options = ("source",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="descriptor file or folder")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="show what would be created, updated or retired, and write nothing",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="retire products registered by this command that are no longer in PATHs",
        )
        parser.add_argument(
            "--accept-breaking",
            action="store_true",
            help="register breaking changes to active products without a major version bump",
        )
        parser.add_argument(
            "--actor", default=None, help="who registers, kept with each revision (default: $USER)"
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="refuse descriptors with any JSON Schema error (default: they are warnings)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        bundles = find_bundles(options["paths"])
        if not bundles:
            raise CommandError(f"no descriptor files in {', '.join(options['paths'])}")
        options["actor"] = options["actor"] or _default_actor()
        options["source"] = options.get("source") or SOURCE
        # None lets tqdm hide itself when stderr is not a terminal.
        bar = None if not options["no_progress"] and len(bundles) >= PROGRESS_FROM else True
        # Everything is parsed before anything is written: a failed bundle still names its
        # product, and two bundles with one id are refused before either replaces the other.
        outcomes = [
            _parsed(b, options["strict"])
            for b in tqdm(bundles, "parsing", file=sys.stderr, disable=bar)
        ]
        _refuse_duplicates(outcomes)
        valid = [o for o in outcomes if not o.errors]
        for outcome in tqdm(valid, "registering", file=sys.stderr, disable=bar):
            self._register(outcome, options)
        retired = self._prune(outcomes, options) if options["prune"] else []
        for outcome in outcomes:
            self._report_errors(outcome)
        self._summary(outcomes, retired, dry_run=options["dry_run"])
        failed = sum(1 for o in outcomes if o.errors)
        if failed:
            raise CommandError(f"{failed} of {len(outcomes)} bundles failed (see above)")

    def _register(self, outcome: Outcome, options: dict[str, Any]) -> None:
        assert outcome.spec is not None
        try:
            outcome.registration = data_product_register(
                files=outcome.files,
                actor=options["actor"],
                source=options["source"],
                expected_id=outcome.spec.id,
                accept_breaking=options["accept_breaking"],
                dry_run=options["dry_run"],
                strict=options["strict"],
            )
        except DescriptorError as error:
            outcome.errors = [_issue_line(outcome.bundle, issue) for issue in error.issues]
        except BreakingChangeRefused as refused:
            outcome.refused = [f for f in refused.report if f.get("severity") == "breaking"]
            outcome.errors = [str(refused), *_breaking_lines(outcome.refused)]
        except DomainForbidden as forbidden:
            outcome.errors = [str(forbidden)]

    def _prune(self, outcomes: list[Outcome], options: dict[str, Any]) -> list[DataProduct]:
        if any(o.spec is None for o in outcomes):
            self.stderr.write(
                "not pruning: a bundle could not be parsed, and its product may be one "
                "that would be retired"
            )
            return []
        ids = {o.product_id for o in outcomes}
        stale = list(
            DataProduct.objects.filter(active_revision__source=options["source"])
            .exclude(status=ProductStatus.RETIRED)
            .exclude(external_id__in=ids)
            .select_related("domain")
            .order_by("external_id")
        )
        if not options["dry_run"]:
            for product in stale:
                data_product_retire(product=product, actor=(options["actor"], Via.COMMAND))
        return stale

    def _report_errors(self, outcome: Outcome) -> None:
        if not outcome.errors:
            return
        self.stderr.write(f"error: {outcome.bundle.label}")
        for line in outcome.errors:
            self.stderr.write(f"  {line}")

    def _summary(self, outcomes: list[Outcome], retired: list[DataProduct], dry_run: bool) -> None:
        rows = [_row(o) for o in outcomes] + [
            [p.external_id, p.name, p.domain.name if p.domain else "", "retired", p.version, "", ""]
            for p in retired
        ]
        header = ["product", "name", "domain", "action", "version", "warnings", "breaking"]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = (str(v).ljust(w) for v, w in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[3]] = counts.get(row[3], 0) + 1
        actions = ("created", "updated", "unchanged", "failed", "retired")
        totals = ", ".join(f"{counts.get(a, 0)} {a}" for a in actions)
        suffix = " (dry run: nothing was written)" if dry_run else ""
        self.stdout.write(f"{len(outcomes)} bundles: {totals}{suffix}")


def _parsed(bundle: Bundle, strict: bool) -> Outcome:
    outcome = Outcome(bundle)
    try:
        outcome.files = read_bundle(bundle)
        outcome.spec = parse_bundle(outcome.files, strict=strict)
    except DescriptorError as error:
        outcome.errors = [_issue_line(bundle, issue) for issue in error.issues]
    return outcome


def _refuse_duplicates(outcomes: list[Outcome]) -> None:
    labels: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.spec is not None:
            labels.setdefault(outcome.spec.id, []).append(outcome.bundle.label)
    for outcome in outcomes:
        others = [x for x in labels.get(outcome.product_id, []) if x != outcome.bundle.label]
        if others:
            outcome.errors.append(
                f"product id {outcome.product_id!r} is also the id of {', '.join(others)}: "
                "neither is registered"
            )


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return SOURCE


def _row(outcome: Outcome) -> list[Any]:
    spec, registration = outcome.spec, outcome.registration
    if spec is None:
        return [outcome.bundle.label, "", "", "failed", "", "", ""]
    if registration is None:
        action, warnings, breaking = "failed", len(spec.warnings), len(outcome.refused) or ""
    else:
        action = registration.action
        warnings, breaking = len(registration.warnings), len(registration.breaking)
    return [spec.id, spec.name, spec.domain, action, spec.version, warnings, breaking]


def _issue_line(bundle: Bundle, issue: Issue) -> str:
    """``file: path: message``, the file as the user would find it from here."""
    where = str(bundle.root / issue.source) if issue.source else bundle.label
    path = "" if issue.path == issue.source else issue.path
    return ": ".join(part for part in (where, path, issue.message) if part)


def _breaking_lines(findings: list[dict[str, Any]]) -> Iterator[str]:
    for finding in findings:
        yield f"breaking: {finding['path']}: {finding['message']}"
        for consumer in finding.get("consumers", []):
            products = ", ".join(consumer.get("products") or []) or "no product"
            yield f"  read by {consumer['job']} (via {consumer['via']}; feeds {products})"

"""How fast data products register: ``data_product_register`` on synthetic descriptors.

    .venv/bin/python -m benchmarks.descriptors [--products 1000] [--columns 30]
        [--diff-columns 500] [--profile] [--keep]

In a fresh data dir (SQLite, production settings, migrated first), three passes over
``--products`` products, each an ODPS v1.0.0 product and an ODCS v3.1.0 contract of
``--columns`` columns as YAML text (``descriptors_synth.bundle_files``):

1. register them: every one is created;
2. register the same files again: every one is a no-op (``unchanged``);
3. register a second revision of each, with a non-breaking change (a minor version, an
   added optional column, a reworded description): every one is ``updated``.

Then the readable diff and the breaking-change report of two ``--diff-columns`` contracts
(``benchmarks.descriptor_diff``). Targets: ≥ 50 products/s for pass 1, < 100 ms for the
diff. ``--profile`` then registers ``PROFILED`` more new products under cProfile and
shows where their time goes, step by step. The text is generated before any clock starts.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from typing import Any

from benchmarks.descriptor_diff import _measure as measure_diff
from benchmarks.descriptors_synth import bundle_files, make_numbered_product, revise_compatible

TARGET_RATE = 50  # products/s
TARGET_DIFF_MS = 100
PROFILED = 200  # new products registered under the profiler

# The steps of a registration whose cumulative time the profile shows: (label, file, function).
STEPS = (
    ("data_product_register", "catalog/services.py", "data_product_register"),
    ("  parse_bundle", "catalog/descriptors/parse.py", "parse_bundle"),
    ("    load_text (YAML)", "catalog/descriptors/loading.py", "load_text"),
    ("    validate (JSON Schema)", "catalog/descriptors/validation.py", "validate"),
    ("  to_dict (normalized JSON)", "catalog/descriptors/model.py", "to_dict"),
    ("  content_hash", "catalog/services.py", "content_hash"),
    ("  _report (breaking changes)", "catalog/services.py", "_report"),
    ("  _store (rows)", "catalog/services.py", "_store"),
    ("    _replace_parts", "catalog/services.py", "_replace_parts"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--diff-columns", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="profile the first pass")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data dir")
    args = parser.parse_args()

    data_dir = _fresh_environment()
    try:
        _run(args)
    finally:
        if args.keep:
            print(f"kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def _fresh_environment() -> str:
    """A scratch data dir and production settings, before Django is set up."""
    data_dir = tempfile.mkdtemp(prefix="meshport-bench-descriptors-")
    os.environ.update(
        MESHPORT_DATA_DIR=data_dir,
        MESHPORT_DEBUG="0",
        MESHPORT_SECRET_KEY=secrets.token_urlsafe(48),
        MESHPORT_ALLOWED_HOSTS="127.0.0.1",
        MESHPORT_LOG_LEVEL="WARNING",
        DATABASE_URL="",
        DJANGO_SETTINGS_MODULE="meshport.settings",
    )
    return data_dir


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    products = [
        make_numbered_product(i, columns=args.columns, seed=i) for i in range(args.products)
    ]
    first = [bundle_files(p) for p in products]
    second = [bundle_files(revise_compatible(p, seed=i)) for i, p in enumerate(products)]

    rows = [
        _pass("register new", first, "created"),
        _pass("re-register identical (no-op)", first, "unchanged"),
        _pass("second revision, non-breaking", second, "updated"),
    ]
    print(f"{args.products} products, ODPS + ODCS of {args.columns} columns, SQLite")
    print(f"{'pass':<32} {'products':>8} {'seconds':>8} {'products/s':>11} {'ms/product':>11}")
    for name, count, seconds in rows:
        print(
            f"{name:<32} {count:>8} {seconds:>8.2f} {count / seconds:>11.1f} "
            f"{seconds * 1000 / count:>11.2f}"
        )
    rate = rows[0][1] / rows[0][2]
    print(f"target ≥ {TARGET_RATE} products/s: {'met' if rate >= TARGET_RATE else 'MISSED'}")

    diff_ms, breaking_ms, changes, findings = measure_diff(args.diff_columns, 20)
    worst = max(diff_ms, breaking_ms)
    print(
        f"diff of two {args.diff_columns}-column contracts (best of 20): diff_documents "
        f"{diff_ms:.1f} ms ({changes} changes), breaking_changes {breaking_ms:.1f} ms "
        f"({findings} findings); target < {TARGET_DIFF_MS} ms: "
        f"{'met' if worst < TARGET_DIFF_MS else 'MISSED'}"
    )
    if args.profile:
        profiler = cProfile.Profile()
        more = [
            bundle_files(make_numbered_product(args.products + i, columns=args.columns, seed=i))
            for i in range(PROFILED)
        ]
        _pass("profiled", more, "created", profiler)
        _print_steps(profiler)


def _pass(
    name: str,
    bundles: list[dict[str, str]],
    expected: str,
    profiler: cProfile.Profile | None = None,
) -> tuple[str, int, float]:
    from catalog.services import data_product_register

    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    actions = [
        data_product_register(files=files, actor="bench", source="cli").action for files in bundles
    ]
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    wrong = [a for a in actions if a != expected]
    if wrong:
        raise SystemExit(f"{name}: expected every product {expected}, got {wrong[:3]}")
    return name, len(bundles), seconds


def _print_steps(profiler: cProfile.Profile) -> None:
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative = {(f, func): cum for (f, _line, func), (_cc, _nc, _own, cum, _) in raw.items()}
    whole = next(
        (cum for (f, func), cum in cumulative.items() if func == "data_product_register"), 0.0
    )
    print(f"\nwhere the time of {PROFILED} more new products goes (cProfile, cumulative time)")
    for label, path, function in STEPS:
        seconds = sum(
            cum for (f, func), cum in cumulative.items() if f.endswith(path) and func == function
        )
        share = 100 * seconds / whole if whole else 0.0
        print(f"  {label:<32} {seconds:>7.2f} s {share:>5.1f} %")


if __name__ == "__main__":
    main()

"""How long the readable diff and the breaking-change report take on wide contracts.

    .venv/bin/python -m benchmarks.descriptor_diff [--columns 100 500 2000] [--repeat 20]

Prints, per width, the best of ``--repeat`` runs: ``diff_documents`` on the two normalized
documents (``to_dict`` not included) and ``breaking_changes`` on the two products.
Target: under 100 ms each at 500 columns.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.descriptors_synth import make_wide_product, revise
from catalog.descriptors.diff import breaking_changes, diff_documents
from catalog.descriptors.model import to_dict


def _best_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best * 1000, result


def _measure(columns: int, repeat: int) -> tuple[float, float, int, int]:
    old = make_wide_product(columns, seed=columns)
    new = revise(old, seed=columns + 1)
    old_doc, new_doc = to_dict(old), to_dict(new)
    diff_ms, changes = _best_ms(partial(diff_documents, old_doc, new_doc), repeat)
    breaking_ms, findings = _best_ms(partial(breaking_changes, old, new), repeat)
    return diff_ms, breaking_ms, len(changes), len(findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    print(f"{'columns':>8} {'diff ms':>9} {'breaking ms':>12} {'changes':>8} {'findings':>9}")
    for columns in args.columns:
        diff_ms, breaking_ms, changes, findings = _measure(columns, args.repeat)
        print(f"{columns:>8} {diff_ms:>9.2f} {breaking_ms:>12.2f} {changes:>8} {findings:>9}")


if __name__ == "__main__":
    main()

"""How a chapter's headline numbers reach ``make bench`` (the one place that knows).

A chapter calls ``record("grid modes", 25, reference="PacGAN4 24.8")``. The call
prints the number beside its reference for the reader; when the benchmark
runner sets the environment variable ``GM4S_RECORD_FILE``, it also appends the
number as one JSON line to that file, from which ``make bench`` builds
``bench/results.json`` and ``bench/results.md``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass

RECORD_ENV = "GM4S_RECORD_FILE"


@dataclass(frozen=True)
class Metric:
    """One recorded number: its name, value, reference and unit."""

    name: str
    value: float
    reference: float | str | None = None
    unit: str = ""

    def __str__(self) -> str:
        text = f"{self.name}: {_fmt(self.value)}{(' ' + self.unit) if self.unit else ''}"
        if self.reference is not None:
            text += f"  (reference: {_fmt(self.reference)})"
        return text


def _fmt(v: float | str) -> str:
    if isinstance(v, str):
        return v
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.4g}"


def record(
    name: str,
    value: float,
    reference: float | str | None = None,
    *,
    unit: str = "",
    quiet: bool = False,
) -> Metric:
    """Record a headline number and print it beside its reference.

    Args:
        name: what was measured, e.g. ``"grid HQ"``; non-empty.
        value: a finite real number.
        reference: the published or exact value to compare with (a number, or
            a short text such as ``"PacGAN4 24.8 / 93.6%"``).
        unit: e.g. ``"nats"``, ``"%"``, ``"s"``.
        quiet: do not print.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"record needs a non-empty metric name, got {name!r}")
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"record({name!r}) needs a real number, got {value!r}") from None
    if not math.isfinite(val):
        raise ValueError(f"record({name!r}) needs a finite number, got {value!r}")
    if reference is not None and not isinstance(reference, str):
        reference = float(reference)
    metric = Metric(name.strip(), val, reference, unit)
    path = os.environ.get(RECORD_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(metric)) + "\n")
    if not quiet:
        print(metric)
    return metric


def read_records(path: str) -> list[Metric]:
    """Read the metrics a run appended to ``path`` (missing file: none)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [Metric(**json.loads(line)) for line in fh if line.strip()]

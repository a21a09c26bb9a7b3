"""The chapter dependency graph of the instructor guide, drawn from the chapters themselves.

Every chapter opens with an "Objectives and prerequisites" admonition whose ``**Prerequisites:**``
line names the chapters it builds on as ``{doc}`NN_name``` references. This script reads those
lines (the one source), checks that each prerequisite comes earlier in the table of contents, and
draws the graph, one column per part of the book, to ``chapters/images/chapter_dependencies.png``.

Usage: python tools/dependency_graph.py [--out chapters/images/chapter_dependencies.png]
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "chapters" / "images" / "chapter_dependencies.png"
_PREREQ = re.compile(r"\*\*Prerequisites:\*\*([^\n]*)")
_DOC = re.compile(r"\{doc\}`([^`]+)`")


def parts(toc: Path = ROOT / "_toc.yml") -> list[tuple[str, list[str]]]:
    """(caption, [chapter stem, ...]) for every part of the table of contents, in reading order."""
    spec = yaml.safe_load(toc.read_text())
    return [(p["caption"], [Path(c["file"]).name for c in p.get("chapters", [])]) for p in spec["parts"]]


def _openings(chapters: Path) -> dict[str, str]:
    """Chapter stem -> the text of its notebook's first Markdown cell (title and admonition)."""
    out = {}
    for path in sorted(chapters.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        out[path.stem] = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
    return out


def titles(chapters: Path = ROOT / "chapters") -> dict[str, str]:
    """Chapter stem -> the title of its notebook (its first Markdown heading)."""
    return {stem: text.split("\n", 1)[0].lstrip("# ").strip() for stem, text in _openings(chapters).items()}


def prerequisites(chapters: Path = ROOT / "chapters") -> dict[str, list[str]]:
    """Chapter stem -> the chapters its first Markdown cell names as prerequisites (notebooks only)."""
    out = {}
    for stem, text in _openings(chapters).items():
        m = _PREREQ.search(text)
        if m is None:
            raise ValueError(f"{stem}.ipynb: its first Markdown cell has no **Prerequisites:** line")
        out[stem] = _DOC.findall(m.group(1))
    return out


def check_order(prereq: dict[str, list[str]], order: list[str]) -> None:
    """Raise ValueError unless every prerequisite is a chapter that comes earlier in ``order``."""
    pos = {name: i for i, name in enumerate(order)}
    for chapter, before in prereq.items():
        for b in before:
            if b not in pos:
                raise ValueError(f"{chapter}: prerequisite {b!r} is not a chapter of the table of contents")
            if pos[b] >= pos[chapter]:
                raise ValueError(f"{chapter}: prerequisite {b} comes after it in the table of contents")


def draw(out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prereq = prerequisites()
    columns = [(cap, [c for c in chs if c in prereq]) for cap, chs in parts()]
    columns = [(cap, chs) for cap, chs in columns if chs]
    check_order(prereq, [c for _, chs in columns for c in chs])
    xy = {c: (i, -j) for i, (_, chs) in enumerate(columns) for j, c in enumerate(chs)}
    depth = max(len(chs) for _, chs in columns)
    fig, ax = plt.subplots(figsize=(2.2 * len(columns), 1.35 * depth + 1.2))
    ax.set(xlim=(-0.6, len(columns) - 0.4), ylim=(-depth + 0.45, 1.1))
    ax.axis("off")
    boxes, names = {}, titles()
    for chapter, (x, y) in xy.items():
        label = chapter.partition("_")[0] + "  " + textwrap.fill(names[chapter], 20)
        boxes[chapter] = ax.text(x, y, label, ha="center", va="center",
                                 fontsize=8, zorder=3,
                                 bbox={"boxstyle": "round,pad=0.4", "fc": "#eef3fb", "ec": "#4a6fa5", "lw": 0.8})
    fig.canvas.draw()  # the boxes need a size before arrows can be clipped to them
    for chapter, before in prereq.items():
        for b in before:
            (x0, y0), (x1, y1) = xy[b], xy[chapter]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                        arrowprops={"arrowstyle": "-|>", "color": "0.45", "lw": 0.8, "mutation_scale": 9,
                                    "patchA": boxes[b].get_bbox_patch(), "patchB": boxes[chapter].get_bbox_patch(),
                                    "connectionstyle": f"arc3,rad={0.25 if x0 == x1 and y0 - y1 > 1 else 0.08}"})
    for i, (cap, _) in enumerate(columns):
        ax.text(i, 0.5, textwrap.fill(cap, 22), ha="center", va="bottom", fontsize=8.5, weight="bold")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    print(f"wrote {draw(parser.parse_args().out)}")


if __name__ == "__main__":
    main()

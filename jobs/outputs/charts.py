"""The report's charts: matplotlib figures rendered to inline SVG strings (text kept as text, so the numbers
are searchable and the file needs no font), deterministic (fixed hash salt, no date) so reruns are equal."""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "cohort-finder", "font.size": 9,
                            "axes.spines.top": False, "axes.spines.right": False})

BLUE, LIGHT, GREY, ORANGE = "#2b6cb0", "#90cdf4", "#a0aec0", "#dd6b20"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML


def funnel(labels: list[str], remaining: list[int | None], clear: list[int | None],
           shown: list[str], shown_clear: list[str]) -> str:
    """Persons remaining after each criterion (protocol order, top to bottom), and of them those with nothing
    unknown. None = suppressed: no bar, only its published text."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * n + 0.9))
    ys = list(range(n))[::-1]
    top = max([v for v in remaining if v is not None] or [1])
    ax.barh(ys, [v or 0 for v in remaining], color=LIGHT, height=0.8, label="remaining (eligible or possible)")
    ax.barh(ys, [v or 0 for v in clear], color=BLUE, height=0.45, label="with nothing unknown (eligible)")
    for y, text, text_clear in zip(ys, shown, shown_clear, strict=True):
        ax.text(top * 1.01, y, f"{text} / {text_clear}", va="center", fontsize=8)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, top * 1.25)
    ax.set_xlabel("persons")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return _svg(fig)


def site_bars(sites: list[str], eligible: list[int | None], possible: list[int | None]) -> str:
    """Eligible and possible persons per care site (stacked)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(sites) + 0.9))
    ys = list(range(len(sites)))[::-1]
    e = [v or 0 for v in eligible]
    ax.barh(ys, e, color=BLUE, height=0.7, label="eligible")
    ax.barh(ys, [v or 0 for v in possible], left=e, color=LIGHT, height=0.7, label="possible")
    ax.set_yticks(ys, [s or "(no site)" for s in sites], fontsize=8)
    ax.set_xlabel("persons")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return _svg(fig)


def age_sex(panels: dict[str, dict[tuple[str, str], int]], bands: list[str]) -> str:
    """Small multiples, one per site: eligible persons by age band and sex."""
    names = list(panels)
    cols = min(4, max(1, len(names)))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 1.7 * rows + 0.3), squeeze=False, sharey=True)
    xs = list(range(len(bands)))
    for ax, name in zip(axes.flat, names, strict=False):
        counts = panels[name]
        f = [counts.get((b, "female"), 0) for b in bands]
        m = [counts.get((b, "male"), 0) for b in bands]
        o = [counts.get((b, "other"), 0) for b in bands]
        ax.bar(xs, f, color=ORANGE, label="female")
        ax.bar(xs, m, bottom=f, color=BLUE, label="male")
        ax.bar(xs, o, bottom=[a + b for a, b in zip(f, m, strict=True)], color=GREY, label="other/unknown")
        ax.set_title(textwrap.shorten(name or "(no site)", width=30, placeholder="…"), fontsize=6)
        ax.set_xticks(xs, bands, fontsize=6, rotation=90)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, frameon=False)
    return _svg(fig)

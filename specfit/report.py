"""A report folder: figures (PNG), results (.h5), a summary table (CSV + JSON) and one HTML page.

Used by ``specfit demo`` and available to scripts: add sections, then :meth:`Report.write`.
"""

from __future__ import annotations

import csv
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Report", "Section"]


@dataclass
class Section:
    """One block of the report: a title, prose, figures and a table."""

    title: str
    text: str = ""
    figures: list[str] = field(default_factory=list)  # paths relative to the report folder
    table: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # result files, relative


class Report:
    """Collects sections and summary rows and writes ``index.html``, ``summary.csv`` and ``summary.json``."""

    def __init__(self, folder: str | Path, title: str, intro: str = "") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.title = title
        self.intro = intro
        self.sections: list[Section] = []
        self.summary: list[dict[str, Any]] = []

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def add_summary(self, **row: Any) -> None:
        """One summary row: technique, sample, quantity, value, error, unit, note ..."""
        self.summary.append(row)

    def write(self) -> Path:
        """Write the summary files and the HTML page; returns the page's path."""
        columns: list[str] = []
        for row in self.summary:
            columns += [k for k in row if k not in columns]
        with open(self.folder / "summary.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(_finite(self.summary))
        (self.folder / "summary.json").write_text(
            json.dumps(
                {"title": self.title, "summary": _finite(self.summary)},
                indent=2,
                default=_json_default,
                allow_nan=False,
            ),
            encoding="utf-8",
        )
        page = self.folder / "index.html"
        page.write_text(self._html(columns), encoding="utf-8")
        return page

    def _html(self, columns: list[str]) -> str:
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',  # no favicon request (a failed request is a console error)
            "<style>body{font-family:system-ui,sans-serif;max-width:1320px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px}"
            "th{background:#f0f0f0}img{max-width:100%;height:auto;border:1px solid #eee;box-sizing:border-box}"
            ".figs{display:flex;flex-wrap:wrap;gap:0.6em;align-items:flex-start;margin:0.5em 0}"
            ".multi img{width:calc(50% - 0.3em)}"
            "section{margin-bottom:2.5em}.files{font-size:0.85em;color:#555}nav li{margin:0.15em 0}"
            "td.num{text-align:right;font-variant-numeric:tabular-nums}</style>",
            "</head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        if self.intro:
            parts.append(f"<p>{esc(self.intro)}</p>")
        if self.sections:
            parts.append("<nav><ul>")
            if self.summary:
                parts.append('<li><a href="#summary">Summary</a></li>')
            parts += [f'<li><a href="#s{i}">{esc(sec.title)}</a></li>' for i, sec in enumerate(self.sections)]
            parts.append("</ul></nav>")
        if self.summary:
            parts.append('<h2 id="summary">Summary</h2>')
            parts.append(_table(self.summary, columns))
            parts.append(
                '<p class="files">Also as <a href="summary.csv">summary.csv</a> and '
                '<a href="summary.json">summary.json</a>.</p>'
            )
        for i, section in enumerate(self.sections):
            parts.append(f'<section id="s{i}"><h2>{esc(section.title)}</h2>')
            if section.text:
                parts += [f"<p>{esc(p)}</p>" for p in section.text.split("\n\n")]
            if section.figures:
                parts.append('<div class="figs multi">' if len(section.figures) > 1 else '<div class="figs">')
                parts += [f'<img src="{esc(fig)}" alt="{esc(section.title)}">' for fig in section.figures]
                parts.append("</div>")
            if section.table:
                cols: list[str] = []
                for row in section.table:
                    cols += [k for k in row if k not in cols]
                parts.append(_table(section.table, cols))
            if section.files:
                links = ", ".join(f'<a href="{esc(f)}">{esc(f)}</a>' for f in section.files)
                parts.append(f'<p class="files">Results: {links}</p>')
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else ""
    return str(value)


def _finite(obj: Any) -> Any:
    """NaN/inf become None (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{esc(_fmt(r.get(c)))}</td>'
            if isinstance(r.get(c), int | float)
            else f"<td>{esc(_fmt(r.get(c)))}</td>"
            for c in columns
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _json_default(value: Any) -> Any:
    try:
        return value.item()
    except AttributeError:
        return str(value)

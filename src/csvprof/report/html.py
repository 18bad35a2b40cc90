"""report.html: a profile as one self-contained page (inline CSS, charts as inline SVG, no script).

`render(profile)` is pure: a `Profile` in, the document out. Every name and value comes from an
untrusted CSV, so every one goes through `_text` (control characters replaced, long values cut,
`html.escape`d), and a Content-Security-Policy meta forbids any script or remote load even if an
escape were missed. The page is bounded: names and values are cut (`Limits`), a card draws at most
20 histogram bins and 10 top values, so the size grows linearly with the columns (≈ 2 KB a
column); a page over `MAX_REPORT_BYTES` is drawn again with the `COMPACT` limits.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from csvprof.contracts.profile import ColumnProfile, Histogram, Number, Profile, QualityWarning, Scalar

# The page's size bound: past it, the page is drawn again with the compact limits.
MAX_REPORT_BYTES: Final = 5_000_000
CHART_WIDTH: Final = 320
# What a page shows for no value.
NONE: Final = "\u2013"
TYPES: Final = ("integer", "decimal", "boolean", "date", "datetime", "string")

# C0/C1 controls and lone surrogates: never written to the page as they are.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of the file's text a page shows: characters of a value or a name before it is
    cut ("…"), of a top value's label, how many top values a card draws, and whether the page
    has its column index and each card its quantile table."""

    shown_chars: int = 40
    label_chars: int = 24
    top_values: int = 10
    message_chars: int = 200
    column_index: bool = True
    quantile_table: bool = True


NORMAL: Final = Limits()
# Enough to tell values apart; used only when a page with the normal limits is over the bound.
COMPACT: Final = Limits(
    shown_chars=12, label_chars=10, top_values=3, message_chars=80, column_index=False, quantile_table=False
)

_CSS: Final = """
:root{--fg:#1d2330;--mut:#5b6478;--line:#dde1ea;--bg:#f6f7fa;--card:#fff;--acc:#3461c1;--warn:#b4530b}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
header,main>section{padding:16px 24px}
header{background:var(--card);border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:20px}h2{font-size:16px;margin:0 0 8px}
h3{font-size:15px;margin:0;word-break:break-all}
.mut,figcaption,.ax{color:var(--mut);font-size:12px}
.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0}
.kv div{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.kv dt{color:var(--mut);font-size:12px}.kv dd{margin:0;font-size:16px;font-weight:600}
table{border-collapse:collapse;background:var(--card);width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--mut);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.idx{max-height:320px;overflow:auto;border:1px solid var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;
content-visibility:auto;contain-intrinsic-size:auto 420px}
.card>header{padding:0;border:0;display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
.t{font-size:12px;padding:1px 6px;border-radius:9px;background:#e7ecf7;color:var(--acc)}
.w{font-size:11px;padding:1px 6px;border-radius:9px;background:#fdebd8;color:var(--warn)}
.st{display:grid;grid-template-columns:auto 1fr;gap:1px 10px;margin:8px 0;font-size:13px}
.st dt{color:var(--mut)}.st dd{margin:0;font-variant-numeric:tabular-nums;word-break:break-all}
.v{unicode-bidi:isolate}
.q{font-size:12px;margin:4px 0}.q td,.q th{padding:1px 4px;text-align:right}
figure{margin:8px 0 0}svg{display:block}
.ax{display:flex;justify-content:space-between;max-width:320px}
.mix{display:flex;flex-wrap:wrap;gap:2px 10px;font-size:12px;color:var(--mut)}
.mix i{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:3px}
.integer{fill:#3461c1;background:#3461c1}.decimal{fill:#2a9d8f;background:#2a9d8f}
.boolean{fill:#8e5cc7;background:#8e5cc7}.date{fill:#e09f3e;background:#e09f3e}
.datetime{fill:#c1666b;background:#c1666b}.string{fill:#7a8294;background:#7a8294}
.bars{fill:var(--acc)}.tv text{font-size:11px;fill:var(--fg)}
.tv path{fill:#c9d6f2}.tv .r text{text-anchor:end;fill:var(--mut)}
"""

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render(profile: Profile) -> str:
    """The whole page for `profile`: overview, warnings, a column index, a card per column."""
    page = _Page(NORMAL).render(profile)
    if len(page.encode()) > MAX_REPORT_BYTES:
        page = _Page(COMPACT).render(profile)
    return page


class _Page:
    def __init__(self, limits: Limits) -> None:
        self.lim = limits

    def render(self, profile: Profile) -> str:
        warned: dict[str, list[str]] = {}
        for w in profile.warnings:
            if w.column is not None:
                warned.setdefault(w.column, []).append(w.code)
        index = {c.name: c.index for c in reversed(profile.columns)}
        title = f"csvprof report: {profile.dataset_id or 'local profile'}"
        parts = [
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8>",
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name=viewport content="width=device-width,initial-scale=1">',
            f"<title>{_text(title, 80)}</title><style>{_CSS}</style></head><body>",
            self.header(profile),
            "<main>",
            self.overview(profile),
            self.warnings(profile.warnings, index),
            self.column_index(profile.columns) if self.lim.column_index else "",
            '<section id="columns"><h2>Columns</h2><div class="cards">',
            *(self.card(c, warned.get(c.name, ())) for c in profile.columns),
            "</div></section></main></body></html>\n",
        ]
        return "".join(parts)

    # --- sections ----------------------------------------------------------------------------

    def header(self, p: Profile) -> str:
        who = f"dataset {_text(p.dataset_id, 40)}" if p.dataset_id else "a local file"
        return (
            f"<header><h1>CSV profile</h1><div class=mut>{who} · generated {_text(p.generated_at, 40)}"
            f" by {_text(p.engine.name, 40)} {_text(p.engine.version, 40)} · schema "
            f"{_text(p.schema_version, 10)} · profiled in {p.runtime.duration_ms:,} ms</div></header>"
        )

    def overview(self, p: Profile) -> str:
        d, dialect, dup = p.dataset, p.dialect, p.dataset.duplicate_rows
        dup_text = (
            f"≈ {dup.estimate:,} <span class=mut>± {dup.absolute_error:,}</span>"
            if dup.approximate
            else f"{dup.estimate:,}"
        )
        items = [
            ("rows", f"{d.rows:,}"),
            ("columns", f"{d.columns:,}"),
            ("size", _bytes(d.bytes)),
            ("duplicate rows", dup_text),
            ("ragged rows", f"{d.ragged_rows:,}"),
            ("warnings", f"{len(p.warnings):,}"),
            ("encoding", _text(dialect.encoding, 20)),
            ("delimiter", _text(repr(dialect.delimiter), 20)),
            ("quote", _text(repr(dialect.quote_char), 20)),
            ("header row", "yes" if dialect.header else "no"),
            ("line ending", _text(repr(dialect.line_terminator), 20)),
            ("skipped lines", f"{dialect.skipped_lines:,}"),
        ]
        cells = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in items)
        return f'<section id="overview"><h2>Overview</h2><dl class=kv>{cells}</dl></section>'

    def warnings(self, warnings: Sequence[QualityWarning], index: dict[str, int]) -> str:
        if not warnings:
            return '<section id="warnings"><h2>Warnings</h2><p class=mut>No quality warnings.</p></section>'
        rows = []
        for w in warnings:
            column = "" if w.column is None else self.column_link(w.column, index)
            numbers = ", ".join(f"{_text(k, 40)}: {self.value(v)}" for k, v in w.numbers.items())
            rows.append(
                f"<tr><td><span class=w>{_text(w.code, 40)}</span></td><td>{column}</td>"
                f"<td>{_text(w.message, self.lim.message_chars)}</td><td>{numbers}</td></tr>"
            )
        return (
            f'<section id="warnings"><h2>Warnings ({len(warnings):,})</h2><table>'
            "<tr><th>code</th><th>column</th><th>what</th><th>numbers</th></tr>"
            f"{''.join(rows)}</table></section>"
        )

    def column_link(self, name: str, index: dict[str, int]) -> str:
        if name not in index:
            return f"<span class=v>{_text(name, self.lim.shown_chars)}</span>"
        return f'<a class=v href="#c{index[name]}">{_text(name, self.lim.shown_chars)}</a>'

    def column_index(self, columns: Sequence[ColumnProfile]) -> str:
        rows = "".join(
            f'<tr><td class=n>{c.index}</td><td><a class=v href="#c{c.index}">'
            f"{_text(c.name, self.lim.shown_chars)}</a></td><td>{_text(c.inferred_type, 20)}</td>"
            f"<td class=n>{_pct(c.null_count + c.empty_count, _rows(c))}</td>"
            f"<td class=n>{_distinct(c)}</td></tr>"
            for c in columns
        )
        return (
            '<section id="index"><h2>Column index</h2><div class=idx><table>'
            "<tr><th>#</th><th>name</th><th>type</th><th>null or empty</th><th>distinct</th></tr>"
            f"{rows}</table></div></section>"
        )

    def card(self, c: ColumnProfile, warned: Iterable[str]) -> str:
        badges = "".join(f"<span class=w>{_text(code, 40)}</span>" for code in warned)
        mixed = " <span class=w>mixed</span>" if c.mixed else ""
        original = (
            f"<div class=mut>header: <span class=v>{_text(c.original_name, self.lim.shown_chars)}"
            "</span></div>"
            if c.original_name is not None and c.original_name != c.name
            else ""
        )
        return (
            f'<article class=card id="c{c.index}"><header>'
            f"<h3 class=v>{_text(c.name, self.lim.shown_chars)}</h3><span class=t>"
            f"{_text(c.inferred_type, 20)}</span>{mixed}{badges}</header>{original}{_type_mix(c)}"
            f"{self.stats(c)}{self.quantiles(c)}{self.histogram(c.histogram)}{self.top_values(c)}</article>"
        )

    # --- a card's parts ----------------------------------------------------------------------

    def stats(self, c: ColumnProfile) -> str:
        total = _rows(c)
        items = [
            ("present", f"{c.present:,} ({_pct(c.present, total)})"),
            ("null", f"{c.null_count:,} ({_pct(c.null_count, total)})"),
            ("empty", f"{c.empty_count:,} ({_pct(c.empty_count, total)})"),
            ("distinct", _distinct(c)),
            ("min", self.value(c.min)),
            ("max", self.value(c.max)),
        ]
        if c.mean is not None:
            items.append(("mean", self.value(c.mean)))
        if c.stddev is not None:
            items.append(("stddev", self.value(c.stddev)))
        if c.sum is not None:
            items.append(("sum", self.value(c.sum)))
        if c.zeros is not None or c.negatives is not None:
            items.append(("zeros / negatives", f"{self.value(c.zeros)} / {self.value(c.negatives)}"))
        if c.length is not None:
            items.append(
                ("length", f"{c.length.min:,} to {c.length.max:,}, mean {self.value(c.length.mean)}")
            )
        if c.leading_zeros:
            items.append(("leading zeros", f"{c.leading_zeros:,}"))
        if c.whitespace_padded:
            items.append(("padded with spaces", f"{c.whitespace_padded:,}"))
        return "<dl class=st>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"

    def quantiles(self, c: ColumnProfile) -> str:
        q = c.quantiles
        if q is None or not self.lim.quantile_table:
            return ""
        names = ("p01", "p05", "p25", "p50", "p75", "p95", "p99")
        values = (q.p01, q.p05, q.p25, q.p50, q.p75, q.p95, q.p99)
        note = f"≈ rank error ± {_share(q.rank_error)}" if q.approximate else "exact"
        return (
            "<table class=q><tr>"
            + "".join(f"<th>{n}</th>" for n in names)
            + "</tr><tr>"
            + "".join(f"<td>{self.value(v)}</td>" for v in values)
            + f"</tr></table><div class=ax>quantiles: {note}</div>"
        )

    def histogram(self, h: Histogram | None) -> str:
        if h is None or not h.bins:
            return ""
        width, height = CHART_WIDTH, 60
        top = max(b.count for b in h.bins) or 1
        w = width / len(h.bins)
        path = []
        for i, b in enumerate(h.bins):
            bar = 0.0 if b.count == 0 else max(1.0, height * b.count / top)
            if bar:
                path.append(f"M{i * w + 0.5:.4g} {height}v-{bar:.3g}h{max(w - 1, 0.5):.3g}v{bar:.3g}z")
        note = f"≈ bin edges ± {_share(h.rank_error)} of rows" if h.approximate else "exact"
        return (
            f'<figure><svg class=histogram width="{width}" height="{height}" role=img '
            f'aria-label=histogram><path class=bars d="{"".join(path)}"/></svg>'
            f"<div class=ax><span>{self.value(h.bins[0].lower)}</span>"
            f"<span>{self.value(h.bins[-1].upper)}</span></div>"
            f"<figcaption>histogram, {len(h.bins)} bins, tallest {top:,} · {note}</figcaption></figure>"
        )

    def top_values(self, c: ColumnProfile) -> str:
        if not c.top_values:
            why = "none stands out above the summary's error bound" if c.top_values_approximate else "none"
            return f"<figure><figcaption>top values: {why}</figcaption></figure>"
        shown = c.top_values[: self.lim.top_values]
        width, row = CHART_WIDTH, 14
        top = max(t.count for t in shown) or 1
        bars = "".join(
            f"M0 {i * row + 1}h{max(1.0, width * t.count / top):.4g}v{row - 2}H0z"
            for i, t in enumerate(shown)
        )
        labels = "".join(
            f'<text y="{i * row + 11}">{_text(t.value, self.lim.label_chars)}</text>'
            for i, t in enumerate(shown)
        )
        counts = "".join(f'<text y="{i * row + 11}">{t.count:,}</text>' for i, t in enumerate(shown))
        note = (
            f"≈ counts are lower bounds, each short by at most {c.top_values_max_error:,}"
            if c.top_values_approximate
            else "exact counts"
        )
        more = f" of {len(c.top_values)}" if len(shown) < len(c.top_values) else ""
        return (
            f'<figure><svg class="tv topvalues" width="{width}" height="{row * len(shown)}" role=img '
            f'aria-label="top values"><path d="{bars}"/><g transform="translate(3)">{labels}</g>'
            f'<g class=r transform="translate({width - 3})">{counts}</g></svg>'
            f"<figcaption>top {len(shown)}{more} values · {note}</figcaption></figure>"
        )

    def value(self, value: Scalar | Number) -> str:
        if value is None:
            return NONE
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            if not math.isfinite(value):
                return str(value)
            if value.is_integer() and abs(value) < 1e15:
                return f"{int(value):,}"
            return f"{value:,.6g}"
        return f"<span class=v>{_text(value, self.lim.shown_chars)}</span>"


def _type_mix(c: ColumnProfile) -> str:
    present = c.present
    if present == 0:
        return "<div class=mut>no present values</div>"
    x = 0.0
    rects, legend = [], []
    for t in TYPES:
        n = c.type_counts.get(t, 0)
        if n == 0:
            continue
        w = CHART_WIDTH * n / present
        rects.append(f'<rect class={t} x="{x:.4g}" width="{max(w, 1):.4g}" height=8 />')
        legend.append(f"<span><i class={t}></i>{t} {n:,} ({_pct(n, present)})</span>")
        x += w
    return (
        f'<figure><svg class=mixbar width="{CHART_WIDTH}" height=8 role=img aria-label="type mix">'
        f"{''.join(rects)}</svg><div class=mix>{''.join(legend)}</div></figure>"
    )


# --- values ----------------------------------------------------------------------------------


def _text(value: object, limit: int) -> str:
    """Text from the file as safe HTML (element content or a quoted attribute): controls and lone
    surrogates replaced, cut to `limit` characters, escaped."""
    raw = _UNSAFE.sub("\ufffd", str(value))
    if len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return html.escape(raw)


def _distinct(c: ColumnProfile) -> str:
    d = c.distinct
    if not d.approximate:
        return f"{d.estimate:,}"
    return f"≈ {d.estimate:,} <span class=mut>± {_share(d.relative_error)}</span>"


def _rows(c: ColumnProfile) -> int:
    return c.present + c.null_count + c.empty_count


def _pct(part: int, whole: int) -> str:
    if whole <= 0:
        return NONE
    share = 100 * part / whole
    return f"{share:.0f}%" if share in (0, 100) or share >= 10 else f"{share:.1f}%"


def _share(fraction: float) -> str:
    return f"{100 * fraction:.2g}%"


def _bytes(n: int) -> str:
    size, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            break
        size /= 1000
    shown = f"{n:,} B" if unit == "B" else f"{size:,.1f} {unit}"
    return f'<span title="{n:,} bytes">{shown}</span>'

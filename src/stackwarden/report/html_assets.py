"""The HTML report's inline style sheet and script (StackWarden's own, no library)."""

from __future__ import annotations

STYLE = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #fff; --muted: #656d76; --line: #d0d7de;
  --head: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0;
  --line: #30363d; --head: #161b22; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; max-width: 1400px; padding: 0 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin: 1.2rem 0 .4rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; word-break: break-all; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; }
.card b { font-size: 1.4rem; display: block; }
.charts { display: flex; gap: 2rem; flex-wrap: wrap; } figure { margin: 0; }
figcaption { color: var(--muted); font-size: .85rem; }
svg.chart text { font-size: 12px; fill: currentColor; }
.warnings li { color: #9a6700; }
.filters { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; margin: .5rem 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
  vertical-align: top; word-break: break-word; }
th { background: var(--head); position: sticky; top: 0; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
.sev { border-radius: 3px; padding: 0 .35rem; color: #fff; font-weight: 600; font-size: .8rem;
  text-transform: uppercase; white-space: nowrap; }
.sev-critical { background: #a50e0e; } .sev-high { background: #e8590c; }
.sev-medium { background: #f2a900; color: #000; } .sev-low { background: #1971c2; }
.sev-negligible, .sev-unknown { background: #7d8a96; }
.kev { border: 1px solid #a50e0e; color: #a50e0e; border-radius: 3px; font-size: .75rem;
  padding: 0 .25rem; }
details summary { cursor: pointer; } .desc { white-space: pre-wrap; }
.fp { color: var(--muted); font-size: .8rem; }
"""

# Sort by clicking a column header, filter by text, minimum severity and scanner.
SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("findings");
  if (!table) { return; }
  var body = table.tBodies[0];
  var text = document.getElementById("filter-text");
  var severity = document.getElementById("filter-severity");
  var kind = document.getElementById("filter-kind");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(body.rows);
  function key(row, col) {
    var cell = row.cells[col];
    var value = cell.getAttribute("data-sort");
    return value !== null ? value : cell.textContent.trim().toLowerCase();
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) { return x - y; }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function filter() {
    var query = text.value.trim().toLowerCase(), count = 0;
    rows.forEach(function (row) {
      var visible = (!query || row.textContent.toLowerCase().indexOf(query) !== -1) &&
        (!severity.value || Number(row.getAttribute("data-sev")) >= Number(severity.value)) &&
        (!kind.value || row.getAttribute("data-kind") === kind.value);
      row.hidden = !visible;
      if (visible) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var col = Number(this.getAttribute("data-col"));
      var descending = th.getAttribute("aria-sort") === "ascending";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.setAttribute("aria-sort", "none");
      });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      rows.sort(function (a, b) {
        var order = compare(key(a, col), key(b, col));
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  [text, severity, kind].forEach(function (input) {
    input.addEventListener("input", filter);
  });
  filter();
}());
"""

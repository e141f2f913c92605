# SPDX-License-Identifier: GPL-2.0-or-later
"""The style sheet of the HTML report, inlined into every report (no network, no external font).

Made for a projector in a lecture hall: large type, dark text on a light
background, strong contrast; the verdict colours are the terminal's (green
same, cyan equivalent, yellow changed, red one-sided, dim info), darkened
for text on white and lightened for row backgrounds.  Only fonts every
machine has are named, with generic fallbacks.
"""

CSS = """
:root {
  --ink: #111418; --muted: #4a5159; --rule: #c9ced4; --paper: #ffffff; --band: #f4f6f8;
  --same: #116329; --same-bg: #dafbe1;
  --equivalent: #0a5c6e; --equivalent-bg: #d5f1f7;
  --changed: #6b4b00; --changed-bg: #fff1b8;
  --only: #a40e26; --only-bg: #ffe0dc;
  --info: #4a5159; --info-bg: #eef0f2;
  --syn: #116329; --fin: #8a4b00; --rst: #a40e26;
}
* { box-sizing: border-box; }
html { font-size: 22px; }
body {
  margin: 0; padding: 1.2rem 2rem 3rem; background: var(--paper); color: var(--ink);
  font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; line-height: 1.35;
  overflow-wrap: anywhere;  /* a long path or payload wraps: the page never scrolls sideways */
}
h1 { font-size: 2.1rem; margin: 0.2rem 0 0.6rem; }
h2 { font-size: 1.5rem; margin: 2rem 0 0.6rem; border-bottom: 3px solid var(--ink); padding-bottom: 0.2rem; }
h3 { font-size: 1.2rem; margin: 1rem 0 0.4rem; }
code, .mono {
  font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 0.92rem;
  overflow-wrap: anywhere; word-break: break-word;
}
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.55rem; border-bottom: 1px solid var(--rule);
  overflow-wrap: anywhere; }
/* Fixed layouts: the columns share the width the page has, so a long call wraps instead of widening the page. */
table.compare, table.timeline { table-layout: fixed; }
col.n { width: 3rem; } col.verdict { width: 11rem; } col.proc { width: 4.5rem; }
col.t { width: 5.5rem; } col.who { width: 6.5rem; }
th { background: var(--band); font-size: 0.95rem; }
.sides th { width: 9rem; white-space: nowrap; }
.sides td { width: 45%; }
.banner {
  font-size: 1.35rem; font-weight: bold; padding: 0.6rem 1rem; border-left: 0.6rem solid; margin: 0.8rem 0;
}
.banner.equivalent { background: var(--same-bg); border-color: var(--same); color: var(--same); }
.banner.different { background: var(--only-bg); border-color: var(--only); color: var(--only); }
.legend { display: flex; flex-wrap: wrap; gap: 0.5rem 1.2rem; padding: 0; list-style: none; font-size: 0.9rem; }
.legend li { padding: 0.15rem 0.5rem; border-radius: 0.3rem; }
.marker { font-weight: bold; font-size: 1.2rem; display: inline-block; min-width: 1.2rem; text-align: center; }
.v-same { background: var(--same-bg); } .v-same .verdict { color: var(--same); }
.v-equivalent { background: var(--equivalent-bg); } .v-equivalent .verdict { color: var(--equivalent); }
.v-changed { background: var(--changed-bg); } .v-changed .verdict { color: var(--changed); }
.v-left_only, .v-right_only { background: var(--only-bg); }
.v-left_only .verdict, .v-right_only .verdict { color: var(--only); }
.v-info { background: var(--info-bg); } .v-info .verdict { color: var(--info); }
.compare td.n, .compare td.proc { color: var(--muted); }
.verdict { font-weight: bold; }
.reason { display: block; font-weight: normal; white-space: normal; font-size: 0.8rem; color: var(--ink);
  margin-top: 0.2rem; overflow-wrap: anywhere; }
.why { display: block; color: var(--muted); font-size: 0.85rem; margin-top: 0.15rem; }
.state {
  display: inline-block; font-family: "DejaVu Sans Mono", monospace; font-size: 0.8rem; font-weight: bold;
  border: 2px solid var(--ink); border-radius: 0.3rem; padding: 0 0.3rem; margin-left: 0.4rem; background: #fff;
}
.timelines { display: grid; grid-template-columns: 1fr; gap: 1.5rem; }
@media (min-width: 1500px) { .timelines.two { grid-template-columns: 1fr 1fr; } }
.timeline td.t { white-space: nowrap; color: var(--muted); text-align: right;
  font-family: "DejaVu Sans Mono", monospace; font-size: 0.85rem; }
.timeline td.who { color: var(--muted); font-size: 0.85rem; }
tr.packet td { background: var(--band); }
tr.packet .arrow { font-weight: bold; margin-right: 0.5rem; white-space: nowrap; }
tr.packet .ends { color: var(--muted); font-size: 0.8rem; margin-left: 0.5rem; }
tr.packet.syn .arrow { color: var(--syn); }
tr.packet.fin .arrow { color: var(--fin); }
tr.packet.rst .arrow { color: var(--rst); }
tr.statechange td, tr.process td { font-style: italic; }
tr.peerlane td.who { font-weight: bold; }
.summary li { margin: 0.2rem 0; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: 0.8rem; }
@media print { html { font-size: 12px; } body { padding: 0; } }
"""

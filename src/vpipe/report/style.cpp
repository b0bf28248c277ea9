#include "vpipe/report/style.h"

namespace vpipe {

const std::string_view kReportStyle = R"css(:root {
  --bg: #f4f5f7; --panel: #ffffff; --panel2: #f0f2f5; --text: #1b1f27; --muted: #667085;
  --border: #e1e4ea; --accent: #3556d4; --accent-soft: #e7ecfb;
  --keep: #17804b; --keep-soft: #e2f3e9; --dup: #3556d4; --dup-soft: #e7ecfb;
  --rej: #c8372d; --rej-soft: #fbe8e6; --warn: #a9590b; --warn-soft: #fcefdc;
  --bar: #8aa0ea; --bar-rej: #e69a92; --shade: rgba(200, 55, 45, .07); --thresh: #c8372d;
  --wait-in: #c9d3f5; --wait-out: #f3c98f;
  --radius: 10px; --shadow: 0 1px 2px rgba(16, 24, 40, .05), 0 1px 3px rgba(16, 24, 40, .07);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --panel: #161a21; --panel2: #1e232c; --text: #e4e7ec; --muted: #98a1b2;
    --border: #2a303b; --accent: #8aa4ff; --accent-soft: #222c4a;
    --keep: #52c98f; --keep-soft: #15301f; --dup: #8aa4ff; --dup-soft: #222c4a;
    --rej: #ff8f85; --rej-soft: #3a1e1c; --warn: #f2b565; --warn-soft: #3a2b14;
    --bar: #5f7bd8; --bar-rej: #b9564d; --shade: rgba(255, 143, 133, .08); --thresh: #ff8f85;
    --wait-in: #34406a; --wait-out: #6b5124; --shadow: none;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono { font-family: ui-monospace, "SF Mono", Menlo, "DejaVu Sans Mono", monospace; font-size: 12.5px; }

.topbar { position: sticky; top: 0; z-index: 10; display: flex; align-items: center; gap: 28px;
  padding: 0 28px; height: 54px; background: var(--panel); border-bottom: 1px solid var(--border); }
.brand { font-weight: 700; font-size: 15px; white-space: nowrap; color: var(--text); }
.brand .logo { display: inline-block; width: 22px; height: 22px; border-radius: 6px; margin-right: 8px;
  vertical-align: -5px; background: linear-gradient(135deg, var(--accent), var(--keep)); }
.nav { display: flex; gap: 4px; overflow-x: auto; }
.nav a { padding: 6px 12px; border-radius: 8px; color: var(--muted); font-weight: 550; white-space: nowrap; }
.nav a:hover { background: var(--panel2); text-decoration: none; color: var(--text); }
.nav a.active { background: var(--accent-soft); color: var(--accent); }
.nav .n { margin-left: 6px; font-size: 11.5px; padding: 1px 7px; border-radius: 10px;
  background: var(--panel2); color: var(--muted); font-variant-numeric: tabular-nums; }
.nav a.active .n { background: var(--panel); color: var(--accent); }

main { max-width: 1320px; margin: 0 auto; padding: 26px 28px 40px; }
h1 { font-size: 23px; margin: 0 0 4px; letter-spacing: -.2px; }
h2 { font-size: 16px; margin: 30px 0 12px; scroll-margin-top: 70px; }
h3 { font-size: 14px; margin: 0 0 10px; }
.sub { color: var(--muted); margin-bottom: 22px; }
.toc { display: flex; gap: 16px; margin: -12px 0 20px; font-size: 13px; }
.muted { color: var(--muted); }
.note { background: var(--warn-soft); color: var(--warn); border-radius: 8px; padding: 10px 14px; margin: 14px 0; }
.empty { text-align: center; color: var(--muted); padding: 48px 16px; background: var(--panel);
  border: 1px dashed var(--border); border-radius: var(--radius); }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px 0 30px; }

.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 14px 16px 12px; box-shadow: var(--shadow); border-top: 3px solid var(--border); }
.card .label { color: var(--muted); font-size: 11.5px; text-transform: uppercase; letter-spacing: .6px; font-weight: 600; }
.card .value { font-size: 28px; font-weight: 700; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .detail { color: var(--muted); font-size: 12.5px; }
.card.files { border-top-color: var(--accent); }
.card.keep { border-top-color: var(--keep); } .card.keep .value { color: var(--keep); }
.card.duplicate { border-top-color: var(--dup); } .card.duplicate .value { color: var(--dup); }
.card.reject { border-top-color: var(--rej); } .card.reject .value { color: var(--rej); }
.card.broken { border-top-color: var(--warn); } .card.broken .value { color: var(--warn); }
a.card:hover { text-decoration: none; border-color: var(--accent); }

.panel { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 16px 18px; box-shadow: var(--shadow); min-width: 0; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.panel-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; margin-bottom: 10px; }
.panel-head h3 { margin: 0; }

.stack { display: flex; height: 12px; border-radius: 6px; overflow: hidden; background: var(--panel2); margin: 10px 0 8px; }
.stack span { display: block; height: 100%; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.c-keep { background: var(--keep); } .c-duplicate { background: var(--dup); } .c-reject { background: var(--rej); }
.c-none { background: var(--border); } .c-ok { background: var(--keep); } .c-damaged { background: var(--warn); }
.c-bad { background: var(--rej); }
.c-busy { background: var(--accent); } .c-wait-in { background: var(--wait-in); } .c-wait-out { background: var(--wait-out); }

table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 11.5px; text-transform: uppercase;
  letter-spacing: .4px; padding: 8px 10px; border-bottom: 1px solid var(--border); white-space: nowrap; }
td { padding: 7px 10px; border-bottom: 1px solid var(--border); vertical-align: middle; }
tr:last-child td { border-bottom: none; }
tbody tr:hover td { background: var(--panel2); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.meter { width: 160px; }
.meter .bar { height: 8px; border-radius: 4px; background: var(--panel2); overflow: hidden; }
.meter .bar span { display: block; height: 100%; background: var(--rej); border-radius: 4px; }
tr.bottleneck td { background: var(--warn-soft); }
.verdict { margin: 10px 0 0; font-size: 13px; }
.verdict b { color: var(--warn); }

.chip { display: inline-block; font-size: 11.5px; font-weight: 600; padding: 1px 8px; border-radius: 20px;
  background: var(--panel2); color: var(--muted); white-space: nowrap; line-height: 18px; }
.chip.keep, .chip.ok, .chip.completed { background: var(--keep-soft); color: var(--keep); }
.chip.duplicate, .chip.exact, .chip.near, .chip.mixed { background: var(--dup-soft); color: var(--dup); }
.chip.reject, .chip.failed, .chip.bad { background: var(--rej-soft); color: var(--rej); }
.chip.damaged, .chip.interrupted, .chip.bottleneck { background: var(--warn-soft); color: var(--warn); }

.tabs { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 16px; }
.tabs a { padding: 5px 12px; border-radius: 20px; border: 1px solid var(--border); background: var(--panel);
  color: var(--text); font-size: 13px; }
.tabs a .n { color: var(--muted); margin-left: 4px; }
.tabs a.active { background: var(--accent); border-color: var(--accent); color: #fff; }
.tabs a.active .n { color: rgba(255, 255, 255, .8); }
.tabs a:hover { text-decoration: none; border-color: var(--accent); }

.pager { display: flex; gap: 4px; align-items: center; margin: 14px 0; flex-wrap: wrap; }
.pager a, .pager span { min-width: 34px; text-align: center; padding: 5px 10px; border-radius: 7px;
  border: 1px solid var(--border); background: var(--panel); font-variant-numeric: tabular-nums; }
.pager a:hover { text-decoration: none; border-color: var(--accent); }
.pager .cur { background: var(--accent); color: #fff; border-color: var(--accent); font-weight: 600; }
.pager .dis { color: var(--muted); opacity: .55; }
.pager .gap { border: none; background: none; min-width: 0; padding: 5px 2px; color: var(--muted); }
.pager .pinfo { border: none; background: none; color: var(--muted); margin-left: auto; }

.group-card { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 14px 16px 16px; margin-bottom: 16px; box-shadow: var(--shadow); scroll-margin-top: 70px; }
.group-card:target { border-color: var(--accent); box-shadow: 0 0 0 2px var(--accent-soft); }
.group-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-bottom: 12px; }
.group-id { font-weight: 700; font-size: 15px; color: var(--text); }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(172px, 1fr)); gap: 12px; }
.tile { margin: 0; background: var(--panel); border: 1px solid var(--border); border-radius: 9px; overflow: hidden;
  display: flex; flex-direction: column; min-width: 0; }
.tile.is-keeper { border-color: var(--keep); box-shadow: 0 0 0 1px var(--keep); }
.thumb { position: relative; aspect-ratio: 1 / 1; display: flex; align-items: center; justify-content: center;
  background: var(--panel2); border-bottom: 1px solid var(--border); overflow: hidden; min-height: 0; }
.thumb img { max-width: 100%; max-height: 100%; object-fit: contain; display: block; }
.thumb .corner { position: absolute; top: 7px; left: 7px; display: flex; gap: 4px; flex-wrap: wrap; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 2px 7px; border-radius: 6px;
  background: rgba(20, 24, 32, .72); color: #fff; white-space: nowrap; line-height: 16px; }
.badge.keeper { background: var(--keep); }
.badge.identical { background: var(--dup); }
.badge.rejected { background: var(--rej); }
.ph { width: 100%; height: 100%; display: flex; flex-direction: column; align-items: center; justify-content: center;
  gap: 6px; padding: 14px; text-align: center; background: var(--panel2); color: var(--muted); }
.ph b { font-size: 12px; text-transform: uppercase; letter-spacing: .5px; }
.ph small { font-size: 11.5px; overflow-wrap: anywhere; max-height: 6.2em; overflow: hidden; }
.ph .icon { width: 34px; height: 34px; border: 2px dashed var(--muted); border-radius: 8px; opacity: .6; }
.tile figcaption { padding: 8px 10px 10px; font-size: 12px; display: flex; flex-direction: column; gap: 3px; min-width: 0; }
/* A long name wraps onto a second line, then is cut; the tooltip has the whole path. */
.fname { font-weight: 600; font-size: 12.5px; overflow-wrap: anywhere; overflow: hidden; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; }
.files .fname { -webkit-line-clamp: 3; }
/* Right-to-left block around a left-to-right span: a long directory loses its start, not its end. */
.fdir { color: var(--muted); font-size: 11.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  direction: rtl; text-align: left; }
.facts { color: var(--muted); display: flex; flex-wrap: wrap; gap: 2px 10px; font-variant-numeric: tabular-nums; }
.dists { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 2px; }
.dist { font-size: 11px; font-weight: 600; padding: 1px 6px; border-radius: 5px; background: var(--dup-soft);
  color: var(--dup); font-variant-numeric: tabular-nums; white-space: nowrap; }
.dist.ref { background: var(--keep-soft); color: var(--keep); }
.dist.orient { background: var(--warn-soft); color: var(--warn); }
/* Why the keeper won (explain_keeper), under its thumbnail. */
.why { color: var(--keep); font-size: 11.5px; overflow-wrap: anywhere; }
.more { display: flex; align-items: center; justify-content: center; border: 1px dashed var(--border);
  border-radius: 9px; color: var(--muted); font-weight: 600; min-height: 120px; }
.reasons { display: flex; flex-direction: column; gap: 3px; margin-top: 3px; }
.reason { font-size: 11.5px; padding: 2px 7px; border-radius: 5px; background: var(--panel2); color: var(--muted);
  font-variant-numeric: tabular-nums; }
.reason.on { background: var(--rej-soft); color: var(--rej); }
.reason b { font-weight: 700; }
.error { color: var(--rej); font-size: 11.5px; overflow-wrap: anywhere; }

.hists { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 16px; }
.hist { width: 100%; height: auto; display: block; }
.hist-bar { fill: var(--bar); } .hist-bar:hover { fill: var(--accent); }
.hist-bar-rej { fill: var(--bar-rej); } .hist-bar-rej:hover { fill: var(--rej); }
.hist-reject { fill: var(--shade); }
.hist-grid { stroke: var(--border); stroke-width: 1; }
.hist-axis { stroke: var(--muted); stroke-width: 1; }
.hist-label { fill: var(--muted); font-size: 10px; }
.hist-threshold { stroke: var(--thresh); stroke-width: 1.5; stroke-dasharray: 4 3; }
.hist-threshold-label { fill: var(--thresh); font-size: 10.5px; font-weight: 600; }
.hist-empty { fill: var(--muted); font-size: 12px; }
.hist-foot { color: var(--muted); font-size: 12px; margin-top: 6px; }

.strip { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: 12px; }
.strip .tile figcaption { padding: 6px 8px 8px; }
.strip .thumb img { position: absolute; inset: 0; width: 100%; height: 100%; max-width: none; max-height: none;
  object-fit: cover; }
.strip a.tile:hover { border-color: var(--accent); text-decoration: none; }

td.counts { font-size: 12px; }
.nowrap { white-space: nowrap; }
.files td.path { max-width: 520px; }
.files td.path .fname, .files td.path .fdir { max-width: 520px; }
.files .sig { color: var(--muted); }
/* Predictions: a preview with an SVG of boxes over it, in the preview's pixels (viewBox). */
.preds-gallery { grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); }
.pview { position: relative; background: var(--panel2); border-bottom: 1px solid var(--border); }
.pview img { display: block; width: 100%; height: auto; }
.pview svg.boxes { position: absolute; inset: 0; width: 100%; height: 100%; overflow: hidden; }
.det { --c: #3556d4; }
.k0 { --c: #e5484d; } .k1 { --c: #3e8ef7; } .k2 { --c: #30a46c; } .k3 { --c: #f5a524; }
.k4 { --c: #8e4ec6; } .k5 { --c: #12a594; } .k6 { --c: #e54d9e; } .k7 { --c: #978365; }
.det-box { fill: none; stroke: var(--c); stroke-width: 2; }
.det-kp { fill: var(--c); stroke: #fff; stroke-width: .8; }
.det-label { fill: #fff; font-size: 11px; font-weight: 700; paint-order: stroke; stroke: var(--c);
  stroke-width: 3px; stroke-linejoin: round; }
.det.dim { opacity: .3; }
.det:hover .det-box { stroke-width: 3; }
.preds { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 2px; align-items: center; }
.pred { font-size: 11px; font-weight: 600; padding: 1px 6px; border-radius: 5px; color: #fff;
  background: var(--c, var(--accent)); font-variant-numeric: tabular-nums; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; max-width: 100%; }
.classes { font-size: 12px; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.classes .top { font-weight: 700; }
i.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px;
  background: var(--c); vertical-align: 0; }
.card.model { border-top-color: var(--keep); }
.card.crops { border-top-color: var(--warn); }
.meter .bar.pred-bar span { background: var(--accent); }
.fdir.src { color: var(--text); }
)css";

}  // namespace vpipe

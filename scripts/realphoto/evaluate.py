#!/usr/bin/env python3
"""How vpipe's verdicts, keepers and duplicate groups agree with the real-photo set's truth.

    scripts/realphoto/evaluate.py SET_DIR RUN_DB [--split calibration|holdout|all] [--markdown]
        [--pairs-table | --pairs-table-only] [--top N] [--rule KIND=RULE[,RULE...]] [--assert KEY>=VALUE ...]

SET_DIR is a folder made by make_set.py (truth.csv); RUN_DB a manifest after `vpipe scan --db`
and `vpipe dedup`. Manifest paths may be relative or absolute: a file is matched by the suffix of
its path that is a `file` of truth.csv. Standard library only; runs under any Python >= 3.8.

Exit status 0, or 1 when an --assert fails (every failed figure is named) or the inputs are
unusable. Figures for --assert (shares are 0..1):
  clean_rejected             clean files rejected by any rule / clean files
  recall.KIND                KIND files rejected by the rule meant for KIND / KIND files
  recall_any.KIND            ... rejected by any rule (KIND: blurry, dark, overexposed, corrupt,
                             hazy, low_contrast, compressed)
  keeper                     groups holding a base's original whose keeper is that original
  pair_recall, pair_precision          over originals and clean near-duplicates
  pair_recall_all, pair_precision_all  over every file with signals
Definitions: scripts/realphoto/README.md.
"""
import argparse
import csv
import os
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from itertools import combinations

KINDS = ["blurry", "dark", "overexposed", "corrupt", "hazy", "low_contrast", "compressed"]
# The rule (docs/QUALITY.md) meant for each kind a person names; --rule changes it.
DEFAULT_RULES = {k: [k] for k in KINDS}
CLEAN_ROLES = ("original", "near_duplicate")
SIGNAL_STATUSES = ("ok", "damaged")
ORIENTATIONS = ["identity", "rotate90", "rotate180", "rotate270", "mirror", "flip", "transpose",
                "transverse"]


# ---- output --------------------------------------------------------------------------------

class Out:
    def __init__(self, markdown):
        self.markdown = markdown

    def heading(self, text):
        print(f"\n#### {text}\n" if self.markdown else f"\n== {text}")

    def line(self, text=""):
        print(text)

    def table(self, header, rows, align=None):
        rows = [[str(c) for c in r] for r in rows]
        if not rows:
            self.line("(none)")
            return
        align = align or ["l"] + ["r"] * (len(header) - 1)
        if self.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
            for r in rows:
                print("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
            print()
            return
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

        def fmt(cells):
            return "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                             for c, w, a in zip(cells, widths, align)).rstrip()
        print(fmt(header))
        for r in rows:
            print(fmt(r))



def ranked(counter, n=None):
    """counter's items by count, most first, ties by key: the same order on every run (Counter's
    most_common keeps insertion order among ties, which follows set iteration order)."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return items if n is None else items[:n]

def share(n, d):
    return f"{n}/{d} ({100.0 * n / d:.1f}%)" if d else "-"


def ratio(n, d):
    return n / d if d else None


def fnum(v):
    return "" if v is None else f"{v:.6g}"


# ---- inputs --------------------------------------------------------------------------------

def read_truth(set_dir):
    path = os.path.join(set_dir, "truth.csv")
    if not os.path.exists(path):
        sys.exit(f"evaluate.py: {path} not found; make the set with scripts/realphoto/make_set.py")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def table_columns(db, table):
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def read_manifest(db_path, truth_by_file):
    """The manifest's rows for the files of truth.csv, keyed by truth file: status, signals,
    decision, group, keeper flag and reasons. Paths are matched by their suffix."""
    if not os.path.exists(db_path):
        sys.exit(f"evaluate.py: manifest {db_path} not found")
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for t in ("files", "decisions", "reasons"):
        if t not in tables:
            sys.exit(f"evaluate.py: {db_path} has no table {t}; run `vpipe scan` and `vpipe dedup`")
    depth = max(f.count("/") for f in truth_by_file) + 1
    cols = table_columns(db, "files")
    orient = "f.orientation_hashes" if "orientation_hashes" in cols else "NULL"
    files = {}
    unmatched = 0
    for (fid, path, status, phash, dhash, ohashes, decision, group_id, is_keeper,
         d_orient) in db.execute(
            f"SELECT f.id, CAST(f.path AS BLOB), f.status, f.phash, f.dhash, {orient}, "
            "d.decision, d.group_id, d.is_keeper, d.orientation "
            "FROM files f LEFT JOIN decisions d ON d.file_id = f.id"):
        parts = path.decode("utf-8", "surrogateescape").replace(os.sep, "/").split("/")
        key = None
        for k in range(min(depth, len(parts)), 0, -1):
            cand = "/".join(parts[-k:])
            if cand in truth_by_file:
                key = cand
                break
        if key is None:
            unmatched += 1
            continue
        files[key] = {"id": fid, "status": status, "phash": phash, "dhash": dhash,
                      "ohashes": ohashes, "decision": decision, "group": group_id,
                      "is_keeper": bool(is_keeper), "orientation": d_orient, "reasons": {}}
    by_id = {v["id"]: k for k, v in files.items()}
    for fid, rule, value, threshold, severity in db.execute(
            "SELECT file_id, rule, value, threshold, severity FROM reasons"):
        if fid in by_id:
            files[by_id[fid]]["reasons"][rule] = (value, threshold, severity)
    has_decisions = db.execute("SELECT count(*) FROM decisions").fetchone()[0] > 0
    db.close()
    return files, unmatched, has_decisions


# ---- sections ------------------------------------------------------------------------------

def strength_key(row):
    try:
        return float(row["strength"])
    except ValueError:
        return 0.0


def op_label(row):
    if row["role"] == "real_defect":
        return "real photo"
    return row["op"]


def strength_label(row):
    return f"{row['strength']} {row['unit']}".strip() if row["strength"] else ""


def clean_rejections(out, rows, files, top, figures):
    clean = [r for r in rows if r["expect"] == "clean"]
    rejected = [r for r in clean if files[r["file"]]["reasons"]]
    figures["clean_rejected"] = ratio(len(rejected), len(clean))
    out.heading("Clean files rejected (originals and clean near-duplicates)")
    out.line(f"rejected by any rule: {share(len(rejected), len(clean))}")
    by_rule = Counter(rule for r in rejected for rule in files[r["file"]]["reasons"])
    by_op = defaultdict(lambda: [0, 0])
    for r in clean:
        by_op[r["op"]][0] += 1
        by_op[r["op"]][1] += bool(files[r["file"]]["reasons"])
    out.line()
    out.table(["rule", "clean files it rejects"], sorted(by_rule.items(), key=lambda x: -x[1]))
    out.table(["op", "clean files", "rejected"],
              [(op, n, share(k, n)) for op, (n, k) in sorted(by_op.items())])
    worst = []
    for r in rejected:
        for rule, (value, threshold, severity) in files[r["file"]]["reasons"].items():
            worst.append((severity, r["file"], rule, value, threshold))
    worst.sort(key=lambda w: (-w[0], w[1], w[2]))
    if worst:
        out.line(f"\nworst offenders (by severity, first {min(top, len(worst))} of {len(worst)}):")
        out.table(["file", "rule", "value", "threshold"],
                  [(f, rule, f"{v:.4g}", f"{t:.4g}") for _, f, rule, v, t in worst[:top]],
                  ["l", "l", "r", "r"])


def recall(out, rows, files, rules_for, figures):
    out.heading("Recall per defect kind (borderline files excluded)")
    summary, detail = [], []
    for kind in KINDS:
        mine = [r for r in rows if r["expect"] == kind]
        meant = [r for r in mine if set(files[r["file"]]["reasons"]) & set(rules_for[kind])]
        anyr = [r for r in mine if files[r["file"]]["reasons"]]
        figures[f"recall.{kind}"] = ratio(len(meant), len(mine))
        figures[f"recall_any.{kind}"] = ratio(len(anyr), len(mine))
        summary.append((kind, ",".join(rules_for[kind]), len(mine), share(len(meant), len(mine)),
                        share(len(anyr), len(mine))))
        cells = defaultdict(list)
        for r in mine:
            cells[(op_label(r), strength_key(r), strength_label(r))].append(r)
        for (op, _, strength), rs in sorted(cells.items()):
            m = sum(1 for r in rs if set(files[r["file"]]["reasons"]) & set(rules_for[kind]))
            a = sum(1 for r in rs if files[r["file"]]["reasons"])
            others = Counter(rule for r in rs for rule in files[r["file"]]["reasons"]
                             if rule not in rules_for[kind])
            detail.append((kind, op, strength, len(rs), share(m, len(rs)), share(a, len(rs)),
                           " ".join(f"{k}:{v}" for k, v in ranked(others))))
    out.table(["kind", "rule meant for it", "files", "by that rule", "by any rule"], summary,
              ["l", "l", "r", "r", "r"])
    out.line("by op and strength:")
    out.table(["kind", "op", "strength", "files", "by that rule", "by any rule", "other rules"],
              detail, ["l", "l", "l", "r", "r", "r", "l"])

    out.heading("Borderline files (neither recall nor false rejection): share rejected")
    cells = defaultdict(list)
    for r in rows:
        if r["expect"] == "borderline":
            cells[(r["op"], strength_key(r), strength_label(r))].append(r)
    brows = []
    for (op, _, strength), rs in sorted(cells.items()):
        a = sum(1 for r in rs if files[r["file"]]["reasons"])
        rules = Counter(rule for r in rs for rule in files[r["file"]]["reasons"])
        brows.append((op, strength, len(rs), share(a, len(rs)),
                      " ".join(f"{k}:{v}" for k, v in ranked(rules))))
    out.table(["op", "strength", "files", "rejected", "rules"], brows,
              ["l", "l", "r", "r", "l"])


def keepers(out, rows, files, has_decisions, top, figures):
    out.heading("Keepers: groups that hold a base's original")
    if not has_decisions:
        out.line("no decisions in the manifest: run `vpipe dedup` first")
        figures["keeper"] = None
        return
    members = defaultdict(list)
    for r in rows:
        g = files[r["file"]]["group"]
        if g is not None:
            members[g].append(r)
    good, bad, turned_ok, turned_n = 0, [], 0, 0
    for g, rs in members.items():
        originals = [r for r in rs if r["role"] == "original"]
        if not originals:
            continue
        keeper = next((r for r in rs if files[r["file"]]["is_keeper"]), None)
        if keeper is not None and keeper["role"] == "original":
            good += 1
            for r in rs:  # how vpipe says each turned copy is turned relative to its keeper
                if r["orientation"] and r["dup_group"] == keeper["dup_group"]:
                    turned_n += 1
                    turned_ok += (files[r["file"]]["orientation"] or "") == r["orientation"]
        else:
            bad.append((originals[0]["file"], keeper["file"] if keeper else "(outside the split)",
                        (op_label(keeper) + (" " + strength_label(keeper)).rstrip())
                        if keeper else "", len(rs)))
    n = good + len(bad)
    figures["keeper"] = ratio(good, n)
    out.line(f"keeper is the original: {share(good, n)}")
    if turned_n:
        out.line(f"turned copies in those groups whose orientation vpipe names as truth.csv "
                 f"does: {share(turned_ok, turned_n)}")
    if bad:
        out.line("\nthe keeper instead of the original, by its op:")
        out.table(["keeper's op", "groups"],
                  ranked(Counter(b[2].split(" ")[0] for b in bad)), ["l", "r"])
        out.line(f"failures (first {min(top, len(bad))} of {len(bad)}):")
        out.table(["original", "keeper", "keeper's op", "group size"], sorted(bad)[:top],
                  ["l", "l", "l", "r"])


def pair_sets(rows, files, selected):
    """Truth pairs (same dup_group) and found pairs (same vpipe group) among `selected` rows;
    pairs are sorted (file, file) tuples."""
    by_group, by_vgroup = defaultdict(list), defaultdict(list)
    for r in selected:
        by_group[r["dup_group"]].append(r["file"])
        g = files[r["file"]]["group"]
        if g is not None:
            by_vgroup[g].append(r["file"])
    truth = {tuple(sorted(p)) for fs in by_group.values() for p in combinations(fs, 2)}
    found = {tuple(sorted(p)) for fs in by_vgroup.values() for p in combinations(fs, 2)}
    return truth, found


def near_pairs(out, rows, all_rows, files, has_decisions, figures):
    out.heading("Near-duplicate pairs (found = same vpipe group)")
    if not has_decisions:
        out.line("no decisions in the manifest: run `vpipe dedup` first")
        return
    by_file = {r["file"]: r for r in all_rows}
    in_split = {r["file"] for r in rows}
    table = []
    for label, key, pick in (
            ("originals + clean near-duplicates", "", lambda r: r["role"] in CLEAN_ROLES),
            ("every file with signals", "_all",
             lambda r: files[r["file"]]["status"] in SIGNAL_STATUSES)):
        # Found pairs are counted when either file is in the split, so a wrong pair across the
        # splits counts against both.
        selected = [r for r in all_rows if pick(r)]
        truth, found = pair_sets(all_rows, files, selected)
        truth = {p for p in truth if p[0] in in_split}
        found = {p for p in found if p[0] in in_split or p[1] in in_split}
        hit = truth & found
        figures[f"pair_recall{key}"] = ratio(len(hit), len(truth))
        figures[f"pair_precision{key}"] = ratio(len(hit), len(found))
        table.append((label, len(truth), len(found), share(len(hit), len(truth)),
                      share(len(hit), len(found))))
        if key == "":
            clean_truth, clean_found = truth, found
    out.table(["files", "truth pairs", "found pairs", "recall", "precision"], table,
              ["l", "r", "r", "r", "r"])

    # Each clean copy against its own original: which ops the groups miss.
    original_of = {r["dup_group"]: r["file"] for r in all_rows if r["role"] == "original"}
    per_op = defaultdict(lambda: [0, 0])
    for r in rows:
        if r["role"] != "near_duplicate" or r["dup_group"] not in original_of:
            continue
        pair = tuple(sorted((r["file"], original_of[r["dup_group"]])))
        cell = per_op[(r["op"], strength_key(r), strength_label(r))]
        cell[0] += 1
        cell[1] += pair in clean_found
    out.line("each clean copy with its original, by the copy's op:")
    out.table(["op", "strength", "pairs", "found"],
              [(op, st, n, share(k, n)) for (op, _, st), (n, k) in sorted(per_op.items())],
              ["l", "l", "r", "r"])
    misses = Counter(" + ".join(sorted((by_file[a]["op"], by_file[b]["op"])))
                     for a, b in clean_truth - clean_found)
    wrong = Counter(" + ".join(sorted((by_file[a]["op"], by_file[b]["op"])))
                    for a, b in clean_found - clean_truth)
    out.line("missed clean pairs, by the ops of their two files (most frequent 10):")
    out.table(["ops", "missed pairs"], ranked(misses, 10), ["l", "r"])
    out.line("wrong clean pairs (files of different bases in one group), by ops:")
    out.table(["ops", "wrong pairs"], ranked(wrong, 10), ["l", "r"])


def popcount(x):
    return bin(x).count("1")


try:
    (0).bit_count()
    popcount = int.bit_count  # noqa: F811 (Python >= 3.10)
except AttributeError:
    pass


def pairs_table(out, rows, all_rows, files):
    """Pair recall/precision straight from the stored hashes, for thresholds 6..16: pHash alone,
    dHash alone and both within the same threshold, with and without the orientation hashes.
    A pair is found when its distances are within the threshold (no grouping, no chain guard)."""
    out.heading("Pairs from the hashes alone (originals + clean near-duplicates)")
    in_split = {r["file"] for r in rows}
    clean = [r for r in all_rows
             if r["role"] in CLEAN_ROLES and files[r["file"]]["phash"] is not None]
    mask = (1 << 64) - 1
    ph = [files[r["file"]]["phash"] & mask for r in clean]
    dh = [files[r["file"]]["dhash"] & mask for r in clean]
    oh = [files[r["file"]]["ohashes"] for r in clean]
    have_orient = all(b is not None and len(b) == 128 for b in oh)
    if have_orient:
        op = [[int.from_bytes(b[8 * i:8 * i + 8], "little") for i in range(8)] for b in oh]
        od = [[int.from_bytes(b[64 + 8 * i:72 + 8 * i], "little") for i in range(8)] for b in oh]
    thresholds = range(6, 17)
    variants = ["phash", "dhash", "both"] + (["phash+orient", "dhash+orient", "both+orient"]
                                             if have_orient else [])
    hits = {v: [0] * len(thresholds) for v in variants}
    found = {v: [0] * len(thresholds) for v in variants}
    n_truth = 0
    top = thresholds[-1]
    for i in range(len(clean)):
        a_in = clean[i]["file"] in in_split
        gi = clean[i]["dup_group"]
        pi, di = ph[i], dh[i]
        for j in range(i + 1, len(clean)):
            if not (a_in or clean[j]["file"] in in_split):
                continue
            same = gi == clean[j]["dup_group"]
            if same and a_in:
                n_truth += 1
            dp, dd = popcount(pi ^ ph[j]), popcount(di ^ dh[j])
            cand = [("phash", dp), ("dhash", dd), ("both", max(dp, dd))]
            if have_orient:
                # the best orientation of i against j as stored; "both" needs one orientation
                # that holds for both hashes
                ps = [popcount(p ^ ph[j]) for p in op[i]]
                ds = [popcount(d ^ dh[j]) for d in od[i]]
                cand += [("phash+orient", min(ps)), ("dhash+orient", min(ds)),
                         ("both+orient", min(max(p, d) for p, d in zip(ps, ds)))]
            for v, d in cand:
                if d > top:
                    continue
                for k, t in enumerate(thresholds):
                    if d <= t:
                        found[v][k] += 1
                        if same:
                            hits[v][k] += 1
    if not have_orient:
        out.line("(no orientation hashes in the manifest: scan with `--orientations` for the "
                 "+orient columns)")
    out.line(f"truth pairs: {n_truth}; each cell is recall / precision")
    table = []
    for k, t in enumerate(thresholds):
        cells = [str(t)]
        for v in variants:
            r = hits[v][k] / n_truth if n_truth else 0.0
            p = hits[v][k] / found[v][k] if found[v][k] else 1.0
            cells.append(f"{r:.3f} / {p:.3f}")
        table.append(cells)
    out.table(["threshold"] + variants, table)


def check_asserts(asserts, figures):
    failed = []
    for a in asserts:
        m = re.fullmatch(r"\s*([\w.]+)\s*(>=|<=)\s*([0-9.eE+-]+)\s*", a)
        if not m:
            sys.exit(f"evaluate.py: bad --assert '{a}' (want KEY>=VALUE or KEY<=VALUE)")
        key, cmp, want = m.group(1), m.group(2), float(m.group(3))
        if key not in figures:
            failed.append(f"{key}: no such figure (known: {', '.join(sorted(figures))})")
            continue
        got = figures[key]
        if got is None:
            failed.append(f"{key}: no files to measure it on")
        elif (cmp == ">=" and got < want) or (cmp == "<=" and got > want):
            failed.append(f"{key} = {got:.4f}, wanted {cmp} {want:g}")
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set_dir")
    ap.add_argument("run_db")
    ap.add_argument("--split", choices=["calibration", "holdout", "all"], default="all")
    ap.add_argument("--frames", choices=["photos", "tiles", "all"], default="photos",
                    help="photos: the bases that are whole photographs, as their photographer "
                    "framed them (the headline figures); tiles: the quadrant tiles of the large "
                    "photos, where sky, water or bokeh can fill the frame (a stress test); all")
    ap.add_argument("--sources", metavar="PREFIX", default="",
                    help="only the photos whose id starts with PREFIX (e.g. 'lomiri-', the "
                    "photos added last: a hold-out no rule has been looked at against yet)")
    ap.add_argument("--markdown", action="store_true", help="tables in Markdown")
    ap.add_argument("--pairs-table", action="store_true",
                    help="pair recall/precision from the stored hashes, thresholds 6..16")
    ap.add_argument("--pairs-table-only", action="store_true",
                    help="print only the --pairs-table table (for docs/DEDUP.md)")
    ap.add_argument("--top", type=int, default=15, help="worst offenders listed (default 15)")
    ap.add_argument("--rule", action="append", default=[], metavar="KIND=RULE[,RULE]",
                    help="the rule(s) meant for a kind, e.g. hazy=hazy,low_contrast")
    ap.add_argument("--assert", dest="asserts", action="append", default=[],
                    metavar="KEY>=VALUE", help="exit 1 unless the figure holds (see above)")
    args = ap.parse_args()

    rules_for = dict(DEFAULT_RULES)
    for spec in args.rule:
        kind, _, rules = spec.partition("=")
        if kind not in rules_for or not rules:
            sys.exit(f"evaluate.py: bad --rule '{spec}' (kinds: {', '.join(KINDS)})")
        rules_for[kind] = rules.split(",")

    truth = read_truth(args.set_dir)
    truth_by_file = {r["file"]: r for r in truth}
    files, unmatched, has_decisions = read_manifest(args.run_db, truth_by_file)
    missing = [r["file"] for r in truth if r["file"] not in files]
    def framed(r):  # a tile's base is "<source>-tl" etc.; a whole photo's base is its source
        return args.frames == "all" or (r["base"] == r["source"]) == (args.frames == "photos")
    all_rows = [r for r in truth if r["file"] in files and framed(r)]
    rows = [r for r in all_rows if args.split in ("all", r["split"])
            and r["source"].startswith(args.sources)]
    out = Out(args.markdown)
    if args.pairs_table_only:
        pairs_table(out, rows, all_rows, files)
        return 0
    out.line(f"set {args.set_dir}: {len(truth)} files in truth.csv, {len(all_rows)} in the "
             f"manifest ({len(missing)} not scanned, {unmatched} manifest rows not in the set); "
             f"split {args.split}, frames {args.frames}: {len(rows)} files, "
             f"{len({r['source'] for r in rows})} photos, {len({r['base'] for r in rows})} bases")
    if missing:
        out.line(f"not in the manifest, e.g. {missing[0]}")
    if args.markdown:
        out.line()
    statuses = Counter(files[r["file"]]["status"] for r in rows)
    out.line("statuses: " + ", ".join(f"{k} {v}" for k, v in ranked(statuses)))

    figures = {}
    clean_rejections(out, rows, files, args.top, figures)
    recall(out, rows, files, rules_for, figures)
    keepers(out, rows, files, has_decisions, args.top, figures)
    near_pairs(out, rows, all_rows, files, has_decisions, figures)
    if args.pairs_table:
        pairs_table(out, rows, all_rows, files)

    out.heading("Figures")
    out.table(["figure", "value"], [(k, fnum(v)) for k, v in figures.items()], ["l", "r"])
    failed = check_asserts(args.asserts, figures)
    if failed:
        for f in failed:
            print(f"evaluate.py: FAILED {f}", file=sys.stderr)
        return 1
    if args.asserts:
        out.line(f"\nall {len(args.asserts)} asserted figures hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())

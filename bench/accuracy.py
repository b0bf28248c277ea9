#!/usr/bin/python3
"""Accuracy of a vpipe run against a synth corpus's truth.csv (docs/ACCURACY.md).

    /usr/bin/python3 bench/accuracy.py CORPUS_DIR RUN_DB

Prints Markdown: near-duplicate pair recall and precision (pairs of files sharing a truth group
against pairs sharing a vpipe group), missed pairs by kind, and per-kind reject rates.
Standard library only.
"""
import collections
import csv
import itertools
import os
import sqlite3
import sys

DEFECTS = {"blurred", "dark", "overexposed", "tiny", "truncated", "corrupt", "not_image"}


def main():
    corpus, db = sys.argv[1], sys.argv[2]
    truth = {}
    with open(os.path.join(corpus, "truth.csv"), newline="", encoding="utf-8", errors="surrogateescape") as f:
        for row in csv.DictReader(f):
            truth[os.path.normpath(os.path.abspath(os.path.join(corpus, row["path"])))] = row
    con = sqlite3.connect(db)
    con.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    rows = con.execute(
        "SELECT f.path, d.decision, d.group_id FROM files f JOIN decisions d ON d.file_id = f.id").fetchall()
    decided = {}
    truth_groups = collections.defaultdict(list)
    found_groups = collections.defaultdict(list)
    for path, decision, group in rows:
        key = os.path.normpath(os.path.abspath(path))
        if key not in truth:
            continue
        decided[key] = decision
        if group:
            found_groups[group].append(key)
    for key, row in truth.items():
        if row["group"]:
            truth_groups[row["group"]].append(key)

    def pairs(groups):
        return {tuple(sorted(p)) for g in groups.values() for p in itertools.combinations(g, 2)}

    t, p = pairs(truth_groups), pairs(found_groups)
    hit = len(t & p)
    print(f"| files | truth pairs | found pairs | recall | precision |")
    print(f"|---:|---:|---:|---:|---:|")
    print(f"| {len(decided)} | {len(t)} | {len(p)} | {hit / max(1, len(t)):.4f} | {hit / max(1, len(p)):.4f} |")
    print()
    missed = collections.Counter()
    for a, b in t - p:
        missed[" + ".join(sorted((truth[a]["kind"], truth[b]["kind"])))] += 1
    wrong = collections.Counter()
    for a, b in p - t:
        wrong[" + ".join(sorted((truth[a]["kind"], truth[b]["kind"])))] += 1
    if missed:
        print("missed pairs by kinds: " + ", ".join(f"{k} {n}" for k, n in missed.most_common(8)))
    if wrong:
        print("wrong pairs by kinds: " + ", ".join(f"{k} {n}" for k, n in wrong.most_common(8)))
    print()
    print("| kind | files | rejected | share |")
    print("|---|---:|---:|---:|")
    totals = collections.Counter(row["kind"] for key, row in truth.items() if key in decided)
    rejected = collections.Counter(truth[k]["kind"] for k, d in decided.items() if d == "reject")
    for kind in sorted(totals):
        print(f"| {kind} | {totals[kind]} | {rejected[kind]} | {rejected[kind] / totals[kind]:.3f} |")
    clean = sum(n for k, n in totals.items() if k not in DEFECTS)
    clean_rejected = sum(n for k, n in rejected.items() if k not in DEFECTS)
    print(f"| **clean, all kinds** | {clean} | {clean_rejected} | {clean_rejected / max(1, clean):.4f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Mutation fuzzing of the run readers (status, pareto, report, export) through the real command line.

Copies a finished run (its run.sqlite, search.yaml and what else is small), changes one to three
values in its database the way the 2026-12-05 campaign did (a column set to an extreme number, a
string, NULL or an empty container; or one number inside a JSON column replaced by an extreme), and
runs `spikeq status`, `pareto`, `report` and `export` on it. SQLite keeps any value in any column, so
a damaged or crafted file can hold all of these. A clean error (exit 1) or success is fine; a signal
(a Swift trap) is a bug: the mutant is kept in --out and the script exits 1. The in-process
regression tests are in Tests/RunStoreTests and Tests/ReportTests; this script is for longer
campaigns.

Usage:
  scripts/fuzz-run-store.py --spikeq .build/release/spikeq --run runs/demo [--count 500] [--seed 1] [--out /tmp/fuzz-run]
"""
import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

COLUMN_VALUES = [0, -1, 1, 2**31, 2**63 - 1, -2**63, 1e308, -1e308, 1e-308, 0.5, -0.5, 3.5, "x", "", "[]", "{}", "NaN", None]
JSON_VALUES = [0, -1, 2**53, -2**53, 1e308, -1e308, 1e-320, 0.5, 1e20, "x", None, [], {}, True]


def mutate_json(value, rng):
    """One number (or, sometimes, a whole member) somewhere inside `value` replaced by an extreme."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        value[key] = rng.choice(JSON_VALUES) if rng.random() < 0.3 else mutate_json(value[key], rng)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        value[index] = rng.choice(JSON_VALUES) if rng.random() < 0.3 else mutate_json(value[index], rng)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return rng.choice(JSON_VALUES)
    return value


def mutate(database, rng):
    """Changes one to three values of `database`; returns what was changed."""
    connection = sqlite3.connect(database)
    tables = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name != 'grdb_migrations'")]
    changes = []
    for _ in range(rng.randint(1, 3)):
        table = rng.choice(tables)
        columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        rows = connection.execute(f"SELECT rowid, * FROM {table}").fetchall()
        if not rows:
            continue
        row = rng.choice(rows)
        column = rng.randrange(len(columns))
        old = row[column + 1]
        if isinstance(old, str) and old[:1] in "[{":
            new = json.dumps(mutate_json(json.loads(old), rng))
        else:
            new = rng.choice(COLUMN_VALUES)
        try:
            connection.execute(f"UPDATE {table} SET {columns[column]} = ? WHERE rowid = ?", (new, row[0]))
            changes.append(f"{table}.{columns[column]} = {str(new)[:80]}")
        except sqlite3.DatabaseError:
            pass  # a constraint of the schema refused it
    connection.commit()
    connection.close()
    return changes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spikeq", default=".build/release/spikeq")
    parser.add_argument("--run", required=True, help="a finished run directory (e.g. runs/demo)")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="/tmp/fuzz-run-store")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = Path(args.out)
    work = out / "run"
    crashes = 0
    for index in range(args.count):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(args.run, work, ignore=shutil.ignore_patterns("artifacts", "cache", "logs", "report", "export"))
        changes = mutate(work / "run.sqlite", rng)
        for command in (["status", str(work)], ["pareto", str(work)], ["report", str(work), "--out", str(work / "report")],
                        ["export", str(work), "--out", str(work / "export")]):
            process = subprocess.run([args.spikeq] + command, capture_output=True, text=True, timeout=300)
            if process.returncode not in (0, 1):
                crashes += 1
                kept = out / f"crash-{index}"
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(work, kept)
                trace = [line.strip() for line in process.stderr.splitlines() if "Fatal" in line or "Sources/" in line][:3]
                print(f"crash: spikeq {command[0]} exited {process.returncode} after {changes}; kept {kept}", *trace, sep="\n  ", flush=True)
    print(f"{args.count} mutants, {crashes} crash(es)")
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes docs/mutants.md from the cargo-mutants runs under a directory (the latest outcome of each mutant): per module, how many mutants were caught, missed,
unviable or timed out, and every missed mutant with its explanation (docs/mutants-explained.txt:
one `<mutant as cargo-mutants names it> | <why it survives or which test catches it>` per line).
A missed mutant without an explanation makes the script exit 1."""
import importlib.util
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

runs, explained_path, summary_path, *modules = sys.argv[1:]
latest = {}
for outcomes_file in sorted(Path(runs).glob("*/mutants.out/outcomes.json")):
    for outcome in json.loads(outcomes_file.read_text())["outcomes"]:
        scenario = outcome["scenario"]
        if scenario != "Baseline":
            latest[scenario["Mutant"].get("name") or json.dumps(scenario["Mutant"], sort_keys=True)] = outcome
explained = {}
if Path(explained_path).exists():
    for line in Path(explained_path).read_text().splitlines():
        if line.strip() and not line.startswith("#") and " | " in line:
            name, why = line.split(" | ", 1)
            explained[name.strip()] = why.strip()

counts = defaultdict(Counter)
missed = []
for outcome in latest.values():
    mutant = outcome["scenario"]["Mutant"]
    file = mutant["file"]
    name = mutant.get("name") or f'{file}:{mutant["span"]["start"]["line"]}: {mutant["function"]["function_name"]}'
    summary = outcome["summary"]
    counts[file][summary] += 1
    if summary == "MissedMutant":
        missed.append((name, name))

lines = ["# Mutation testing (`make mutants`)", "",
         "cargo-mutants over the code that holds the invariants (`tools/mutants`; not in `make test`: hours",
         "on 2 cores). Each group is judged by the tests that cover it: the domain crate's handler tests, or",
         "one fleet test with the function binaries it runs relinked. In `provision_flows/mod.rs`,",
         "`start_recording.rs` and `recording/mod.rs` only the lock code is mutated (the rest is planning, URLs",
         "and playlists). The latest outcome of each mutant over the runs kept in target/mutants-runs:", ""]
lines.append("| module | caught | missed | unviable | timeout |")
lines.append("|---|---|---|---|---|")
for module in modules:
    c = counts.get(module, Counter())
    if not c:
        lines.append(f"| `{module}` | not run yet | | | |")
        continue
    lines.append(f"| `{module}` | {c['CaughtMutant']} | {c['MissedMutant']} | {c['Unviable']} | {c['Timeout']} |")
lines += ["", "## Missed mutants", ""]
unexplained = []
for name, label in missed:
    why = next((w for n, w in explained.items() if name.startswith(n) or n in name), None)
    if why is None:
        unexplained.append(name)
    lines.append(f"- `{name}` — {why or '**not explained: needs a test**'}")
if not missed:
    lines.append("None.")
lines += ["", "## DynamoDB conditions", "",
          "cargo-mutants does not mutate string literals. `tools/conditions.py` removes each condition that",
          "guards an invariant in turn (`C` becomes `(C) OR attribute_not_exists(mutantNeverSet)`: always",
          "true, with every expression value still used) and runs the tests that should notice. The latest",
          "outcome of each condition:", ""]
# The latest outcome of each condition over the runs (a run may cover some files only).
latest_conditions = {}
for run in sorted(Path(runs).glob("conditions-*.json")):
    for c in json.loads(run.read_text()):
        latest_conditions[(c["file"], c["condition"], c.get("line"))] = c
# Every condition tools/conditions.py lists shows, run or not.
spec = importlib.util.spec_from_file_location("conditions", Path(__file__).with_name("conditions.py"))
conditions_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conditions_tool)
for file, condition, occurrence, invariant, *_ in conditions_tool.CONDITIONS:
    file = conditions_tool.SRC + file
    if not any(f == file and c == condition for f, c, _ in latest_conditions):
        latest_conditions[(file, condition, -occurrence)] = {
            "file": file, "condition": condition, "invariant": invariant, "notRun": True}
if not latest_conditions:
    lines.append("Not run yet.")
else:
    lines += ["| condition | guards | fails when removed |", "|---|---|---|"]
    for c in sorted(latest_conditions.values(), key=lambda c: (c["file"], c.get("line") or 0)):
        if c.get("notRun"):
            lines.append(f'| `{c["file"].removeprefix("crates/switchboard/src/")}` `{c["condition"]}` | {c["invariant"]} | not run yet |')
            continue
        where = f'`{c["file"].removeprefix("crates/switchboard/src/")}:{c.get("line") or "?"}`'
        if c.get("caughtBy"):
            verdict = f'{c["caughtBy"]}: ' + ", ".join(f"`{t}`" for t in c["failingTests"])
        else:
            key = f'condition {c["file"]}: {c["condition"]}'
            why = explained.get(key)
            if why is None:
                unexplained.append(key)
            verdict = c.get("error") or "no test fails"
            verdict += f" — {why}" if why else " — **not explained: needs a test**"
        lines.append(f'| {where} `{c["condition"]}` | {c.get("invariant", "")} | {verdict} |')
Path(summary_path).write_text("\n".join(lines) + "\n")
print(f"{summary_path}: {sum(sum(c.values()) for c in counts.values())} mutants, {len(missed)} missed, "
      f"{len(unexplained)} unexplained (mutants and conditions)")
sys.exit(1 if unexplained else 0)

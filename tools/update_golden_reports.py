#!/usr/bin/env python3
"""Re-records tests/golden/reports/<case>.json from tests/golden/reports/cases.txt.

Run after a deliberate model change moved the numbers (say which and why in the commit):
    python3 tools/update_golden_reports.py            # uses ./build/orrery
    ORRERY=build-x/orrery python3 tools/update_golden_reports.py
The per-op list is kept as a digest, exactly as tests/examples/golden_reports_test.cpp
computes it; wall-clock fields and sections the test ignores are dropped.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
orrery = os.environ.get("ORRERY", "./build/orrery")


def digest(ops):
    names = sum(len(op["name"]) + 1 for op in ops)
    return {"count": len(ops), "start_s": sum(op["start_s"] for op in ops),
            "end_s": sum(op["end_s"] for op in ops), "flops": sum(op["flops"] for op in ops),
            "bytes": sum(op["bytes"] for op in ops), "names": names - 1 if ops else 0}


for line in open("tests/golden/reports/cases.txt"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    name, args = (part.strip() for part in line.split("|", 1))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = [orrery, "run", *shlex.split(args), "--op-records", "--report", out]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        report = json.load(open(out))
    report["ops_digest"] = digest(report.pop("ops"))
    for key in ("op_kinds", "model"):
        report.pop(key, None)
    for key in ("wall_s", "events_per_s"):
        report["sim"].pop(key, None)
    with open(f"tests/golden/reports/{name}.json", "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
    print(name, file=sys.stderr)

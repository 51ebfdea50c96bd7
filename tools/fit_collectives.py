#!/usr/bin/env python3
"""Fits the collective ceiling of an NVLink plane on tests/data/nccl_tests_nvlink.json.

The rows with role "fit" choose channel_speed_factor (what one channel moves over the speed
NCCL's ring search gives it: the one constant of the size ramp that a bus bandwidth
measurement pins down; the ring search's speeds and link credit and the protocol constants
are NCCL's own, see the JSON's nccl_constants); the "held_out" rows are only reported. It runs the real binary with --set
overrides, so the fit and the model cannot disagree.

    python3 tools/fit_collectives.py          # errors of the presets as they are
    python3 tools/fit_collectives.py --fit    # scan channel_speed_factor, print the best
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "orrery"


def busbw(system, op, algorithm, nbytes, overrides):
    with tempfile.NamedTemporaryFile(suffix=".json") as rep:
        args = [str(BIN), "run", "--system", system, "--workload", "allreduce-1gib", "--quiet",
                "--report", rep.name, "--set", f"workload.collective.op={op}",
                "--set", f"workload.collective.bytes={nbytes} B",
                "--set", f"workload.collective.algorithm={algorithm}"]
        for o in overrides:
            args += ["--set", o]
        subprocess.run(args, check=True, cwd=ROOT, capture_output=True)
        return json.load(open(rep.name))["summary"]["busbw_GBps"]


def errors(rows, overrides):
    out = []
    for m in rows:
        for b in m["bytes"]:
            got = busbw(m["system"], m["op"], m["algorithm"], b, overrides)
            out.append((m["role"], m["op"], b, got, m["busbw_GBps"], got / m["busbw_GBps"] - 1))
    return out


def report(errs):
    for role in ("fit", "held_out"):
        sel = [e for e in errs if e[0] == role]
        if sel:
            mean = sum(abs(e[5]) for e in sel) / len(sel)
            worst = max(abs(e[5]) for e in sel)
            print(f"{role:9s} rows {len(sel):2d}  mean |err| {100 * mean:5.2f}%  worst {100 * worst:5.2f}%")
    for e in errs:
        print(f"  {e[0]:9s} {e[1]:15s} {e[2]:>12d} B  {e[3]:7.1f} vs {e[4]:5.0f} GB/s  {100 * e[5]:+6.2f}%")


def main():
    data = json.load(open(ROOT / "tests" / "data" / "nccl_tests_nvlink.json"))
    rows = data["measured"]
    if "--fit" in sys.argv:
        fit_rows = [m for m in rows if m["role"] == "fit"]
        best = None
        for tenths in range(280, 321, 2):  # a channel moving 28.0 .. 32.0 GB/s of its 30
            factor = round(tenths / 300, 7)
            errs = errors(fit_rows, [f"system.planes.nvlink.channel_speed_factor={factor}"])
            mean = sum(abs(e[5]) for e in errs) / len(errs)
            print(f"channel_speed_factor {factor:.7f} ({tenths / 10:4.1f} GB/s per channel): "
                  f"fit rows mean |err| {100 * mean:.2f}%")
            if best is None or mean < best[1]:
                best = (factor, mean)
        print(f"best channel_speed_factor: {best[0]}")
        report(errors(rows, [f"system.planes.nvlink.channel_speed_factor={best[0]}"]))
    else:
        report(errors(rows, []))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fits the fused all-to-all-v constants of cloudmatrix384's UB plane on the paper's
dispatch/combine table (tests/data/cloudmatrix384_moe_a2a.json).

Model (docs/models.md, "Fused dispatch and combine"): a fused call among n ranks takes
    T = startup(op) + (n - 1) * per_peer + T_net
where T_net is what the simulator's network gives for moving the call's bytes (ports at the
plane's write efficiency, path latency). The script runs the real simulator with the
library all-to-all (moe.a2a: collective) to get T_net for every row, then solves by least
squares for per_peer (shared by dispatch and combine) and one startup per op:
    per_peer = mean over ops of ((T_256 - N_256) - (T_8 - N_8)) / (255 - 7)
    startup  = mean over the op's rows of (T - N - (n - 1) * per_peer)
Usage: python3 tools/fit_fused_a2a.py   (uses ./build/orrery or $ORRERY)
"""
import json
import os
import statistics
import subprocess
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
orrery = os.environ.get("ORRERY", "./build/orrery")
table = json.load(open("tests/data/cloudmatrix384_moe_a2a.json"))

# The scenario of the table: DeepSeek-R1 MoE layers, 128 tokens per rank (the preset runs two
# micro-batches: batch 256), no MTP, top-8 routed
# experts only (no shared-expert replicas, no redundant copies), INT8 dispatch. Eight layers
# keep the weights within a die's memory at EP8; the per-layer transfer does not depend on it.
SCENARIO = ["--system", "cloudmatrix384", "--workload", "deepseek-r1-decode-cm384",
            "--set", "workload.batch=256", "--set", "workload.mtp.draft_tokens=0",
            "--set", "workload.moe.shared_replicas=0", "--set", "workload.moe.redundant_experts=0",
            "--set", "workload.model.layers=8", "--set", "workload.seq_len=512"]


def simulate(ep, a2a):
    devices = max(ep, 16)  # a cut of cloudmatrix384 is whole nodes of 16 dies
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run([orrery, "run", *SCENARIO, "--set", f"system.devices={devices}",
                        "--set", f"workload.parallel.ep={ep}", "--set", f"workload.moe.a2a={a2a}",
                        "--op-records", "--report", out], check=True, stdout=subprocess.DEVNULL)
        ops = json.load(open(out))["ops"]
    return {k: statistics.median(o["end_s"] - o["start_s"] for o in ops if o["name"].endswith(".moe." + k))
            for k in ("dispatch", "combine")}


rows = table["rows"]
net = {ep: simulate(ep, "collective") for ep in sorted({r["ep"] for r in rows})}
lo, hi = min(net), max(net)
steps = []
for op in ("dispatch", "combine"):
    t = {r["ep"]: r["latency_us"] * 1e-6 for r in rows if r["op"] == op}
    steps.append(((t[hi] - net[hi][op]) - (t[lo] - net[lo][op])) / (hi - lo))
per_peer = statistics.mean(steps)
startup = {}
for op in ("dispatch", "combine"):
    startup[op] = statistics.mean(r["latency_us"] * 1e-6 - net[r["ep"]][op] - (r["ep"] - 1) * per_peer
                                  for r in rows if r["op"] == op)
print(f"fused_dispatch_startup: {startup['dispatch'] * 1e6:.2f} us")
print(f"fused_combine_startup: {startup['combine'] * 1e6:.2f} us")
print(f"fused_per_peer: {per_peer * 1e9:.1f} ns")
for r in rows:
    n = net[r["ep"]][r["op"]]
    pred = startup[r["op"]] + (r["ep"] - 1) * per_peer + n
    print(f"{r['op']:9s} EP{r['ep']:<4d} network {n * 1e6:7.2f} us  predicted {pred * 1e6:7.2f} us  "
          f"measured {r['latency_us']:4d} us  {100 * (pred / (r['latency_us'] * 1e-6) - 1):+.1f}%")

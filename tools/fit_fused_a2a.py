#!/usr/bin/env python3
"""Fits the fused all-to-all-v constants of a plane on a measured dispatch/combine table.

Tables (the first argument; cloudmatrix384 when omitted):
  cloudmatrix384  the UB plane of cloudmatrix384 on the paper's table
                  (tests/data/cloudmatrix384_moe_a2a.json: EP8 and EP256, INT8 dispatch)
  deepep-h800     the InfiniBand plane of h800-cluster on DeepEP's low-latency (pure RDMA)
                  table (tests/data/deepep_h800.json: EP8 ... EP256, FP8 dispatch); fitted on
                  EP8 and EP256 only, EP16/32/64/128 are held out (printed, marked "held out")
  deepep-h800-nvlink  the NVLink plane of dgx-h800 on the EP8 rows of DeepEP's low-latency
                  table after its kernels moved intra-node peers to NVLink
                  (`low_latency_nvlink`: one node, every peer over NVLink). One EP size cannot
                  separate per_peer from the startups: per_peer is the InfiniBand fit's
                  (30.4 ns, the kernels' per-peer work does not depend on the link), and each
                  op's startup is its row minus that and the network's time

Model (docs/models.md, "Fused dispatch and combine"): a fused call among n ranks takes
    T = startup(op) + (n - 1) * per_peer + T_net
where T_net is what the simulator's network gives for moving the call's bytes (ports at the
plane's write efficiency, path latency). The script runs the real simulator with the
library all-to-all (moe.a2a: collective) to get T_net for every row, then solves by least
squares for per_peer (shared by dispatch and combine) and one startup per op, on the fitted
rows (EP lo and EP hi):
    per_peer = mean over ops of ((T_hi - N_hi) - (T_lo - N_lo)) / (hi - lo)
    startup  = mean over the op's fitted rows of (T - N - (n - 1) * per_peer)
Usage: python3 tools/fit_fused_a2a.py [cloudmatrix384|deepep-h800|deepep-h800-nvlink]
       (uses ./build/orrery or $ORRERY)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
orrery = os.environ.get("ORRERY", "./build/orrery")

# cloudmatrix384: DeepSeek-R1 MoE layers, 128 tokens per rank (the preset runs two
# micro-batches: batch 256), no MTP, top-8 routed
# experts only (no shared-expert replicas, no redundant copies), INT8 dispatch. Eight layers
# keep the weights within a die's memory at EP8; the per-layer transfer does not depend on it.
# A cut of cloudmatrix384 is whole nodes of 16 dies.
# deepep-h800: tests/data/deepep_h800_decode.yaml (128 tokens per rank in one batch, FP8
# dispatch); the low-latency kernels use RDMA even between GPUs of one node, so expert
# traffic is moved off NVLink and InfiniBand carries it (at EP >= 16 InfiniBand is the only
# plane that joins the group anyway). A cut of h800-cluster is whole nodes of 8 GPUs.
TABLES = {
    "cloudmatrix384": {
        "file": "tests/data/cloudmatrix384_moe_a2a.json", "rows": lambda t: t["rows"], "fit": None,
        "devices": lambda ep: max(ep, 16),
        "args": ["--system", "cloudmatrix384", "--workload", "deepseek-r1-decode-cm384",
                 "--set", "workload.batch=256", "--set", "workload.mtp.draft_tokens=0",
                 "--set", "workload.moe.shared_replicas=0", "--set", "workload.moe.redundant_experts=0",
                 "--set", "workload.model.layers=8", "--set", "workload.seq_len=512"]},
    "deepep-h800": {
        "file": "tests/data/deepep_h800.json", "rows": lambda t: t["low_latency"]["rows"], "fit": (8, 256),
        "devices": lambda ep: max(ep, 8),
        "args": ["--system", "h800-cluster", "--workload", "tests/data/deepep_h800_decode.yaml",
                 "--set", "workload.model.layers=8",
                 "--set", "system.planes.nvlink.traffic=[collective, tensor, pipeline, data]"]},
    "deepep-h800-nvlink": {
        "file": "tests/data/deepep_h800.json",
        "rows": lambda t: [r for r in t["low_latency_nvlink"]["rows"] if r["ep"] == 8], "fit": (8, 8),
        "per_peer": 30.4e-9, "devices": lambda ep: 8,
        # NVLink declares NCCL's protocols, which the library all-to-all pays: the network's
        # own time is the fused path's with its constants at zero.
        "net": ["--set", "workload.moe.a2a=fused", "--set", "system.planes.nvlink.fused_dispatch_startup=0 us",
                "--set", "system.planes.nvlink.fused_combine_startup=0 us",
                "--set", "system.planes.nvlink.fused_per_peer=0 ns"],
        "args": ["--system", "dgx-h800", "--workload", "tests/data/deepep_h800_decode.yaml",
                 "--set", "workload.model.layers=8"]},
}
name = sys.argv[1] if len(sys.argv) > 1 else "cloudmatrix384"
if name not in TABLES:
    sys.exit(f"unknown table '{name}': one of {', '.join(TABLES)}")
spec = TABLES[name]
table = json.load(open(spec["file"]))
SCENARIO = spec["args"]


def simulate(ep, a2a, extra=()):
    devices = spec["devices"](ep)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run([orrery, "run", *SCENARIO, "--set", f"system.devices={devices}",
                        "--set", f"workload.parallel.ep={ep}", "--set", f"workload.moe.a2a={a2a}",
                        *extra, "--op-records", "--report", out], check=True, stdout=subprocess.DEVNULL)
        ops = json.load(open(out))["ops"]
    return {k: statistics.median(o["end_s"] - o["start_s"] for o in ops if o["name"].endswith(".moe." + k))
            for k in ("dispatch", "combine")}


rows = spec["rows"](table)
net = {ep: simulate(ep, "collective", spec.get("net", ())) for ep in sorted({r["ep"] for r in rows})}
lo, hi = spec["fit"] or (min(net), max(net))
fitted = [r for r in rows if r["ep"] in (lo, hi)]
if "per_peer" in spec:
    per_peer = spec["per_peer"]
else:
    steps = []
    for op in ("dispatch", "combine"):
        t = {r["ep"]: r["latency_us"] * 1e-6 for r in fitted if r["op"] == op}
        steps.append(((t[hi] - net[hi][op]) - (t[lo] - net[lo][op])) / (hi - lo))
    per_peer = statistics.mean(steps)
startup = {}
for op in ("dispatch", "combine"):
    startup[op] = statistics.mean(r["latency_us"] * 1e-6 - net[r["ep"]][op] - (r["ep"] - 1) * per_peer
                                  for r in fitted if r["op"] == op)
print(f"fused_dispatch_startup: {startup['dispatch'] * 1e6:.2f} us")
print(f"fused_combine_startup: {startup['combine'] * 1e6:.2f} us")
print(f"fused_per_peer: {per_peer * 1e9:.1f} ns")
for r in rows:
    n = net[r["ep"]][r["op"]]
    pred = startup[r["op"]] + (r["ep"] - 1) * per_peer + n
    print(f"{r['op']:9s} EP{r['ep']:<4d} network {n * 1e6:7.2f} us  predicted {pred * 1e6:7.2f} us  "
          f"measured {r['latency_us']:4d} us  {100 * (pred / (r['latency_us'] * 1e-6) - 1):+.1f}%"
          + ("" if r in fitted else "  held out"))

#!/usr/bin/env python3
"""Fits the device-side constants of the h200-sxm preset on tests/data/h200_graph_microbench.json
(CUDA-graph replay: device time per kernel, host launch excluded) and reports the error.

Runs the real simulator (build/orrery) on the workloads tools/microbench_workloads.py writes
(tests/data/h200_graph_*.yaml) with --set overrides, so the fit and the model never disagree.

  python3 tools/fit_h200.py                       # per-category error of the preset as is
  python3 tools/fit_h200.py --rows gemm           # and every row of a category
  python3 tools/fit_h200.py --fit chain,gemm      # coordinate search on those categories'
                                                  # parameters (see FIT), then print the errors
  python3 tools/fit_h200.py --system h100-sxm --only lowp_h100   # the H100 low-precision rows
  python3 tools/fit_h200.py --fit unaligned --set unaligned_bandwidth=1000 --set unaligned_gemv_max_m=4
  python3 tools/fit_h200.py --fit rows --set row_blocks=4 ...     # the row-reduction constants
                                                  # (every ROW_PARAMS name needs a start value)
                                                  # on the element-wise category's rows
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "orrery"
DATA = ROOT / "tests" / "data"
REF = json.loads((DATA / "h200_graph_microbench.json").read_text())
DEV = "system.device."
TENSOR = DEV + "engines.tensor."
VECTOR = DEV + "engines.cuda."

# category -> (workload file, measured seconds per row, label per row)
CATEGORIES = {
    "chain": ("h200_graph_chain.yaml", [r["s_per_kernel"] for r in REF["kernel_chain"]],
              [f"add_ numel {r['numel']}" for r in REF["kernel_chain"]]),
    "gemm": ("h200_graph_gemm.yaml", [r["s"] for r in REF["gemm"]],
             [f"{r['what']} M{r['M']}" for r in REF["gemm"]]),
    "attention": ("h200_graph_attention.yaml", [r["s"] for r in REF["attention_decode"]],
                  [f"B{r['B']} H{r['H']}/{r['Hkv']} D{r['D']} KV{r['KV']}{' mask' if r['bool_mask'] else ''}"
                   for r in REF["attention_decode"]]),
    "elementwise": ("h200_graph_elementwise.yaml", [r["s"] for r in REF["elementwise"]],
                    [f"{r['op']} {r['T']}x{r['C']}" for r in REF["elementwise"]]),
    "grouped": ("h200_graph_grouped.yaml", [r["s"] for r in REF["grouped_gemm"]],
                [f"{r['what']} E{r['E']} m{r['m_per_expert']}" for r in REF["grouped_gemm"]]),
    "lowp_h200": ("h200_graph_lowp_h200.yaml",
                  [r["s"] for r in REF["lowp_gemm"] if r["device"] == "H200"],
                  [f"{r['dtype']} {r['M']}x{r['K']}x{r['N']}" for r in REF["lowp_gemm"] if r["device"] == "H200"]),
    "lowp_h100": ("h200_graph_lowp_h100.yaml",
                  [r["s"] for r in REF["lowp_gemm"] if r["device"] == "H100 SXM"],
                  [f"{r['dtype']} {r['M']}x{r['K']}x{r['N']}" for r in REF["lowp_gemm"] if r["device"] == "H100 SXM"]),
}

# name -> (--set path, unit); the fitted constants, by the categories whose rows fit them.
PARAMS = {
    "kernel_overhead": (DEV + "kernel_overhead", "us"),
    "l2_efficiency": (DEV + "memory.l2.efficiency", ""),
    "hbm_efficiency": (DEV + "memory.hbm.efficiency", ""),
    "hbm_latency": (DEV + "memory.hbm.latency", "us"),
    "unit_bandwidth": (DEV + "unit_bandwidth", "GB/s"),
    "max_efficiency": (TENSOR + "max_efficiency", ""),
    "unaligned_efficiency": (TENSOR + "unaligned_efficiency", ""),
    "unaligned_bandwidth": (TENSOR + "unaligned_bandwidth", "GB/s"),
    "unaligned_gemv_max_m": (TENSOR + "unaligned_gemv_max_m", ""),
    "graph_launch": (DEV + "graph_launch", "us"),
    "pipeline_latency": (TENSOR + "pipeline_latency", "us"),
    "split_k_fixup": (TENSOR + "split_k_fixup", "us"),
    "split_k_max_m": (TENSOR + "split_k_max_m", ""),
    "decode_flash_latency": (TENSOR + "decode_flash_latency", "us"),
    "decode_masked_latency": (TENSOR + "decode_masked_latency", "us"),
    "decode_flash_bandwidth": (TENSOR + "decode_flash_bandwidth", ""),
    "decode_masked_bandwidth": (TENSOR + "decode_masked_bandwidth", ""),
    "grouped_efficiency": (TENSOR + "grouped_efficiency", ""),
    "fp8_efficiency": (TENSOR + "efficiency.fp8", ""),
    "int8_efficiency": (TENSOR + "efficiency.int8", ""),
    # row reductions (vector engine): per kernel family, and the occupancy of a unit
    "row_bandwidth_norm": (VECTOR + "row_bandwidth.norm", "GB/s"),
    "row_bandwidth_softmax": (VECTOR + "row_bandwidth.softmax", "GB/s"),
    "row_bandwidth_select": (VECTOR + "row_bandwidth.select", "GB/s"),
    "row_latency_norm": (VECTOR + "row_latency.norm", "us"),
    "row_latency_softmax": (VECTOR + "row_latency.softmax", "us"),
    "row_latency_select": (VECTOR + "row_latency.select", "us"),
    "row_blocks": (VECTOR + "row_blocks", ""),
    "row_storage": (VECTOR + "row_storage", "KB"),
    "row_threads": (VECTOR + "row_threads", ""),
    "row_bandwidth_softmax_block": (VECTOR + "row_bandwidth.softmax_block", "GB/s"),
    "row_latency_softmax_block": (VECTOR + "row_latency.softmax_block", "us"),
}
ROW_PARAMS = ["row_bandwidth_norm", "row_bandwidth_softmax", "row_bandwidth_select",
              "row_latency_norm", "row_latency_softmax", "row_latency_select", "row_blocks",
              "row_storage", "row_threads"]
FIT = {
    "chain": ["kernel_overhead", "l2_efficiency"],
    "elementwise": ["graph_launch"],
    # the layernorm, softmax and argmax rows of the element-wise category (graph_launch is
    # fitted on its small point-wise rows first)
    "rows": ROW_PARAMS,
    "gemm": ["hbm_efficiency", "pipeline_latency", "split_k_fixup", "unaligned_efficiency",
             "max_efficiency"],
    "attention": ["decode_flash_latency", "decode_masked_latency", "decode_flash_bandwidth",
                  "decode_masked_bandwidth"],
    "grouped": ["grouped_efficiency"],
    # the block-per-row softmax (rows longer than 2,048) and the threads a unit holds, on the
    # element-wise rows, after "rows"
    "block_softmax": ["row_latency_softmax_block", "row_bandwidth_softmax_block", "row_threads"],
    # the unaligned GEMM kernel's streaming rate, on the gemm rows (unaligned_gemv_max_m is
    # read off them: the LM-head rows step up between M = 4 and M = 8)
    "unaligned": ["unaligned_bandwidth"],
    "lowp_h200": ["fp8_efficiency", "int8_efficiency"],
    "lowp_h100": ["fp8_efficiency", "int8_efficiency"],
}


def set_args(overrides):
    args = []
    for k, v in overrides.items():
        path, unit = PARAMS[k]
        v = int(v) if k in ("split_k_max_m", "unaligned_gemv_max_m") else v
        args += ["--set", f"{path}={v}{' ' + unit if unit else ''}"]
    return args


def simulate(system, category, overrides):
    wl, _, _ = CATEGORIES[category]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [str(BIN), "run", "--system", system, "--workload", str(DATA / wl), "--quiet",
               "--report", out.name] + set_args(overrides)
        subprocess.run(cmd, check=True)
        return [m["time_s"] for m in json.loads(pathlib.Path(out.name).read_text())["microbench"]]


def errors(system, category, overrides):
    sims = simulate(system, category, overrides)
    meas = CATEGORIES[category][1]
    assert len(sims) == len(meas), (category, len(sims), len(meas))
    return [(s - m) / m for s, m in zip(sims, meas)], sims


def mae(errs):
    return sum(abs(e) for e in errs) / len(errs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", default="h200-sxm")
    ap.add_argument("--fit", default="", help="comma-separated categories to fit")
    ap.add_argument("--rows", default="", help="comma-separated categories to print row by row")
    ap.add_argument("--only", default="", help="comma-separated categories to report")
    ap.add_argument("--set", action="append", default=[], help="name=value start point")
    args = ap.parse_args()
    cur = {}
    for s in args.set:
        k, v = s.split("=")
        cur[k] = float(v)
    for cat in filter(None, args.fit.split(",")):
        names = FIT[cat]
        for k in names:
            if k not in cur:
                raise SystemExit(f"give a start value: --set {k}=...")
        data = {"rows": "elementwise", "block_softmax": "elementwise", "unaligned": "gemm"}.get(cat, cat)
        best = mae(errors(args.system, data, cur)[0])
        step = 0.2
        while step > 0.004:
            improved = False
            for k in names:
                for f in (1 - step, 1 + step):
                    trial = dict(cur, **{k: round(cur[k] * f, 4)})
                    if k.endswith("efficiency") or k.endswith("bandwidth") and "unit" not in k and "unaligned" not in k:
                        if trial[k] > 1:
                            continue
                    if k == "row_blocks" and trial[k] < 1:
                        continue
                    loss = mae(errors(args.system, data, trial)[0])
                    if loss < best - 1e-5:
                        best, cur, improved = loss, trial, True
            if not improved:
                step /= 2
            print(f"{cat}: step {step:.3f} loss {best:.4f} {cur}", flush=True)
    cats = [c for c in (args.only.split(",") if args.only else CATEGORIES) if c]
    if not args.only and args.system != "h200-sxm":
        cats = [c for c in cats if c != "lowp_h200"]
    for c in cats:
        if c == "lowp_h100" and args.system == "h200-sxm" and not args.only:
            continue
        errs, sims = errors(args.system, c, cur)
        if c in args.rows.split(","):
            for label, m, s, e in zip(CATEGORIES[c][2], CATEGORIES[c][1], sims, errs):
                print(f"  {label:40s} meas {m * 1e6:9.2f}us sim {s * 1e6:9.2f}us {100 * e:+6.1f}%")
        print(f"{c:12s} mean abs error {100 * mae(errs):5.1f}%  (mean signed {100 * sum(errs) / len(errs):+5.1f}%)")


if __name__ == "__main__":
    main()

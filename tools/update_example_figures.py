#!/usr/bin/env python3
"""Re-computes the tables of the example READMEs (examples/*/README.md) from the simulator.

Each table below is produced by the same runs the README's shell block documents. The tool
prints every table; with --write it replaces the rows under the table's header line in the
README (the header must match exactly, or the tool stops with an error). Figures quoted in the
prose (of the examples without a table too) are printed as a list but never written: re-read
the prose and update it by hand, including any claim the new numbers change.

    python3 tools/update_example_figures.py            # print, using ./build/orrery
    python3 tools/update_example_figures.py --write    # and rewrite the README tables
    ORRERY=build-x/orrery python3 tools/update_example_figures.py

Run it after a model change that moves the examples (say which in the commit message).
If a README's commands change, change its function here too.
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


def run(args, ops=False):
    """The report JSON of `orrery run ARGS`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = [orrery, "run", *shlex.split(args), "--quiet", "--report", out]
        if ops:
            cmd.append("--op-records")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def median_op_time(report, tail):
    """Median duration of the ops whose name ends in TAIL (as tests/support/run_cli.cpp)."""
    times = sorted(op["end_s"] - op["start_s"] for op in report["ops"] if op["name"].endswith(tail))
    return times[len(times) // 2]


def kind_time(report, category):
    return sum(k["time_s"] for k in report["op_kinds"] if k["category"] == category)


def a2a_time(report):
    return kind_time(report, "all_to_all_v")


def share(report, resource):
    return sum(b["critical_path_share"] for b in report["bottlenecks"] if b["resource"] == resource)


def ms(s, digits=1):
    return f"{s * 1e3:.{digits}f} ms"


def gb(b):
    return f"{b / 1e9:.1f} GB"


def data_parallel_scaling():
    w = " --workload examples/data-parallel-scaling/train.yaml"
    slow = " --set 'system.planes.infiniband.link_bandwidth=50 Gb/s'"
    systems = [("h100-sxm", "h100-sxm", "", 1, "—"),
               ("dgx-h100", "dgx-h100", "", 8, "NVLink (450 GB/s per GPU)"),
               ("h100-cluster-64", "h100-cluster-64", "", 64,
                "NVLink inside nodes, InfiniBand between (8 × 400 Gb/s per node)"),
               ("h100-cluster-64, 50 Gb/s NICs", "h100-cluster-64", slow, 64, "same, NICs at 1/8")]
    reports = {label: run(f"--system {s}{w}{extra}")["summary"] for label, s, extra, _, _ in systems}
    one = reports["h100-sxm"]["tokens_per_s"]
    rows = []
    for label, _, _, gpus, over in systems:
        r = reports[label]
        k = r["tokens_per_s"] / 1e3
        tokens = f"{k:.1f} k" if k < 100 else f"{k:,.0f} k"
        rows.append(f"| {label} | {gpus} | {over} | {r['step_time_s'] * 1e3:.0f} ms | {tokens} | "
                    f"{100 * r['tokens_per_s'] / (gpus * one):.0f}% |")
    dgx, cl = reports["dgx-h100"], reports["h100-cluster-64"]
    sl = reports["h100-cluster-64, 50 Gb/s NICs"]
    prose = [f"dgx-h100 all-reduce {ms(dgx['comm_s'])}, exposed {ms(dgx['comm_exposed_s'])}",
             f"h100-cluster-64 all-reduce {ms(cl['comm_s'])}, exposed {ms(cl['comm_exposed_s'])}",
             f"50 Gb/s NICs: all-reduce {ms(sl['comm_s'])}, exposed {ms(sl['comm_exposed_s'])}"]
    return "| system | GPUs | all-reduce over | step | tokens/s | scaling efficiency |", rows, prose


def deepseek_dispatch_vs_ep():
    def args(ep, a2a, batch=256):
        return (f"--system cloudmatrix384 --workload deepseek-r1-decode-cm384 "
                f"--set system.devices={16 if ep < 16 else ep} --set workload.parallel.ep={ep} "
                f"--set workload.batch={batch} --set workload.mtp.draft_tokens=0 "
                f"--set workload.moe.shared_replicas=0 --set workload.moe.redundant_experts=0 "
                f"--set workload.model.layers=8 --set workload.seq_len=512 --set workload.moe.a2a={a2a}")
    rows = []
    for ep in (8, 16, 32, 64, 128, 256):
        cells = []
        for a2a in ("fused", "collective"):
            r = run(args(ep, a2a), ops=True)
            cells += [median_op_time(r, ".moe.dispatch"), median_op_time(r, ".moe.combine")]
        rows.append(f"| {ep} | " + " | ".join(f"{t * 1e6:.1f}" for t in cells) + " |")
    # Tokens per die at EP256: a batch is two micro-batches of batch/2 tokens.
    prose = []
    for tokens in (32, 256):
        r = run(args(256, "fused", batch=2 * tokens), ops=True)
        prose.append(f"EP256 fused dispatch at {tokens} tokens per die: "
                     f"{median_op_time(r, '.moe.dispatch') * 1e6:.0f} us")
    header = ("| EP | fused dispatch (µs) | fused combine (µs) | library dispatch (µs) | "
              "library combine (µs) |")
    return header, rows, prose


def deepseek_r1_decode_cm384():
    base = "--system cloudmatrix384 --set system.devices=320 --workload deepseek-r1-decode-cm384"
    variants = [("on", "on", ""), ("on", "off", " --set workload.overlap.enabled=false"),
                ("off", "on", " --set workload.mtp.draft_tokens=0")]
    rows, tpot = [], {}
    for b in (16, 32, 48, 64):
        for mtp, overlap, extra in variants:
            s = run(f"{base} --set workload.batch={b}{extra}")["summary"]
            tpot[b, mtp, overlap] = s["tpot_s"]
            rows.append(f"| {b} | {mtp} | {overlap} | {ms(s['step_time_s'])} | {ms(s['tpot_s'])} | "
                        f"{2 * b / s['tpot_s']:,.0f} | {gb(s['peak_memory_bytes'])} |")
    half = (" --set system.planes.ub.link_bandwidth=14GB/s"
            " --set system.planes.ub.uplink_bandwidth=14GB/s")
    full, slow = run(f"{base}"), run(f"{base}{half}")
    serial_half = run(f"{base} --set workload.overlap.enabled=false{half}")["summary"]
    one = run(f"{base} --set workload.parallel.microbatches=1 --set workload.overlap.enabled=false")
    moe = full["moe"]
    low = {b: run(f"{base} --set workload.batch={b} --set workload.parallel.microbatches=1 "
                  f"--set workload.overlap.enabled=false") for b in (2, 4)}
    prose = [
        f"MTP lowers TPOT by {100 * (1 - tpot[16, 'on', 'on'] / tpot[16, 'off', 'on']):.0f}% at 16, "
        f"{100 * (1 - tpot[64, 'on', 'on'] / tpot[64, 'off', 'on']):.0f}% at 64",
        f"at 48, two micro-batches one after the other are "
        f"{100 * (tpot[48, 'on', 'off'] / one['summary']['tpot_s'] - 1):.0f}% slower than one "
        f"(microbatches=1: TPOT {ms(one['summary']['tpot_s'])}); overlapped, the step is "
        f"{100 * (1 - tpot[48, 'on', 'on'] / tpot[48, 'on', 'off']):.0f}% shorter than without overlap",
        f"half UB: dispatch+combine {ms(a2a_time(slow))} instead of {ms(a2a_time(full))}; TPOT "
        f"{ms(full['summary']['tpot_s'])} -> {ms(slow['summary']['tpot_s'])}; without overlap "
        f"{ms(tpot[48, 'on', 'off'])} -> {ms(serial_half['tpot_s'])}",
        "low latency, one micro-batch: " + "; ".join(
            f"{b} per die: step {ms(r['summary']['step_time_s'])}, TPOT {ms(r['summary']['tpot_s'])}, "
            f"GEMMs {ms(kind_time(r, 'gemm'))}, dispatch+combine {ms(a2a_time(r))}" for b, r in low.items()),
        f"(token, expert) assignments per layer and micro-batch: busiest "
        f"{moe['assignments_per_rank_max']:.0f}, mean {moe['assignments_per_rank_mean']:.0f}",
    ]
    header = ("| sequences per die | MTP | overlap | step | TPOT | tokens/s per NPU | "
              "peak memory per die |")
    return header, rows, prose


def mixtral_tp_vs_ep():
    base = "--system dgx-h100 --workload examples/mixtral-tp-vs-ep/decode.yaml"
    decode_tokens = 64  # decode.yaml
    rows = []
    for layout, devices in (("tp", 1), ("ep", 8)):
        for b in (1, 8, 64):
            s = run(f"{base} --set workload.batch={b} --set workload.parallel.{layout}=8")["summary"]
            rows.append(f"| {layout} 8 | {b} | {b * devices} | {ms(s['tpot_s'], 2)} | "
                        f"{s['tokens_per_s']:,.0f} | {s['comm_s'] / decode_tokens * 1e6:.0f} µs | "
                        f"{gb(s['peak_memory_bytes'])} |")
    header = ("| layout | batch per rank | sequences in the system | TPOT | tokens/s (system) | "
              "network per token | peak memory per GPU |")
    return header, rows, []


def decode_memory_bound():
    base = "--system h100-sxm --workload examples/decode-memory-bound/decode.yaml"
    b1, b64 = run(base), run(f"{base} --set workload.batch=64")
    shares = [f"batch {b}: " + ", ".join(f"{x['resource']} {100 * x['critical_path_share']:.0f}%"
                                         for x in r["bottlenecks"] if x["critical_path_share"] >= 0.01)
              for b, r in ((1, b1), (64, b64))]
    return None, [], shares + [
        f"TPOT x{b64['summary']['tpot_s'] / b1['summary']['tpot_s']:.2f}, "
        f"MFU x{b64['summary']['mfu'] / b1['summary']['mfu']:.0f} from batch 1 to 64"]


def genslm_sequence_length():
    base = "--system h100-sxm --workload examples/genslm-sequence-length/train.yaml"
    short = run(base)
    long = run(f"{base} --set workload.seq_len=10240 --set workload.model.max_positions=10240")

    def attention(r):  # as tests/examples/examples_test.cpp
        flops = sum(k["flops"] for k in r["op_kinds"] if k["category"].startswith("attention"))
        return flops / r["summary"]["model_flops"]
    return None, [], [
        f"attention share of the matrix FLOPs {100 * attention(short):.0f}% -> {100 * attention(long):.0f}%",
        f"MFU {100 * short['summary']['mfu']:.1f}% -> {100 * long['summary']['mfu']:.1f}%, tokens/s "
        f"{short['summary']['tokens_per_s']:,.0f} -> {long['summary']['tokens_per_s']:,.0f}, peak memory "
        f"{gb(short['summary']['peak_memory_bytes'])} -> {gb(long['summary']['peak_memory_bytes'])}"]


def gpt2_xl_training():
    w = "--workload examples/gpt2-xl-training/train.yaml"
    s = {gpu: run(f"--system {gpu} {w}")["summary"] for gpu in ("a100-sxm-80gb", "h100-sxm", "h200-sxm")}
    return None, [], [f"{gpu}: step {ms(r['step_time_s'])}, MFU {100 * r['mfu']:.1f}%, peak memory "
                       f"{gb(r['peak_memory_bytes'])}" for gpu, r in s.items()]


def gradient_accumulation():
    base = "--system dgx-h100 --workload examples/gradient-accumulation/train.yaml"
    prose = []
    for k in (1, 2, 4, 8, 16, 32):
        s = run(f"{base} --set workload.grad_accum={k}")["summary"]
        prose.append(f"k = {k}: all-reduce {100 * s['comm_s'] / s['step_time_s']:.2f}% of the step "
                     f"(exposed {100 * s['comm_exposed_s'] / s['step_time_s']:.2f}%)")
    return None, [], prose


EXAMPLES = {
    "data-parallel-scaling": data_parallel_scaling,
    "deepseek-dispatch-vs-ep": deepseek_dispatch_vs_ep,
    "deepseek-r1-decode-cm384": deepseek_r1_decode_cm384,
    "mixtral-tp-vs-ep": mixtral_tp_vs_ep,
    # No table: figures quoted in the prose only.
    "decode-memory-bound": decode_memory_bound,
    "genslm-sequence-length": genslm_sequence_length,
    "gpt2-xl-training": gpt2_xl_training,
    "gradient-accumulation": gradient_accumulation,
}


def replace_rows(text, header, rows, path):
    lines = text.split("\n")
    if lines.count(header) != 1:
        sys.exit(f"{path}: the table header was not found exactly once:\n  {header}")
    start = lines.index(header) + 2  # header, then the |---| line
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[:start] + rows + lines[end:])


def main():
    write = "--write" in sys.argv[1:]
    for name, make in EXAMPLES.items():
        path = f"examples/{name}/README.md"
        header, rows, prose = make()
        print(f"== {path}")
        if header:
            print(header + "\n" + "\n".join(rows))
        for line in prose:
            print(f"  prose: {line}")
        if write and header:
            with open(path) as f:
                text = f.read()
            new = replace_rows(text, header, rows, path)
            if new != text:
                with open(path, "w") as f:
                    f.write(new)
                print(f"  {path}: table rewritten")
    others = sorted(set(os.listdir("examples")) - set(EXAMPLES))
    if others:
        print("Examples this tool does not run (check their prose by hand): " + ", ".join(others))


if __name__ == "__main__":
    main()

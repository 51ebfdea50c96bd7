#!/usr/bin/env python3
"""Fuzz harness for the orrery CLI: every malformed or absurd input must end in exit 0 (a sane
report), 2 (a clear error) or 3 (does not fit, with a breakdown). Python standard library only.

Seeds are the YAML files the repository ships (examples/, hw/devices/, topologies/,
workloads/models/, workloads/presets/, tests/data/) and the runs of the golden reports. Each case
mutates a system and/or a workload document (tools/fuzz/mutate.py) and/or adds --set overrides,
runs `orrery run` with a timeout, and classifies the outcome. A failure is any of
  crash      killed by a signal (segfault, abort, ...)
  hang       still running after --timeout seconds
  sanitizer  an AddressSanitizer/UBSan report on stderr (build-asan)
  internal   exit 1 ("internal error"), or any exit code other than 0, 2, 3
  unclear    exit 2 or 3 without a one-line "error: ..." message
  report     exit 0 with a non-finite value (null in the JSON) or a negative quantity in the
             report (the summary on stdout is made from the same numbers; it also echoes names,
             which may legitimately read "NaN")
Each failure is saved as a reproducer under <out>/failures/<case>/ (the documents, the command
line and stderr). Deterministic: the same --seed and --cases give the same inputs.

    python3 tools/fuzz/fuzz.py --cases 2000 --seed 1          # what CI runs
    python3 tools/fuzz/fuzz.py --minutes 30 --jobs 2          # ./setup.sh fuzz 30
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def indent(text, by="  "):
    return "\n".join(by + l if l.strip() else l for l in text.split("\n"))


def files(folder, ext=".yaml"):
    out = []
    for dirpath, _, names in sorted(os.walk(os.path.join(ROOT, folder))):
        for n in sorted(names):
            if n.endswith(ext):
                out.append(os.path.relpath(os.path.join(dirpath, n), ROOT))
    return out


def load_seeds():
    """(systems, workloads, pairs): documents as text, and known-good (system, workload, sets)."""
    systems = {p: read(p) for p in files("topologies")}
    for p in files("hw/devices"):
        systems[p] = "name: fuzz\ndevice:\n" + indent(read(p)) + "\n"
        systems[p + "+2"] = ("name: fuzz2\ndevice:\n" + indent(read(p)) + "\ndevices: 2\n"
                             "planes:\n  link:\n    topology: switch\n    link_bandwidth: 100 GB/s\n")
    systems["graph"] = ("name: g\ndevice: h100-sxm\ndevices: 4\nplanes:\n  g:\n    topology: graph\n"
                        "    link_bandwidth: 100 GB/s\n    switches: [s0]\n    links:\n"
                        "      - [d0, s0]\n      - {a: d1, b: s0, bandwidth: 50 GB/s, latency: 2 us}\n"
                        "      - [d2, s0]\n      - [d3, s0]\n")
    workloads = {}
    for folder in ("workloads/presets", "examples", "tests/data"):
        for p in files(folder):
            text = read(p)
            if re.search(r"^phase:", text, re.M):
                workloads[p] = text
    for p in files("workloads/models"):
        for phase, extra in (("prefill", "batch: 1\nseq_len: 128\n"), ("decode", "batch: 1\nseq_len: 128\ndecode_tokens: 2\n"),
                             ("train", "batch: 1\nseq_len: 128\n"), ("block", "batch: 1\nseq_len: 128\n")):
            workloads[f"{p}:{phase}"] = f"phase: {phase}\n{extra}model:\n" + indent(read(p)) + "\n"
    pairs = []
    for line in open(os.path.join(ROOT, "tests/golden/reports/cases.txt")):
        if line.strip() and not line.startswith("#"):
            pairs.append(shlex.split(line.split("|", 1)[1]))
    pairs += [["--system", "dgx-h100", "--workload", "allreduce-1gib"],
              ["--system", "cloudmatrix384", "--workload", "point-to-point"],
              ["--system", "h100-sxm", "--workload", "tests/data/block.yaml"],
              ["--system", "h100-sxm", "--workload", "gpt2-xl-decode"],
              ["--system", "h100-sxm", "--workload", "tests/data/h100_microbench_elementwise.yaml"]]
    return systems, workloads, pairs


def arg_of(args, flag):
    return args[args.index(flag) + 1]


def make_case(rng, seeds):
    """One case: (system text or preset, workload text or preset, --set list, mutation names)."""
    systems, workloads, pairs = seeds
    names = []
    if rng.random() < 0.5:
        base = rng.choice(pairs)
        sys_arg, wl_arg = arg_of(base, "--system"), arg_of(base, "--workload")
        sets = [base[i + 1] for i, a in enumerate(base) if a == "--set"]
        sys_text = read(sys_arg) if sys_arg.endswith(".yaml") else (
            read(f"topologies/{sys_arg}.yaml") if os.path.exists(os.path.join(ROOT, f"topologies/{sys_arg}.yaml"))
            else "name: fuzz\ndevice:\n" + indent(read(f"hw/devices/{sys_arg}.yaml")) + "\n")
        wl_text = read(wl_arg) if wl_arg.endswith(".yaml") else read(f"workloads/presets/{wl_arg}.yaml")
    else:
        sys_text = systems[rng.choice(sorted(systems))]
        wl_text = workloads[rng.choice(sorted(workloads))]
        sets = []
    r = rng.random()
    count = rng.choice([1, 1, 1, 2, 3])
    if r < 0.35:
        sys_text, n = mutate.mutate(sys_text, rng, count)
        names += ["system:" + x for x in n]
    elif r < 0.75:
        wl_text, n = mutate.mutate(wl_text, rng, count)
        names += ["workload:" + x for x in n]
    elif r < 0.85:
        sys_text, n = mutate.mutate(sys_text, rng, 1)
        wl_text, m = mutate.mutate(wl_text, rng, 1)
        names += ["system:" + x for x in n] + ["workload:" + x for x in m]
    if rng.random() < 0.3 or r >= 0.85:
        paths = mutate.set_paths(sys_text, "system") + mutate.set_paths(wl_text, "workload")
        paths += ["workload.batch", "workload.iterations", "workload.grad_accum", "workload.repeat",
                  "workload.parallel.microbatches", "workload.model.layers", "system.devices",
                  "workload.parallel.tp", "workload.seq_len", "workload.decode_tokens", "system.x", "workload",
                  "workload.model.preset", "system.device.preset", "system.planes.nvlink.radix"]
        for _ in range(rng.choice([1, 1, 2])):
            p = rng.choice(paths)
            v = rng.choice([mutate.scalar_value(rng), mutate.scalar_value(rng), mutate.deep(rng),
                            rng.choice(mutate.HUGE_COUNTS), rng.choice(mutate.CONTROL) + "x"])
            v = v.replace("\x00", "")  # a command-line argument cannot hold a NUL byte
            sets.append(f"{p}={v}" if rng.random() < 0.95 else rng.choice([p, "=", f"{p}=", f".{p}=1", f"{p}..x=1"]))
            names.append("set:" + p)
    utf8 = rng.random() < 0.03
    if utf8:
        names.append("invalid_utf8")
    return sys_text, wl_text, sets, names, utf8


FAIL_SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


# Report fields that are null by design (not applicable to the phase).
NULLABLE = (".ttft_s", ".tpot_s")


def bad_report_values(node, path="report"):
    """Non-finite (null) or negative numbers in a report, the echoed inputs aside."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "inputs":
                continue
            yield from bad_report_values(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from bad_report_values(v, f"{path}[{i}]")
    elif node is None and not path.endswith(NULLABLE):
        yield f"{path} is null (NaN or infinity)"
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and node < 0:
        yield f"{path} = {node} is negative"


def classify(rc, out, err, report_path, timed_out):
    if timed_out:
        return "hang"
    if FAIL_SANITIZER.search(err):
        return "sanitizer"
    if rc < 0:
        return "crash"
    if rc in (2, 3):
        first = err.split("\n", 1)[0]
        return None if first.startswith("error: ") and len(first) > 10 else "unclear"
    if rc != 0:
        return "internal"
    try:
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        return "report"
    return "report" if next(bad_report_values(report), None) else None


ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")


def run_process(cmd, timeout):
    """One `orrery run` as its own process: (exit code or -signal, stdout, stderr, timed out)."""
    try:
        for attempt in range(5):  # the binary may be being relinked
            try:
                p = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout, env=ENV)
                break
            except OSError:
                if attempt == 4:
                    raise
                time.sleep(2)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace"), (e.stderr or b"").decode("utf-8", "replace"), True


class Batch:
    """A long-lived `orrery batch` process (one per worker thread and binary): each case is a
    JSON line in and a JSON line out, and runs in a child forked from it, which skips the
    ~20 ms process start-up of `orrery run` (mostly SystemC's static initialisation)."""

    all = []  # every batch process started, closed at the end of the campaign

    def __init__(self, binary, timeout):
        self.binary, self.timeout, self.proc = binary, timeout, None
        Batch.all.append(self)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # end of input: the batch process exits when its run is done
            try:
                self.proc.wait(timeout=self.timeout + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def run(self, cmd):
        line = json.dumps(cmd[1:], ensure_ascii=False).encode("utf-8") + b"\n"  # UnicodeEncodeError: not representable
        for attempt in range(2):
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen([self.binary, "batch", "--timeout", str(self.timeout)], cwd=ROOT,
                                             env=dict(ENV, LD_BIND_NOW="1"),  # bind symbols once, not per child
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
                reply = self.proc.stdout.readline()
            except OSError:
                reply = b""
            if reply:
                r = json.loads(reply)
                rc = r["exit"] if r["exit"] is not None else (-r["signal"] if r["signal"] else None)
                return rc, r["stdout"], r["stderr"], r["timed_out"]
            self.proc.kill()  # the batch process itself died: start another and run the case again
            self.proc.wait()
            self.proc = None
        raise RuntimeError(f"{self.binary} batch stopped answering")


_local = threading.local()


def execute(binary, cmd, timeout, mode):
    """Runs `cmd` through a batch process (mode 'batch') or as its own process (mode 'process')."""
    if mode == "batch":
        batches = getattr(_local, "batches", None)
        if batches is None:
            batches = _local.batches = {}
        if binary not in batches:
            batches[binary] = Batch(binary, timeout)
        try:
            return batches[binary].run(cmd)
        except UnicodeEncodeError:
            pass  # an argument that is not valid UTF-8 cannot travel in JSON: run it as a process
    return run_process(cmd, timeout)


def run_case(index, seed, seeds, binary, timeout, workdir, keep=False, mode="batch"):
    rng = random.Random(f"{seed}:{index}")
    sys_text, wl_text, sets, names, utf8 = make_case(rng, seeds)
    d = os.path.join(workdir, f"case{index}")
    os.makedirs(d, exist_ok=True)
    sys_bytes, wl_bytes = sys_text.encode("utf-8", "surrogatepass"), wl_text.encode("utf-8", "surrogatepass")
    if utf8:
        if rng.random() < 0.5:
            sys_bytes = mutate.invalid_utf8(sys_bytes, rng)
        else:
            wl_bytes = mutate.invalid_utf8(wl_bytes, rng)
    paths = {"system": os.path.join(d, "system.yaml"), "workload": os.path.join(d, "workload.yaml")}
    with open(paths["system"], "wb") as f:
        f.write(sys_bytes)
    with open(paths["workload"], "wb") as f:
        f.write(wl_bytes)
    report = os.path.join(d, "report.json")
    cmd = [binary, "run", "--system", paths["system"], "--workload", paths["workload"], "--report", report]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.monotonic()
    rc, out, err, timed_out = execute(binary, cmd, timeout, mode)
    wall = time.monotonic() - t0
    verdict = classify(rc, out, err, report, timed_out)
    if verdict or keep:
        shown = ["orrery", "run", "--system", "system.yaml", "--workload", "workload.yaml"]
        for s in sets:
            shown += ["--set", s]
        with open(os.path.join(d, "cmd.txt"), "w") as f:
            f.write("# from this folder (inputs with invalid UTF-8 or control characters are in the files):\n")
            f.write(" ".join(shlex.quote(c) for c in shown) + "\n")
        with open(os.path.join(d, "stderr.txt"), "w") as f:
            f.write(err)
        with open(os.path.join(d, "verdict.txt"), "w") as f:
            f.write(f"{verdict or 'pass'} exit={rc} wall={wall:.1f}s mutations={' '.join(names)}\n")
    else:
        for n in os.listdir(d):
            os.remove(os.path.join(d, n))
        os.rmdir(d)
    return index, verdict, rc, wall, names, err.split("\n", 1)[0][:200]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=0, help="number of cases (default: unlimited with --minutes)")
    ap.add_argument("--minutes", type=float, default=0, help="stop starting cases after this many minutes")
    ap.add_argument("--seed", default="1", help="campaign seed (case i uses seed:i)")
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=60, help="seconds before a case counts as a hang")
    ap.add_argument("--binary", action="append", help="orrery binaries (default: build/orrery and build-asan/orrery if present)")
    ap.add_argument("--mode", choices=["batch", "process"], default="batch",
                    help="run cases in children of one `orrery batch` per worker (fast) or as separate processes")
    ap.add_argument("--keep", action="store_true", help="keep every case's inputs, not only failures")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "fuzz"), help="where reproducers go")
    a = ap.parse_args()
    if not a.cases and not a.minutes:
        a.cases = 2000
    binaries = a.binary or [b for b in (os.path.join(ROOT, "build", "orrery"), os.path.join(ROOT, "build-asan", "orrery"))
                            if os.path.exists(b)]
    if not binaries:
        sys.exit("no orrery binary: build first (./setup.sh test)")
    seeds = load_seeds()
    os.makedirs(a.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="fuzz-", dir=a.out)
    deadline = time.monotonic() + a.minutes * 60 if a.minutes else None
    passed, failed, exits, slow = 0, 0, {}, []
    started = time.monotonic()
    next_progress = started + 60
    kinds = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        pending, i = set(), a.start
        end = a.start + a.cases if a.cases else None
        while True:
            while len(pending) < 2 * a.jobs and (end is None or i < end) and (deadline is None or time.monotonic() < deadline):
                for b in binaries:
                    pending.add(pool.submit(run_case, i, a.seed, seeds, b, a.timeout, os.path.join(workdir, os.path.basename(os.path.dirname(b))), a.keep, a.mode))
                i += 1
            if not pending:
                break
            done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in done:
                index, verdict, rc, wall, names, first = fut.result()
                exits[rc] = exits.get(rc, 0) + 1
                if wall > 5:
                    slow.append((wall, index))
                if verdict:
                    failed += 1
                    kinds[verdict] = kinds.get(verdict, 0) + 1
                    print(f"FAIL case {index}: {verdict} (exit {rc}, {wall:.1f} s) {' '.join(names)}: {first}", flush=True)
                else:
                    passed += 1
                if time.monotonic() >= next_progress:
                    runs = passed + failed
                    print(f"progress: {runs} runs, {failed} failed, {runs / (time.monotonic() - started):.1f} runs/s", flush=True)
                    next_progress = time.monotonic() + 60
    for b in Batch.all:
        b.close()
    if failed or a.keep:
        os.rename(workdir, os.path.join(a.out, "failures-" + os.path.basename(workdir)))
        print(("inputs: " if a.keep else "reproducers: ") + os.path.join(a.out, "failures-" + os.path.basename(workdir)))
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(exits.items(), key=lambda kv: str(kv[0]))))
    if slow:
        print("slowest cases: " + ", ".join(f"{i} ({w:.1f} s)" for w, i in sorted(slow, reverse=True)[:5]))
    if kinds:
        print("failures by kind: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

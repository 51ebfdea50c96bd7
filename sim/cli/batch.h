// `orrery batch`: many runs from one process. Scripts that sweep thousands of what-ifs (and the
// fuzz harness) pay the process start-up of every `orrery run` — about 20 ms, mostly the
// SystemC library's static initialisation — once instead of once per run.
//
// Each line of standard input is one run, a JSON array of the arguments that would follow
// `orrery` on a command line, e.g. ["run", "--system", "h100-sxm", "--workload", "w.yaml"].
// Every run still gets a fresh SystemC kernel: it executes in a child forked from this
// process, which has not started a simulation. Standard output gets one JSON line per run, in
// input order: {"line", "exit", "signal", "signal_name", "timed_out", "wall_s", "stdout", "stderr"}
// ("exit" is null when a signal ended the run or it was killed after --timeout).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace orrery {

struct BatchOptions {
  int jobs = 1;          ///< runs at once
  double timeout_s = 0;  ///< a run still going after this is killed (0: no limit)
};

/// What a forked child executes: the arguments after `orrery`; returns the exit code.
using BatchRunner = std::function<int(const std::vector<std::string>& args)>;

/// Reads runs from `in` until end of input, writes their results to `out`; returns 0, or 2
/// if any line was malformed or any run did not exit 0.
int run_batch(const BatchOptions& options, const BatchRunner& runner, std::istream& in, std::ostream& out);

}  // namespace orrery

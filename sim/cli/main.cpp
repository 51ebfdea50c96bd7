// The orrery command line: run, list, bench. Only this file turns errors into exit codes.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <systemc>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "sim/cli/batch.h"
#include "sim/cli/bench.h"
#include "sim/cli/list.h"
#include "sim/config/errors.h"
#include "sim/run/run.h"

namespace {

/// Writes the whole file or nothing: a regular file goes to a temporary name first and is
/// renamed when complete; any write error (a full disk, /dev/full) is a ConfigError (exit 2).
void write_json(const std::string& path, const nlohmann::json& j) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool special = fs::exists(path, ec) && !fs::is_regular_file(path, ec);
  const std::string target = special ? path : path + ".tmp";
  {
    std::ofstream out(target);
    if (!out) throw orrery::ConfigError(fmt::format("cannot write '{}'", path));
    // Invalid UTF-8 in a name is replaced rather than aborting the dump.
    out << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out.flush();
    if (!out) {
      out.close();
      if (!special) fs::remove(target, ec);
      throw orrery::ConfigError(fmt::format("writing '{}' failed (disk full or not writable)", path));
    }
  }
  if (!special) {
    fs::rename(target, path, ec);
    if (ec) {
      fs::remove(target, ec);
      throw orrery::ConfigError(fmt::format("cannot write '{}': {}", path, ec.message()));
    }
  }
}

/// While alive, after 2 s, shows the elapsed time of a long run on stderr — only when stderr is
/// a terminal (never in CI logs or redirected output); the line is cleared when done.
class Progress {
 public:
  Progress() {
    if (!isatty(STDERR_FILENO)) return;
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      const auto t0 = std::chrono::steady_clock::now();
      for (int s = 2; !cv_.wait_for(lock, t0 + std::chrono::seconds(s) - std::chrono::steady_clock::now(),
                                    [this] { return done_; });
           ++s) {
        std::cerr << "\rorrery: still running (" << s << " s)... " << std::flush;
        shown_ = true;
      }
      if (shown_) std::cerr << "\r\033[K" << std::flush;
    });
  }
  ~Progress() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false, shown_ = false;
};

int run_command(const orrery::RunRequest& req, const std::string& report, const std::string& trace,
                bool quiet, bool op_records) {
  orrery::RunOutput out;
  {
    Progress progress;
    const orrery::LoadedRun run = orrery::load_run(req);
    out = orrery::execute_run(run, {!trace.empty(), op_records});
  }
  if (!quiet) std::cout << orrery::printable(out.summary_text);
  if (!report.empty()) write_json(report, out.report);
  if (!trace.empty()) write_json(trace, out.trace);
  return 0;
}

int cli_main(int argc, char* argv[]);

/// One line of `orrery batch`, in its forked child: the same as `orrery <args>`.
int batch_child(const char* self, const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(self)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return cli_main(static_cast<int>(args.size()) + 1, argv.data());
}

int cli_main(int argc, char* argv[]) {
  CLI::App app{"Orrery: discrete-event performance simulator for LLM workloads on accelerators"};
  app.require_subcommand(1);

  orrery::RunRequest req;
  std::string report, trace;
  bool quiet = false, op_records = false;
  CLI::App* run = app.add_subcommand("run", "simulate a workload on a system");
  run->add_option("--system", req.system, "system YAML file or device preset name")->required();
  run->add_option("--workload", req.workload, "workload YAML file or workload preset name")->required();
  run->add_option("--set", req.overrides, "override a config value: system.PATH=VALUE or workload.PATH=VALUE (repeatable)");
  run->add_option("--report", report, "write the report JSON here");
  run->add_option("--trace", trace, "write a Perfetto/Chrome trace JSON here");
  run->add_flag("--quiet", quiet, "no summary on stdout");
  run->add_flag("--op-records", op_records,
                "list every op of the reported step in the report (default: totals per op kind)");

  std::string what = "all";
  bool markdown = false;
  CLI::App* list = app.add_subcommand("list", "list presets, component types and their parameters");
  list->add_option("what", what, "presets | components | all")->check(CLI::IsMember({"presets", "components", "all"}));
  list->add_flag("--markdown", markdown, "print the parameter tables as Markdown (docs/yaml-reference.md)");

  std::string bench_out;
  CLI::App* bench = app.add_subcommand("bench", "measure the simulator's own speed (wall time, events/s)");
  bench->add_option("--report", bench_out, "write the benchmark figures as JSON here");

  orrery::BatchOptions batch_options;
  CLI::App* batch = app.add_subcommand(
      "batch", "run many runs from one process: each stdin line is a JSON array of the arguments after "
               "'orrery' (e.g. [\"run\", \"--system\", \"h100-sxm\", \"--workload\", \"w.yaml\"]); each result "
               "is one JSON line on stdout, in input order");
  batch->add_option("--jobs", batch_options.jobs, "runs at once")->check(CLI::Range(1, 256));
  batch->add_option("--timeout", batch_options.timeout_s, "seconds before a run is killed (0: no limit)")
      ->check(CLI::Range(0.0, 1e6));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*run) return run_command(req, report, trace, quiet, op_records);
    if (*list) {
      std::cout << orrery::list_text(what, markdown);
      return 0;
    }
    if (*bench) return orrery::run_bench(argv[0], bench_out);
    if (*batch) {
      const std::string self = argv[0];
      return orrery::run_batch(
          batch_options, [&](const std::vector<std::string>& args) { return batch_child(self.c_str(), args); },
          std::cin, std::cout);
    }
  } catch (const orrery::ConfigError& e) {
    std::cerr << "error: " << orrery::printable(e.what()) << "\n";
    return 2;
  } catch (const orrery::DoesNotFitError& e) {
    std::cerr << "error: " << orrery::printable(e.what());
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << orrery::printable(e.what()) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int sc_main(int argc, char* argv[]) { return cli_main(argc, argv); }

// SystemC prints a banner on first use unless this is set before its kernel starts.
namespace {
const int quiet_banner = [] { return setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0); }();
}

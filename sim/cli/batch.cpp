#include "sim/cli/batch.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>

// Clang reports AddressSanitizer through __has_feature; a coverage build defines
// ORRERY_CHILD_EXIT_HOOKS itself. Either way a batch child then ends with std::exit.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ORRERY_CHILD_EXIT_HOOKS 1
#endif
#endif

namespace orrery {
namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  long line = 0;
  int exit = -1;        // -1: no exit code (signal, timeout, or the line was not run)
  int signal = 0;       // the signal that ended the run, 0 if none
  bool timed_out = false;
  double wall_s = 0;
  std::string out, err;
};

struct Running {
  long line = 0;
  pid_t pid = 0;
  std::FILE* out = nullptr;  // the child's stdout and stderr, anonymous temporary files
  std::FILE* err = nullptr;
  Clock::time_point start;
  bool killed = false;
};

/// The arguments of one input line, or an error message.
std::vector<std::string> parse_line(const std::string& text, std::string& error) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) {
    error = "not a JSON array of arguments, e.g. [\"run\", \"--system\", \"h100-sxm\", \"--workload\", \"w.yaml\"]";
    return {};
  }
  std::vector<std::string> args;
  for (const auto& a : j) {
    if (!a.is_string()) {
      error = fmt::format("argument {} is not a string", args.size() + 1);
      return {};
    }
    std::string s = a.get<std::string>();
    if (s.find('\0') != std::string::npos) {
      error = fmt::format("argument {} contains a NUL character", args.size() + 1);
      return {};
    }
    args.push_back(std::move(s));
  }
  if (args.front() != "run") {
    error = fmt::format("a batch line runs 'run', not '{}'", args.front());
    return {};
  }
  return args;
}

std::string slurp(std::FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  std::fclose(f);
  return s;
}

/// Forks a child that runs `args` with its stdout and stderr in temporary files.
Running start(long line, const std::vector<std::string>& args, const BatchRunner& runner, std::ostream& out,
              const sigset_t& old_mask) {
  Running r;
  r.line = line;
  r.out = std::tmpfile();
  r.err = std::tmpfile();
  if (!r.out || !r.err) {
    if (r.out) std::fclose(r.out);
    if (r.err) std::fclose(r.err);
    throw std::runtime_error("cannot create a temporary file for the run's output");
  }
  out.flush();  // nothing buffered may be written twice by the child
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  r.start = Clock::now();
  r.pid = fork();
  if (r.pid < 0) {
    const int error = errno;
    std::fclose(r.out);
    std::fclose(r.err);
    throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(error)));
  }
  if (r.pid == 0) {
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    dup2(fileno(r.out), STDOUT_FILENO);
    dup2(fileno(r.err), STDERR_FILENO);
    const int null_in = open("/dev/null", O_RDONLY);  // the child never reads the batch's input
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    int code = 1;
    try {
      code = runner(args);
    } catch (...) {
      std::cerr << "internal error: uncaught exception in a batch run\n";
    }
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__) || defined(ORRERY_CHILD_EXIT_HOOKS)
    std::exit(code);  // static destructors and the leak check run as after a normal `orrery run`
#else
    // Every output of the run is flushed, and its files were closed when the runner returned:
    // skipping the static destructors (SystemC's pools, the preset tables) saves the child
    // about a quarter of its time on a quick error.
    _exit(code);
#endif
  }
  return r;
}

Result finish(Running& r, int status) {
  Result res;
  res.line = r.line;
  res.wall_s = std::chrono::duration<double>(Clock::now() - r.start).count();
  if (WIFEXITED(status)) res.exit = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) res.signal = WTERMSIG(status);
  res.timed_out = r.killed;
  res.out = slurp(r.out);
  res.err = slurp(r.err);
  return res;
}

void write_result(std::ostream& out, const Result& r) {
  nlohmann::json j;
  j["line"] = r.line;
  j["exit"] = r.exit >= 0 ? nlohmann::json(r.exit) : nlohmann::json(nullptr);
  j["signal"] = r.signal ? nlohmann::json(r.signal) : nlohmann::json(nullptr);
  j["signal_name"] = r.signal ? nlohmann::json(strsignal(r.signal)) : nlohmann::json(nullptr);
  j["timed_out"] = r.timed_out;
  j["wall_s"] = r.wall_s;
  j["stdout"] = r.out;
  j["stderr"] = r.err;
  out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n" << std::flush;
}

/// A line that never ran: its exit code and message.
Result line_failure(long line, int exit, const std::string& message) {
  Result r;
  r.line = line;
  r.exit = exit;
  r.err = message;
  return r;
}

double elapsed_s(const Running& r) { return std::chrono::duration<double>(Clock::now() - r.start).count(); }

/// How long to wait for a child: until the nearest deadline of a run not yet killed, at most 50 ms.
double seconds_to_wait(const std::map<pid_t, Running>& running, double timeout_s) {
  double wait_s = 0.05;
  if (timeout_s > 0)
    for (const auto& [pid, r] : running)
      if (!r.killed) wait_s = std::min(wait_s, std::max(timeout_s - elapsed_s(r), 0.0));  // killed: must not spin
  return wait_s;
}

/// Collects every child that has ended into `done`.
void reap(std::map<pid_t, Running>& running, std::map<long, Result>& done) {
  int status = 0;
  for (pid_t pid; !running.empty() && (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    done[it->second.line] = finish(it->second, status);
    running.erase(it);
  }
}

/// Sends SIGKILL to every run past its deadline (once).
void kill_overdue(std::map<pid_t, Running>& running, double timeout_s) {
  if (timeout_s <= 0) return;
  for (auto& [pid, r] : running)
    if (!r.killed && elapsed_s(r) >= timeout_s) {
      kill(pid, SIGKILL);
      r.killed = true;
    }
}

}  // namespace

int run_batch(const BatchOptions& options, const BatchRunner& runner, std::istream& in, std::ostream& out) {
  // SIGCHLD stays blocked so that sigtimedwait can wait for "a child ended or a deadline came".
  sigset_t child_mask, old_mask;
  sigemptyset(&child_mask);
  sigaddset(&child_mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_mask, &old_mask);

  std::map<pid_t, Running> running;
  std::map<long, Result> done;  // finished, waiting for earlier lines to be written
  long next_line = 1, next_to_write = 1;
  bool input_open = true, all_ok = true;
  const auto flush_in_order = [&] {
    for (auto it = done.find(next_to_write); it != done.end(); it = done.find(next_to_write)) {
      if (it->second.line != 0) {  // line 0: a blank line, nothing to write
        write_result(out, it->second);
        if (it->second.exit != 0) all_ok = false;
      }
      done.erase(it);
      ++next_to_write;
    }
  };

  while (input_open || !running.empty()) {
    while (input_open && static_cast<int>(running.size()) < options.jobs) {
      std::string text;
      if (!std::getline(in, text)) {
        input_open = false;
        break;
      }
      const long line = next_line++;
      if (text.find_first_not_of(" \t\r") == std::string::npos) {  // blank lines are skipped
        done[line].line = 0;
        flush_in_order();
        continue;
      }
      std::string error;
      const std::vector<std::string> args = parse_line(text, error);
      if (!error.empty()) {
        done[line] = line_failure(line, 2, fmt::format("error: batch line {}: {}\n", line, error));
        flush_in_order();
        continue;
      }
      try {
        Running r = start(line, args, runner, out, old_mask);
        running[r.pid] = r;
      } catch (const std::runtime_error& e) {  // no temporary file or no process: this run fails, the batch goes on
        done[line] = line_failure(line, 1, fmt::format("internal error: batch line {}: {}\n", line, e.what()));
        flush_in_order();
      }
    }
    if (running.empty()) continue;

    // Wait for a child to end or the nearest deadline, then collect and enforce deadlines.
    const double wait_s = seconds_to_wait(running, options.timeout_s);
    timespec ts{static_cast<time_t>(wait_s), static_cast<long>((wait_s - static_cast<time_t>(wait_s)) * 1e9)};
    sigtimedwait(&child_mask, nullptr, &ts);
    reap(running, done);
    kill_overdue(running, options.timeout_s);
    flush_in_order();
  }
  flush_in_order();
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  return all_ok ? 0 : 2;
}

}  // namespace orrery

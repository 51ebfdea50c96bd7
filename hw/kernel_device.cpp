#include "hw/kernel_device.h"

#include "sim/engine/process_guard.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "hw/core_partition.h"
#include "sim/engine/fluid.h"

namespace orrery {

using sc_core::SC_SEC;
using sc_core::sc_time;

namespace {
constexpr double kEpsilon = 2e-12;  // seconds; twice SystemC's default 1 ps resolution
}

KernelDeviceModule::KernelDeviceModule(sc_core::sc_module_name name, const DeviceSpec& spec,
                                       OpSource& source, std::vector<OpRecord>& records)
    : sc_module(name), spec_(spec), source_(source), records_(records) {
  specs_.push_back(spec);
  names_.engines = {spec.matrix_engine().name, spec.vector_engine().name};
  check_disjoint(spec, source.partitions());
  for (const CorePartition& p : source.partitions()) {
    specs_.push_back(partition_spec(spec, p));
    names_.engines.push_back(fmt::format("{}[{}]", spec.matrix_engine().name, p.name));
    names_.engines.push_back(fmt::format("{}[{}]", spec.vector_engine().name, p.name));
  }
  for (const auto& m : spec.memory) names_.memory.push_back(m.name);
  engine_busy_.assign(names_.engines.size(), false);
  engine_free_at_.assign(names_.engines.size(), 0.0);
  SC_METHOD(step);
  sensitive << wake_;
  dont_initialize();
}

const KernelCost& KernelDeviceModule::cost(OpId id) {
  if (id >= costs_.size()) {
    costs_.resize(source_.size());
    costed_.resize(source_.size(), false);
  }
  if (!costed_[id]) {
    const Op& op = source_.op(id);
    if (op.partition < 0 || static_cast<size_t>(op.partition) >= specs_.size())
      throw std::logic_error("op '" + op.name + "' runs on a core partition its source does not declare");
    if (op.kind != OpKind::Host && op.kind != OpKind::Comm) costs_[id] = kernel_cost(specs_[static_cast<size_t>(op.partition)], op);
    costed_[id] = true;
  }
  return costs_[id];
}

void KernelDeviceModule::finished(OpId id, double now) {
  stream_last_op_[source_.op(id).stream] = static_cast<long>(id);
  source_.op_done(id, now);
}

void KernelDeviceModule::launch(OpId id) {
  const Op& op = source_.op(id);
  if (op.kind == OpKind::Host) {
    records_[id].done = true;
    source_.op_done(id, sc_core::sc_time_stamp().to_seconds());
  } else {
    streams_[op.stream].push_back(id);
  }
  wake_.notify(sc_core::SC_ZERO_TIME);
}

bool KernelDeviceModule::deps_done(OpId id, double& latest, WaitReason& why, long& after) const {
  for (auto [d, end] = source_.deps(id); d != end; ++d) {
    const OpId src = *d;
    if (!records_[src].done) return false;
    if (records_[src].end > latest) {
      latest = records_[src].end;
      // A host op (e.g. the autograd engine starting) is a host delay, not a device one.
      const bool host = source_.op(src).kind == OpKind::Host;
      why = host ? WaitReason::Host : WaitReason::Dependency;
      after = host ? -1 : static_cast<long>(src);
    }
  }
  return true;
}

void KernelDeviceModule::comm_done(OpId id) {
  OpRecord& r = records_[id];
  r.end = sc_core::sc_time_stamp().to_seconds();
  r.done = true;
  comm_running_.erase(std::find(comm_running_.begin(), comm_running_.end(), id));
  finished(id, r.end);
  if (source_.op(id).sync && on_sync_done) on_sync_done(id);
  wake_.notify(sc_core::SC_ZERO_TIME);
}

void KernelDeviceModule::advance(double now) {
  const double dt = now - last_;
  if (dt > 0)
    for (auto& a : active_) a.progress += dt * a.rate;
  last_ = now;
}

void KernelDeviceModule::retire(double now) {
  for (size_t i = 0; i < active_.size();) {
    Active& a = active_[i];
    const double left = a.rate > 0 ? (1.0 - a.progress) / a.rate : 0;
    if (left > kEpsilon) {
      ++i;
      continue;
    }
    OpRecord& r = records_[a.id];
    r.end = now;
    r.done = true;
    engine_busy_[a.engine] = false;
    engine_free_at_[a.engine] = now;
    finished(a.id, now);
    if (on_op_done) on_op_done();
    if (source_.op(a.id).sync && on_sync_done) on_sync_done(a.id);
    active_.erase(active_.begin() + static_cast<long>(i));
  }
}

void KernelDeviceModule::start_ready(double now) {
  // Among the streams whose front op can start now, the op that has waited longest goes first
  // (ties: the lower stream). A device runs its queued work in the order it became runnable, so
  // one micro-batch's experts, ready since its dispatch landed, run before the next kernel of
  // the other micro-batch's attention; a fixed stream priority would let the attention stream
  // take every free engine first.
  for (;;) {
    bool found = false;
    int best_stream = 0;
    double best_ready = 0;
    WaitReason best_why = WaitReason::Host;
    long best_after = -1;
    for (auto& [stream, queue] : streams_) {
      if (queue.empty()) continue;
      // A stream whose network op is still in flight waits for it.
      if (std::any_of(comm_running_.begin(), comm_running_.end(),
                      [&](OpId c) { return source_.op(c).stream == stream; }))
        continue;
      const OpId id = queue.front();
      // Latest of: launched, stream predecessor finished, inputs ready (engine free below).
      double latest = records_[id].issue_end;
      WaitReason why = WaitReason::Host;
      long after = -1;
      const auto prev = stream_last_op_.find(stream);
      if (prev != stream_last_op_.end() && records_[prev->second].end >= latest) {
        latest = records_[prev->second].end;
        why = WaitReason::Stream;
        after = prev->second;
      }
      if (!deps_done(id, latest, why, after)) continue;
      if (source_.op(id).kind != OpKind::Comm) {
        const KernelCost& cost = this->cost(id);
        if (engine_blocked(source_.op(id).partition, cost.engine == EngineKind::Matrix ? 0 : 1)) continue;
      }
      if (!found || latest < best_ready) {
        found = true;
        best_stream = stream;
        best_ready = latest;
        best_why = why;
        best_after = after;
      }
    }
    if (!found) return;
    start_front(best_stream, now, best_ready, best_why, best_after);
  }
}

void KernelDeviceModule::start_front(int stream, double now, double latest, WaitReason why, long after) {
  auto& queue = streams_[stream];
  const OpId id = queue.front();
  OpRecord& r = records_[id];
  const Op& op = source_.op(id);
  queue.pop_front();
  if (op.kind == OpKind::Comm) {
    // The network runs it; the stream waits until comm_done().
    r.start = now;
    r.waited = why;
    r.after = after;
    // A pipeline receive mostly waits for the previous stage: that is the bubble.
    const bool recv = op.comm.op == CommKind::Recv;
    r.engine = recv ? "pipeline wait" : "network";
    r.bound = r.engine;
    comm_running_.push_back(id);
    if (on_comm_start) on_comm_start(id);
    return;
  }
  KernelCost cost = this->cost(id);
  const int kind = cost.engine == EngineKind::Matrix ? 0 : 1;
  const size_t engine = engine_of(op.partition, kind);
  if (engine_free_at_[engine] > latest) latest = engine_free_at_[engine], why = WaitReason::Engine;
  engine_busy_[engine] = true;
  r.start = now;
  r.waited = why;
  r.after = after;
  // A kernel that finds the device idle, waiting for its launch, also pays the launch's
  // latency through the driver and the device's front end; under graph replay that is
  // the start of a replayed graph (graph_launch, fitted on graph-replayed rows).
  if (why == WaitReason::Host) cost.overhead_s += graph_replay ? spec_.graph_launch : spec_.launch_latency;
  const auto prev = stream_last_op_.find(stream);
  if (after < 0 && prev != stream_last_op_.end()) r.after = prev->second;  // device order
  r.compute_s = cost.compute_s;
  r.level = cost.level;
  r.overhead_s = cost.overhead_s;
  const double alone_bw = std::min(spec_.memory[static_cast<size_t>(cost.level)].sustained(),
                                   cost.bandwidth_cap);
  r.memory_s = cost.bytes / alone_bw;
  r.engine = names_.engines[engine];
  if (r.overhead_s > std::max(r.compute_s, r.memory_s))
    r.bound = "kernel overhead";
  else if (r.compute_s >= r.memory_s)
    r.bound = cost.vector_bound ? names_.engines[engine_of(op.partition, 1)] : r.engine;
  else
    r.bound = names_.memory[static_cast<size_t>(cost.level)];
  active_.push_back({id, cost, static_cast<int>(engine)});
}

bool KernelDeviceModule::engine_blocked(int partition, int kind) const {
  if (engine_busy_[engine_of(partition, kind)]) return true;
  // A whole-device kernel needs every partition's cores of its kind, and the other way round.
  if (partition != 0) return engine_busy_[engine_of(0, kind)];
  for (size_t p = 1; p < specs_.size(); ++p)
    if (engine_busy_[engine_of(static_cast<int>(p), kind)]) return true;
  return false;
}

void KernelDeviceModule::assign_rates() {
  // Per memory level: max-min fair share among the kernels using it; each kernel's cap is what
  // it can draw (few blocks) and what it needs to stay compute-bound.
  for (size_t level = 0; level < spec_.memory.size(); ++level) {
    std::vector<size_t> users;
    std::vector<double> caps;
    for (size_t i = 0; i < active_.size(); ++i) {
      const KernelCost& c = active_[i].cost;
      if (c.level != static_cast<int>(level) || c.bytes <= 0) continue;
      double cap = c.bandwidth_cap;
      if (c.compute_s > 0) cap = std::min(cap, c.bytes / c.compute_s);
      users.push_back(i);
      caps.push_back(cap);
    }
    if (users.empty()) continue;
    const auto share = max_min_share(spec_.memory[level].sustained(), caps);
    for (size_t j = 0; j < users.size(); ++j) {
      Active& a = active_[users[j]];
      // The cap may be the compute-bound rate; duration() takes min(bw, bandwidth_cap).
      a.rate = 1.0 / a.cost.duration(share[j]);
    }
  }
  for (auto& a : active_)
    if (a.cost.bytes <= 0) a.rate = 1.0 / std::max(a.cost.duration(1.0), kEpsilon);
}

void KernelDeviceModule::schedule(double now) {
  double next = std::numeric_limits<double>::infinity();
  for (const auto& a : active_) next = std::min(next, (1.0 - a.progress) / a.rate);
  wake_.cancel();
  if (next < std::numeric_limits<double>::infinity()) {
    // Round up to the kernel's resolution so the op is complete when we wake.
    const double res = sc_core::sc_get_time_resolution().to_seconds();
    wake_.notify(delay(std::max(next, res)));
  }
  (void)now;
}

void KernelDeviceModule::step() {
  guarded([this] { step_body(); });
}

void KernelDeviceModule::step_body() {
  ++events_;
  const double now = sc_core::sc_time_stamp().to_seconds();
  advance(now);
  retire(now);
  start_ready(now);
  assign_rates();
  schedule(now);
}

}  // namespace orrery

#include "hw/host/host_module.h"

#include "sim/engine/process_guard.h"

namespace orrery {

using sc_core::SC_SEC;
using sc_core::sc_time;

HostModule::HostModule(sc_core::sc_module_name name, const HostSpec& spec, Framework framework,
                       OpSource& source, std::vector<OpRecord>& records, Device& device)
    : sc_module(name), spec_(spec), framework_(framework), source_(source), records_(records),
      device_(device) {
  device_.on_sync_done = [this](OpId id) { release(id); };
  device_.graph_replay = framework == Framework::graph;
  device_.on_op_done = [this] { device_op_done(); };
  source_.subscribe([this] { wake_.notify(sc_core::SC_ZERO_TIME); });
  SC_METHOD(step);
  sensitive << wake_;
  SC_METHOD(deliver);
  sensitive << arrive_;
  dont_initialize();
}

// Eager launches are pipelined: the host's cost per launch (launch_eager) is its throughput, and
// a launch reaches the device submit_latency after the call returns. Back-to-back launches
// overlap their latencies, so a stream pays it once — and again after every synchronisation,
// when the device has drained. A single synchronised call costs launch_eager + submit_latency.
void HostModule::submit(OpId id) {
  const bool host_op = source_.op(id).kind == OpKind::Host;
  if (host_op || framework_ != Framework::eager || spec_.submit_latency <= 0) {
    device_.launch(id);
    return;
  }
  // Every launch travels the same latency, so arrivals stay in program order: one event,
  // armed for the oldest launch in transit.
  const double now = sc_core::sc_time_stamp().to_seconds();
  in_transit_.emplace_back(now + spec_.submit_latency, id);
  if (in_transit_.size() == 1) arrive_.notify(delay(spec_.submit_latency));
}

void HostModule::deliver() {
  guarded([this] {
    const double now = sc_core::sc_time_stamp().to_seconds();
    // 0.1 ns of slack for the clock's rounding of the arrival time.
    while (!in_transit_.empty() && in_transit_.front().first <= now + 1e-10) {
      const OpId id = in_transit_.front().second;
      in_transit_.pop_front();
      device_.launch(id);
    }
    if (!in_transit_.empty()) arrive_.notify(delay(in_transit_.front().first - now));
  });
}

double HostModule::issue_cost(OpId id) const {
  const Op& op = source_.op(id);
  if (op.kind == OpKind::Host) {
    if (framework_ == Framework::graph) return 0.0;  // a replayed graph runs no Python/autograd
    switch (op.host_work) {
      case HostWork::BackwardStart: return spec_.backward_start * op.host_units;
      case HostWork::AutogradNode: return spec_.autograd_node * op.host_units;
      case HostWork::Bookkeeping:
      case HostWork::None: return spec_.launch_eager * op.host_units;
    }
  }
  // Graph: the captured graph replays kernels only.
  const int kernels = device_.kernels(id);
  if (framework_ == Framework::graph) return spec_.launch_graph * kernels;  // no modules, nodes
  const int library_kernels = kernels - op.kernels;
  // Eager: every kernel is dispatched, every module called, every autograd node run.
  const double library = op.kind == OpKind::Attention ? spec_.attention_dispatch
                         : op.kind == OpKind::Gemm    ? spec_.gemm_dispatch
                                                      : 0.0;
  return spec_.launch_eager * op.kernels + spec_.launch_library * library_kernels +
         spec_.module_call * op.modules +
         spec_.autograd_node * op.nodes + library;
}

void HostModule::release(OpId id) {
  if (waiting_ == static_cast<long>(id)) {
    waiting_ = -1;
    wake_.notify(delay(spec_.sync));
  }
}

void HostModule::device_op_done() {
  --in_flight_;
  if (queue_full_ && in_flight_ < spec_.queue_depth) {
    queue_full_ = false;
    wake_.notify(sc_core::SC_ZERO_TIME);
  }
}

void HostModule::step() {
  guarded([this] { step_body(); });
}

void HostModule::step_body() {
  ++events_;
  const double now = sc_core::sc_time_stamp().to_seconds();
  if (issuing_ >= 0) {
    const auto id = static_cast<OpId>(issuing_);
    issuing_ = -1;
    OpRecord& r = records_[id];
    r.issue_end = now;
    const Op& op = source_.op(id);
    if (op.kind == OpKind::Host) {
      r.start = r.issue_start;
      r.end = now;
      r.engine = "host";
      r.bound = "host";
      r.waited = WaitReason::None;
    }
    if (op.sync && op.kind != OpKind::Host) waiting_ = static_cast<long>(id);
    // Network transfers run on their own (NCCL) streams; they hold no launch-queue slot.
    if (op.kind != OpKind::Host && op.kind != OpKind::Comm) ++in_flight_;
    submit(id);
  }
  if (waiting_ >= 0) return;
  if (next_ >= source_.size()) return;  // a dynamic source wakes the host (subscribe) when it adds ops
  // A launch into a full queue blocks until the device finishes an op.
  // A replayed graph is submitted whole, so only eager launches see the queue limit.
  const OpKind next_kind = source_.op(next_).kind;
  if (framework_ == Framework::eager && next_kind != OpKind::Host && next_kind != OpKind::Comm &&
      in_flight_ >= spec_.queue_depth) {
    queue_full_ = true;
    return;
  }
  const OpId id = next_++;
  issuing_ = static_cast<long>(id);
  if (records_.size() < source_.size()) records_.resize(source_.size());
  records_[id].issue_start = now;
  wake_.notify(delay(issue_cost(id)));
}

}  // namespace orrery

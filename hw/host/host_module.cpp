#include "hw/host/host_module.h"

namespace orrery {

using sc_core::SC_SEC;
using sc_core::sc_time;

HostModule::HostModule(sc_core::sc_module_name name, const HostSpec& spec, Framework framework,
                       const OpGraph& graph, std::vector<OpRecord>& records)
    : sc_module(name), spec_(spec), framework_(framework), graph_(graph), records_(records) {
  SC_METHOD(step);
  sensitive << wake_;
}

double HostModule::issue_cost(const Op& op) const {
  if (op.kind == OpKind::Host) {
    switch (op.host_work) {
      case HostWork::BackwardStart: return spec_.backward_start * op.host_units;
      case HostWork::Bookkeeping:
      case HostWork::None: return spec_.launch_eager * op.host_units;
    }
  }
  // Eager: every kernel is dispatched and every module called from Python.
  // Graph: the captured graph replays kernels only.
  if (framework_ == Framework::graph) return spec_.launch_graph * op.kernels;
  return spec_.launch_eager * op.kernels + spec_.module_call * op.modules;
}

void HostModule::release(OpId id) {
  if (waiting_ == static_cast<long>(id)) {
    waiting_ = -1;
    wake_.notify(sc_time(spec_.sync, SC_SEC));
  }
}

void HostModule::step() {
  ++events_;
  const double now = sc_core::sc_time_stamp().to_seconds();
  if (issuing_ >= 0) {
    const auto id = static_cast<OpId>(issuing_);
    issuing_ = -1;
    OpRecord& r = records_[id];
    r.issue_end = now;
    const Op& op = graph_[id];
    if (op.kind == OpKind::Host) {
      r.start = r.issue_start;
      r.end = now;
      r.engine = "host";
      r.bound = "host";
      r.waited = WaitReason::None;
    }
    if (op.sync && op.kind != OpKind::Host) waiting_ = static_cast<long>(id);
    if (on_launched) on_launched(id);
  }
  if (waiting_ >= 0) return;
  if (next_ >= boost::num_vertices(graph_)) return;
  const OpId id = next_++;
  issuing_ = static_cast<long>(id);
  records_[id].issue_start = now;
  wake_.notify(sc_time(issue_cost(graph_[id]), SC_SEC));
}

}  // namespace orrery

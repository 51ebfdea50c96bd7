// Where a rank's host gets its operations from. A workload is either a graph built before the
// simulation starts (GraphSource) or ops produced while it runs: a serving scheduler that
// decides the next batch when a step finishes, a pipeline schedule that reacts to arrivals.
// The host pulls ops in program order; devices ask for an op's dependencies when they are
// about to run it. Op ids are dense, 0..size()-1, in program order, and never change.
#pragma once
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "sim/core/op.h"

namespace orrery {

class OpSource {
 public:
  virtual ~OpSource() = default;
  /// Ops produced so far.
  [[nodiscard]] virtual size_t size() const = 0;
  [[nodiscard]] virtual const Op& op(OpId id) const = 0;
  /// The ops `id` depends on (each with a smaller id), as a [begin, end) range.
  [[nodiscard]] virtual std::pair<const OpId*, const OpId*> deps(OpId id) const = 0;
  /// True when no op will be added after the size() already produced.
  [[nodiscard]] virtual bool finished() const = 0;
  /// The simulation reports every finished op (`now` in simulated seconds), so a dynamic source
  /// can produce the ops that follow from it; it then tells its subscribers.
  virtual void op_done(OpId /*id*/, double /*now*/) {}
  /// Core partitions the ops may run on (Op::partition); none: every op uses the whole device.
  [[nodiscard]] virtual const std::vector<CorePartition>& partitions() const {
    static const std::vector<CorePartition> none;
    return none;
  }
  /// Whoever pulls the ops (a host) subscribes to hear when a dynamic source added ops.
  void subscribe(std::function<void()> more) { subscribers_.push_back(std::move(more)); }

 protected:
  void added_ops() {
    for (auto& s : subscribers_) s();
  }

 private:
  std::vector<std::function<void()>> subscribers_;
};

/// A precomputed operator graph (today's workloads: built whole before the simulation starts).
class GraphSource final : public OpSource {
 public:
  explicit GraphSource(OpGraph graph) : graph_(std::move(graph)) {}
  [[nodiscard]] size_t size() const override { return graph_.size(); }
  [[nodiscard]] const Op& op(OpId id) const override { return graph_[id]; }
  [[nodiscard]] std::pair<const OpId*, const OpId*> deps(OpId id) const override {
    return graph_.deps(id);
  }
  [[nodiscard]] bool finished() const override { return true; }
  [[nodiscard]] const std::vector<CorePartition>& partitions() const override {
    return graph_.partitions();
  }
  [[nodiscard]] const OpGraph& graph() const { return graph_; }

 private:
  OpGraph graph_;
};

}  // namespace orrery

#include "sim/engine/op_source.h"

namespace orrery {

GraphSource::GraphSource(OpGraph graph) : graph_(std::move(graph)) {
  const size_t n = boost::num_vertices(graph_);
  offsets_.reserve(n + 1);
  deps_.reserve(boost::num_edges(graph_));
  offsets_.push_back(0);
  for (OpId id = 0; id < n; ++id) {
    for (auto [e, end] = boost::in_edges(id, graph_); e != end; ++e)
      deps_.push_back(boost::source(*e, graph_));
    offsets_.push_back(deps_.size());
  }
}

}  // namespace orrery

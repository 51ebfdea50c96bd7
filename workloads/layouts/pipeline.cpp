#include "workloads/layouts/pipeline.h"

#include <algorithm>

namespace orrery {

std::pair<int, int> stage_layers(long layers, int pp, int stage) {
  const long base = layers / pp, extra = layers % pp;
  const long first = stage * base + std::min<long>(stage, extra);
  return {static_cast<int>(first), static_cast<int>(first + base + (stage < extra ? 1 : 0))};
}

namespace transformer {

PipelineStage::PipelineStage(long layers, int count_, int index_) : index(index_), count(count_) {
  const auto range = stage_layers(layers, count, index);
  l0 = range.first;
  l1 = range.second;
}

double boundary_bytes(double T, double d, double residual_bytes, double tp, bool sp) {
  return T * d * residual_bytes / (sp ? tp : 1.0);
}

void pipeline_recv(GraphBuilder& g, const std::string& name, double bytes, CommGroup peer, int tag) {
  g.add(make_comm(name, CommKind::Recv, bytes, peer, tag));
}

void pipeline_send(GraphBuilder& g, const std::string& name, double bytes, CommGroup peer, int tag) {
  g.add_side(make_comm(name, CommKind::Send, bytes, peer, tag), kPipelineStream);
}

}  // namespace transformer
}  // namespace orrery

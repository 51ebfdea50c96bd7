#include "sim/core/op.h"

#include <cmath>
#include <stdexcept>

namespace orrery {

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::Gemm: return "gemm";
    case OpKind::Attention: return "attention";
    case OpKind::Vector: return "vector";
    case OpKind::Host: return "host";
    case OpKind::Comm: return "comm";
  }
  return "?";
}

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::Forward: return "forward";
    case Pass::Backward: return "backward";
    case Pass::Optimizer: return "optimizer";
    case Pass::Other: return "other";
  }
  return "?";
}

void OpGraph::add_dep(OpId from, OpId to) {
  if (to + 1 != ops_.size() || from >= to)
    throw std::logic_error("OpGraph::add_dep: an op may only depend on earlier ops, added with it");
  deps_.push_back(from);
  offsets_.back() = deps_.size();
}

bool GemmShape::aligned(int alignment) const {
  const auto multiple = [alignment](double x) { return std::fmod(x, alignment) == 0; };
  return multiple(a_transposed ? m : k) && multiple(n);
}

double AttentionShape::scores() const {
  const double full = batch * heads * q_len * kv_len;
  return (causal && q_len == kv_len) ? full * 0.5 : full;
}

}  // namespace orrery

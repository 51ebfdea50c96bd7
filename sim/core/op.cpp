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

const char* row_reduce_name(RowReduce r) {
  switch (r) {
    case RowReduce::none: return "none";
    case RowReduce::norm: return "norm";
    case RowReduce::softmax: return "softmax";
    case RowReduce::select: return "select";
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

double AttentionShape::flops() const {
  // Written as 4 * scores * d_eff * pass so that d_qk == d_v gives exactly the historical
  // 4 * scores * head_dim (* 2.5): d_eff = (dqk + dv) / 2 forward, (3*dqk + 2*dv) / 5 backward.
  const double dv = v_dim();
  const double d_eff = backward ? (3 * head_dim + 2 * dv) / 5 : (head_dim + dv) / 2;
  return 4.0 * scores() * d_eff * (backward ? 2.5 : 1.0);
}

double AttentionShape::elements() const {
  const double dv = v_dim();
  const double q_side = batch * heads * q_len * (head_dim + dv);                              // Q, O
  const double kv_side = batch * kv_head_count() * kv_len * (head_dim + (v_in_k ? 0 : dv));  // K, V
  return backward ? 2 * (q_side + kv_side) : q_side + kv_side;
}

}  // namespace orrery

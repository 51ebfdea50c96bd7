#include "workloads/builders/graph_builder.h"

#include <fmt/format.h>

#include "sim/config/errors.h"


#include <algorithm>
#include <cmath>
#include <functional>

namespace orrery {

Op make_gemm(const std::string& name, double m, double n, double k, Dtype dt, double batch,
             bool a_transposed) {
  Op op;
  op.name = name;
  op.category = "gemm";
  op.kind = OpKind::Gemm;
  op.dtype = dt;
  op.gemm = {m, n, k, batch, a_transposed};
  op.flops = 2.0 * m * n * k * batch;
  op.bytes = (m * k + k * n + m * n) * batch * dtype_bytes(dt);
  return op;
}

Op make_vector(const std::string& name, const std::string& category, double elems,
               double bytes_per_elem, double flops_per_elem, Dtype dt, int kernels) {
  Op op;
  op.name = name;
  op.category = category;
  op.kind = OpKind::Vector;
  op.dtype = dt;
  op.bytes = elems * bytes_per_elem;
  op.flops = elems * flops_per_elem;
  op.kernels = kernels;
  return op;
}

Op row_reduce(Op op, RowReduce f, double rows, double len) {
  op.reduce = f;
  op.rows = rows;
  op.row_len = len;
  return op;
}

Op make_attention(const std::string& name, const AttentionShape& a, Dtype dt) {
  Op op;
  op.name = name;
  op.category = a.backward ? "attention_bwd" : "attention";
  op.kind = OpKind::Attention;
  op.dtype = dt;
  op.attn = a;
  op.bytes = a.elements() * dtype_bytes(dt);
  op.flops = a.flops();
  // One thread block per (batch, head, 128-query tile): decode has few, which limits bandwidth.
  op.blocks = a.batch * a.heads * std::ceil(a.q_len / 128.0);
  op.kernels = a.backward ? 3 : 1;  // FlashAttention-2 backward: preprocess, main, convert dQ
  return op;
}

Op make_host(const std::string& name, HostWork what, int units) {
  Op op;
  op.name = name;
  op.category = "host";
  op.kind = OpKind::Host;
  op.host_work = what;
  op.host_units = units;
  op.kernels = 0;
  return op;
}

Op make_comm(const std::string& name, CommKind op, double bytes, CommGroup group, int tag) {
  Op o;
  o.name = name;
  o.category = comm_kind_name(op);
  o.kind = OpKind::Comm;
  o.comm.op = op;
  o.comm.bytes = bytes;
  o.comm.group = group;
  o.comm.tag = tag;
  return o;
}

void check_op_budget(double ops) {
  if (ops >= double(kMaxOps))
    throw ConfigError(fmt::format(
        "the workload needs {:.4g} operators, more than the {} a run may simulate (about {:.1f} GB of "
        "the simulator's own memory); reduce workload.iterations, decode_tokens, grad_accum, "
        "parallel.microbatches or the model's layers",
        ops, kMaxOps, double(kMaxOps) * 300 / 1e9));
}

void check_workload_size(const WorkloadSpec& w) {
  std::vector<std::pair<double, std::string>> factors;
  double ops = 0;
  if (w.phase == Phase::microbench) {
    ops = double(w.micro.size()) * double(w.repeat);
    factors = {{double(w.repeat), "workload.repeat"}, {double(w.micro.size()), "the number of workload.ops"}};
  } else if (w.phase != Phase::collective) {
    const double layers = double(w.model.layers) / double(w.parallel.pp);
    const double passes = w.phase == Phase::train || (w.phase == Phase::block && w.backward) ? 2 : 1;
    const double tokens = w.phase == Phase::decode ? double(w.decode_tokens) : 1;
    ops = 10 * layers * passes * double(w.parallel.microbatches) * double(w.grad_accum) *
          double(w.iterations) * tokens;
    factors = {{layers, "workload.model.layers"}, {double(w.parallel.microbatches), "workload.parallel.microbatches"},
               {double(w.grad_accum), "workload.grad_accum"}, {double(w.iterations), "workload.iterations"},
               {tokens, "workload.decode_tokens"}};
  }
  if (ops < double(kMaxOps)) return;
  std::sort(factors.begin(), factors.end(), std::greater<>());
  std::string keys;
  for (const auto& [v, key] : factors)
    if (v > 1) keys += fmt::format("{}{} ({:.0f})", keys.empty() ? "" : ", ", key, v);
  throw ConfigError(fmt::format(
      "the workload needs at least {:.4g} operators, more than the {} a run may simulate (about {:.1f} GB of "
      "the simulator's own memory); reduce {}",
      ops, kMaxOps, double(kMaxOps) * 300 / 1e9, keys));
}

OpId GraphBuilder::add(Op op) {
  check_op_budget(double(graph_.size() + 1));
  op.pass = op.pass == Pass::Forward ? pass_ : op.pass;
  op.layer = layer_;
  op.iteration = iteration_;
  if (chain_ != 0) {
    op.stream = chains_[chain_].stream;
    op.partition = chains_[chain_].partition;
  }
  const OpId id = graph_.add(std::move(op));
  if (last_ >= 0) graph_.add_dep(static_cast<OpId>(last_), id);
  for (OpId side : join_)
    if (static_cast<long>(side) != last_) graph_.add_dep(side, id);
  join_.clear();
  last_ = static_cast<long>(id);
  return id;
}

OpId GraphBuilder::add_side(Op op, int stream) {
  check_op_budget(double(graph_.size() + 1));
  op.pass = op.pass == Pass::Forward ? pass_ : op.pass;
  op.layer = layer_;
  op.iteration = iteration_;
  op.stream = stream;
  const OpId id = graph_.add(std::move(op));
  if (last_ >= 0) graph_.add_dep(static_cast<OpId>(last_), id);
  if (static_cast<int>(side_last_.size()) <= stream) side_last_.resize(static_cast<size_t>(stream) + 1, -1);
  long& prev = side_last_[static_cast<size_t>(stream)];
  if (prev >= 0) graph_.add_dep(static_cast<OpId>(prev), id);
  prev = static_cast<long>(id);
  pending_side_.push_back(id);
  return id;
}

void GraphBuilder::use_chain(int chain, int stream, int partition, const std::vector<OpId>& after) {
  chains_[chain_].last = last_;
  if (chains_.size() <= static_cast<size_t>(chain)) chains_.resize(static_cast<size_t>(chain) + 1);
  chain_ = static_cast<size_t>(chain);
  if (chain_ != 0) chains_[chain_].stream = stream, chains_[chain_].partition = partition;
  last_ = chains_[chain_].last;
  join_.insert(join_.end(), after.begin(), after.end());
}

void GraphBuilder::join_side() {
  join_.insert(join_.end(), pending_side_.begin(), pending_side_.end());
  pending_side_.clear();
}

void GraphBuilder::sync_last() {
  if (last_ >= 0) graph_[static_cast<OpId>(last_)].sync = true;
}

}  // namespace orrery

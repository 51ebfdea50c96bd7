#include "workloads/builders/microbench.h"

#include <fmt/format.h>

#include "workloads/builders/graph_builder.h"

namespace orrery {

namespace {

std::vector<Op> micro_kernels(const MicroOp& m, size_t row);

std::vector<Op> micro_ops(const MicroOp& m, size_t row) {
  std::vector<Op> ops = micro_kernels(m, row);
  for (auto& op : ops) op.cold = op.cold || m.cold;
  return ops;
}

std::vector<Op> micro_kernels(const MicroOp& m, size_t row) {
  const std::string name = fmt::format("row{}.{}", row, m.kind);
  const double b = dtype_bytes(m.dtype);
  const double elems = m.rows * m.cols;
  if (m.kind == "gemm") {
    Op op = make_gemm(name, m.gemm.m, m.gemm.n, m.gemm.k, m.dtype, m.gemm.batch);
    op.gemm.grouped = m.gemm.grouped;
    return {op};
  }
  if (m.kind == "attention") {
    AttentionShape a = m.attn;
    a.backward = false;
    std::vector<Op> ops = {make_attention(name, a, m.dtype)};
    ops.back().modules = 0;
    if (m.attn.backward) {
      // out.sum().backward(): one reduction, the autograd engine, then the attention backward.
      ops.push_back(make_vector(name + ".sum", "reduce", a.batch * a.heads * a.q_len * a.head_dim,
                                b, 1, m.dtype));
      ops.push_back(make_host(name + ".autograd", HostWork::BackwardStart));
      ops.push_back(make_host(name + ".sum_bwd", HostWork::AutogradNode));
      a.backward = true;
      ops.push_back(make_attention(name + ".bwd", a, m.dtype));
      ops.back().nodes = 4;  // the attention node and AccumulateGrad of q, k and v
    }
    return ops;
  }
  if (m.kind == "layernorm") {
    Op op = row_reduce(make_vector(name, "layernorm", elems, 3 * b, 8, m.dtype), RowReduce::norm,
                       m.rows, m.cols);
    op.modules = 1;  // nn.LayerNorm module call
    return {op};
  }
  if (m.kind == "gelu") return {make_vector(name, "gelu", elems, 2 * b, 12, m.dtype)};
  // x + x: both operands alias, so device memory sees one read and one write.
  if (m.kind == "add") return {make_vector(name, "add", elems, 2 * b, 1, m.dtype)};
  // x.add_(1) in place: one read and one write of the same elements (footprint: one copy).
  if (m.kind == "add_") {
    Op op = make_vector(name, "add", elems, 2 * b, 1, m.dtype);
    op.footprint = elems * b;
    return {op};
  }
  // argmax over each row: one read of the input (the int64 result per row is negligible).
  if (m.kind == "argmax")
    return {row_reduce(make_vector(name, "argmax", elems, b, 1, m.dtype), RowReduce::select, m.rows, m.cols)};
  // softmax over a long row: two passes over the input (max/sum, then normalise), one write.
  return {row_reduce(make_vector(name, "softmax", elems, 3 * b, 5, m.dtype), RowReduce::softmax,
                     m.rows, m.cols)};
}

}  // namespace

OpGraph build_microbench(const WorkloadSpec& w) {
  GraphBuilder g;
  for (size_t row = 0; row < w.micro.size(); ++row) {
    g.set_iteration(static_cast<int>(row));
    const auto ops = micro_ops(w.micro[row], row);
    // eager: each call is timed like CUDA events around it on an idle device, then synchronised.
    // graph: graph_calls calls captured back to back in one graph, replayed `repeat` times,
    // each replay timed on the device and synchronised.
    const long calls = w.framework == Framework::graph ? w.graph_calls : 1;
    for (long r = 0; r < w.repeat; ++r) {
      for (long c = 0; c < calls; ++c)
        for (const auto& op : ops) g.add(op);
      g.sync_last();
    }
  }
  return g.take();
}

std::vector<double> microbench_times(const WorkloadSpec& w, const std::vector<OpRecord>& records) {
  std::vector<double> out;
  const size_t n = records.size();
  size_t i = 0;
  for (size_t row = 0; row < w.micro.size(); ++row) {
    const size_t per_call = micro_ops(w.micro[row], row).size();
    if (w.framework == Framework::graph) {
      // Device time per call of a replayed graph: from its first kernel's start (which
      // includes the graph's start, graph_launch) to its last kernel's end, divided by the
      // calls it holds; the first replay is a warm-up.
      const size_t per_graph = per_call * static_cast<size_t>(w.graph_calls);
      double sum = 0;
      for (long r = 1; r < w.repeat; ++r) {
        const size_t first = i + per_graph * static_cast<size_t>(r);
        const size_t last = first + per_graph - 1;
        if (last >= n) return out;
        sum += records[last].end - records[first].start;
      }
      out.push_back(sum / static_cast<double>((w.repeat - 1) * w.graph_calls));
      i += per_graph * static_cast<size_t>(w.repeat);
      continue;
    }
    double sum = 0;
    for (long r = 1; r < w.repeat; ++r) {  // the first call is a warm-up
      const size_t first = i + per_call * static_cast<size_t>(r);
      const size_t last = first + per_call - 1;
      if (last >= n) return out;
      sum += records[last].end - records[first].issue_start;
    }
    out.push_back(sum / static_cast<double>(w.repeat - 1));
    i += per_call * static_cast<size_t>(w.repeat);
  }
  return out;
}

}  // namespace orrery

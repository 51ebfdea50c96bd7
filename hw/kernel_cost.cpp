#include "hw/kernel_cost.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace orrery {

double KernelCost::duration(double bandwidth) const {
  const double bw = std::min(bandwidth, bandwidth_cap);
  const double mem = bytes > 0 ? bytes / bw : 0;
  return overhead_s + std::max(compute_s, mem);
}

namespace {

/// The level that serves an op: the smallest on-chip cache its whole footprint fits in, when
/// its operands are hot (just produced by the previous op, or re-read in a loop); an op that
/// streams cold operands (weights, KV cache) reads the backing memory.
int serving_level(const DeviceSpec& dev, double footprint, bool cold) {
  for (size_t i = 0; i < dev.memory.size() && !cold; ++i) {
    if (dev.memory[i].is_cache() && footprint <= dev.memory[i].capacity) return static_cast<int>(i);
  }
  const MemoryLevelSpec& back = dev.backing_memory();
  for (size_t i = 0; i < dev.memory.size(); ++i)
    if (&dev.memory[i] == &back) return static_cast<int>(i);
  return static_cast<int>(dev.memory.size()) - 1;
}

/// Fused (flash) attention.
///   matmul FLOPs  F = 2 * scores * (dqk + dv)   (QK^T and PV; = 4 * scores * D for dqk = dv),
///                     2 * scores * (3*dqk + 2*dv) for backward (5 matmuls; x2.5 for dqk = dv)
///                     (AttentionShape::flops)
///   t_matrix      = F / (peak_dtype * attention_efficiency)
///   t_softmax     = scores * attention_score_cost / vector_peak_fp32   (x2.5 for backward:
///                   it recomputes P and forms dS = P * (dP - rowsum(dO * O)))
///   compute       = max(t_matrix, t_softmax)    (FlashAttention overlaps the two)
///   bytes         = (Q + K + V + O) once, (x2 + dQ/dK/dV for backward), K and V per kv
///                   head: B*Hq*Sq*(dqk + dv) + B*Hkv*Skv*(dqk + dv) (op.bytes, make_attention)
/// Source: Dao et al., FlashAttention-2 (2023), sections 3.1-3.2, for the FLOP count and the
/// observation that non-matmul FLOPs limit throughput at small head dimension.
KernelCost attention_cost(const DeviceSpec& dev, const Op& op, KernelCost c) {
  const AttentionShape& a = op.attn;
  const MatrixEngineSpec& m = dev.matrix_engine();
  const VectorEngineSpec& v = dev.vector_engine();
  const double scores = a.scores();
  const double pass = a.backward ? 2.5 : 1.0;
  const double flops = a.flops();
  auto peak = m.peak.find(op.dtype);
  if (peak == m.peak.end()) peak = m.peak.find(Dtype::fp32);
  if (peak == m.peak.end()) throw std::logic_error("matrix engine has no peak for attention dtype");
  const double t_matrix = flops / (peak->second * m.attention_efficiency);
  const double t_softmax = scores * v.attention_score_cost * pass / v.peak.at(Dtype::fp32);
  c.engine = EngineKind::Matrix;
  c.compute_s = std::max(t_matrix, t_softmax);
  c.vector_bound = t_softmax > t_matrix;
  if (!a.backward && a.q_len <= DecodeAttentionSpec::kMaxQueries) {
    // Decode: a few queries stream the KV cache. Per SDPA backend (flash, or memory-efficient
    // when an explicit mask is given), a fixed latency (the split-KV partial and combine
    // passes, the dependent Q -> K -> V loads) and the fraction of bandwidth it reaches:
    //   t = overhead + latency_backend + bytes / (bw_backend * sustained)
    const DecodeAttentionSpec& d = m.decode;
    c.overhead_s += a.masked ? d.masked_latency : d.flash_latency;
    c.bandwidth_cap = std::min(c.bandwidth_cap, (a.masked ? d.masked_bandwidth : d.flash_bandwidth) *
                                                    dev.memory[static_cast<size_t>(c.level)].sustained());
  }
  return c;
}

/// GEMM: stream-K compute time (gemm_compute_time); each kernel also fills its load pipeline
/// and drains its epilogue (pipeline_latency); a GEMM with few output tiles splits K and
/// reduces the partial tiles one after another (gemm_k_splits); a grouped GEMM reaches a
/// grouped_efficiency fraction of the serving memory's sustained bandwidth (its compute is the
/// grouped kernel's persistent waves when the device declares that kernel, and its kernels
/// include the kernel's setup launches: gemm_kernels); a GEMM whose row strides are not
/// aligned (GPT-2's 50,257-wide vocabulary) cannot use vectorised or TMA copies, and above a
/// few rows (unaligned_gemv_max_m, where the library switches from a matrix-vector kernel to
/// a GEMM kernel) streams at unaligned_bandwidth, the rate its element-wise loads sustain (a
/// property of the SMs, not of the memory):
///   t = kernels * (kernel_overhead + latency) + pipeline_latency + (split - 1) * split_k_fixup
///       + max(compute, bytes / bw),
///   bw = min(sustained, grouped ? grouped_efficiency * sustained : inf,
///            unaligned and M > unaligned_gemv_max_m ? unaligned_bandwidth : inf)
/// Source: Osama et al., Stream-K (PPoPP 2023), for the serial fixup of split tiles; the
/// unaligned regimes are read off the H200 and H100 LM-head rows (docs/validation.md).
KernelCost gemm_cost(const DeviceSpec& dev, const Op& op, KernelCost c) {
  const MatrixEngineSpec& m = dev.matrix_engine();
  c.engine = EngineKind::Matrix;
  c.compute_s = gemm_compute_time(m, op.gemm, op.dtype);
  c.overhead_s += m.pipeline_latency;  // the GEMM kernel's (a split-K reduction is element-wise)
  c.overhead_s += (gemm_k_splits(m, op.gemm, op.dtype) - 1) * m.split_k_fixup;
  const double sustained = dev.memory[static_cast<size_t>(c.level)].sustained();
  if (op.gemm.grouped) c.bandwidth_cap = std::min(c.bandwidth_cap, m.grouped_efficiency * sustained);
  if (!op.gemm.aligned(m.alignment_elements) && op.gemm.m > m.unaligned_gemv_max_m)
    c.bandwidth_cap = std::min(c.bandwidth_cap, m.unaligned_bandwidth);
  return c;
}

}  // namespace

KernelCost kernel_cost(const DeviceSpec& dev, const Op& op) {
  if (op.kind == OpKind::Host || op.kind == OpKind::Comm)
    throw std::logic_error("host and network ops have no kernel cost: " + op.name);
  KernelCost c;
  c.bytes = op.bytes;
  c.level = serving_level(dev, op.footprint > 0 ? op.footprint : op.bytes, op.cold);
  c.kernels = op.kind == OpKind::Gemm ? op.kernels - 1 + gemm_kernels(dev.matrix_engine(), op.gemm, op.dtype)
                                      : op.kernels;
  // Each kernel's first loads wait for its memory level's latency once.
  c.overhead_s = c.kernels * (dev.kernel_overhead + dev.memory[static_cast<size_t>(c.level)].latency);
  c.bandwidth_cap = op.blocks > 0 ? op.blocks * dev.unit_bandwidth
                                  : std::numeric_limits<double>::infinity();
  switch (op.kind) {
    case OpKind::Gemm:
      c = gemm_cost(dev, op, c);
      break;
    case OpKind::Attention:
      c = attention_cost(dev, op, c);
      break;
    case OpKind::Vector: {
      c.engine = EngineKind::Vector;
      const VectorEngineSpec& v = dev.vector_engine();
      c.compute_s = vector_compute_time(v, op.flops, op.dtype);
      // A row reduction is also bound by its blocks' per-row latency and streaming rate
      // (row_reduction_time): t = overhead + max(compute, t_rows, bytes / bandwidth).
      if (op.reduce != RowReduce::none && v.models_rows() && op.rows > 0 && op.row_len > 0) {
        const int units = v.units > 0 ? v.units : dev.matrix_engine().units;
        c.compute_s = std::max(c.compute_s, row_reduction_time(v, units, op.reduce, op.rows, op.row_len,
                                                               dtype_bytes(op.dtype), op.bytes));
      }
      break;
    }
    case OpKind::Host:
    case OpKind::Comm:
      break;
  }
  return c;
}

double isolated_kernel_time(const DeviceSpec& dev, const Op& op) {
  const KernelCost c = kernel_cost(dev, op);
  return c.duration(dev.memory[static_cast<size_t>(c.level)].sustained());
}

}  // namespace orrery

#include "hw/compute/vector_engine.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sim/config/errors.h"

namespace orrery {

const ParamTable& vector_engine_params() {
  static const ParamTable t{
      "vector",
      "Vector engine (CUDA cores / TPCs / vector units) for element-wise work.",
      {
          {"type", ParamType::Enum, Dim::Dimensionless, "vector", "component type", {"vector"}},
          {"peak", ParamType::QuantityMap, Dim::Throughput, "", "peak per dtype (an FMA counts 2)", dtype_names()},
          {"units", ParamType::Integer, Dim::Dimensionless, "", "parallel cores (vector cores; default: the matrix engine's units, as a GPU's SMs hold both); used to split the device into core partitions", {}, true},
          {"attention_score_cost", ParamType::Real, Dim::Dimensionless, "16", "vector FLOP-equivalents spent per attention score in fused attention (exp on the special-function unit, max, scale, sum)"},
          {"row_bandwidth", ParamType::QuantityMap, Dim::Bandwidth, "", "row reductions, per kernel family (norm: LayerNorm/RMSNorm, softmax, select: argmax/top-k; optionally softmax_block, the block-per-row softmax of long rows, else softmax's value): bytes/s one warp of a row group draws while it streams its row (its loads in flight / memory latency); a row group of w warps draws w times this (row_mapping: PyTorch's launch rule gives the warps per row); the four row_* keys come together (absent: row reductions cost as streaming kernels)", {"norm", "softmax", "softmax_block", "select"}, true},
          {"row_latency", ParamType::QuantityMap, Dim::Time, "", "row reductions, per kernel family: fixed time per row (the block-wide reduction tree: log2(threads) shuffle and barrier steps, and the dependent pass that follows)", {"norm", "softmax", "softmax_block", "select"}, true},
          {"row_blocks", ParamType::Real, Dim::Dimensionless, "", "row reductions: thread blocks of rows one unit holds at once (its block and thread slots); a block holds one row or, for short rows, several (row_mapping)", {}, true},
          {"row_storage", ParamType::Quantity, Dim::Bytes, "", "row reductions: on-chip bytes per unit (registers + shared memory) that hold rows in flight; a unit holds at most row_storage / (bytes of the rows of one block) blocks", {}, true},
          {"row_threads", ParamType::Real, Dim::Dimensionless, "", "row reductions: threads of these kernels one unit holds at once, a fitted effective occupancy (registers and other per-thread limits); a unit holds at most row_threads / (threads of one block) blocks, and at least one; absent: no limit", {}, true},
      }};
  return t;
}

VectorEngineSpec read_vector_engine(const Section& s, const std::string& name) {
  VectorEngineSpec v;
  v.name = name;
  for (const auto& [k, val] : s.quantity_map("peak")) v.peak[parse_dtype(k)] = val;
  if (!v.peak.count(Dtype::fp32)) s.fail("peak", "the fp32 peak is required");
  v.attention_score_cost = s.real("attention_score_cost");
  const bool rows = s.has("row_bandwidth") || s.has("row_latency") || s.has("row_blocks") || s.has("row_storage");
  if (!rows && s.has("row_threads"))
    s.fail("row_threads", "row_threads limits the row-reduction model, which needs row_bandwidth, row_latency, row_blocks and row_storage");
  if (rows) {
    for (const char* key : {"row_bandwidth", "row_latency", "row_blocks", "row_storage"})
      if (!s.has(key))
        s.fail(key, "missing: row_bandwidth, row_latency, row_blocks and row_storage come together, and another of them is given");
    for (const char* key : {"row_bandwidth", "row_latency"}) {
      const auto m = s.quantity_map(key);
      for (RowReduce f : {RowReduce::norm, RowReduce::softmax, RowReduce::select}) {
        auto it = m.find(row_reduce_name(f));
        if (it == m.end())
          s.fail(key, std::string("needs a value for each family: norm, softmax, select (") +
                          row_reduce_name(f) + " is missing)");
        (std::string(key) == "row_bandwidth" ? v.row_bandwidth : v.row_latency)[f] = it->second;
      }
      if (auto it = m.find("softmax_block"); it != m.end())
        (std::string(key) == "row_bandwidth" ? v.block_softmax_bandwidth : v.block_softmax_latency) = it->second;
    }
    // The block-per-row softmax's constants come as a pair: one alone would mix two kernels.
    if ((v.block_softmax_bandwidth > 0) != (v.block_softmax_latency > 0))
      s.fail(v.block_softmax_bandwidth > 0 ? "row_latency" : "row_bandwidth",
             "softmax_block is given in one of row_bandwidth and row_latency only; give it in both, or in neither");
    v.row_blocks = s.real("row_blocks");
    if (v.row_blocks < 1) s.fail("row_blocks", "at least 1");
    v.row_storage = s.quantity("row_storage");
    if (s.has("row_threads")) {
      v.row_threads = s.real("row_threads");
      if (v.row_threads < 32) s.fail("row_threads", "at least one warp (32)");
    }
  }
  if (s.has("units")) {
    v.units = static_cast<int>(s.integer("units"));
    if (v.units < 1) s.fail("units", "at least 1");
  }
  return v;
}

double vector_compute_time(const VectorEngineSpec& v, double flops, Dtype dt) {
  auto it = v.peak.find(dt);
  if (it == v.peak.end()) it = v.peak.find(Dtype::fp32);
  return flops / it->second;
}

namespace {

double pow2_floor(double x) {  // the largest power of two <= x (x >= 1)
  double p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

double pow2_ceil(double x) {  // the smallest power of two >= x
  double p = 1;
  while (p < x) p *= 2;
  return p;
}

}  // namespace

RowMapping row_mapping(RowReduce f, double rows, double row_len, double elem_bytes) {
  RowMapping m;
  switch (f) {
    case RowReduce::norm:
      m.threads = 128;  // vectorized_layer_norm_kernel: threads(warp, num_threads() / warp), one row
      m.block_threads = 128;
      return m;
    case RowReduce::softmax:
      if (row_len <= 2048 && row_len * elem_bytes <= 8192) {
        // persistent warp softmax: one warp per row, 128-thread blocks
        const double p2 = pow2_ceil(row_len);
        m.threads = std::min(p2, 32.0);
        m.rows_per_block = 128 / m.threads * (p2 <= 128 ? 2 : 1);
        m.block_threads = 128;
      } else {
        m.threads = std::ceil(std::min(row_len, 1024.0) / 32) * 32;  // one block per row
        m.block_threads = m.threads;
        m.block_per_row = true;
      }
      return m;
    case RowReduce::select: {
      const double n = row_len > 128 ? std::ceil(row_len / 4) : row_len;
      const double n2 = pow2_floor(std::min(n, 512.0));
      double bw = std::min(n2, 32.0);
      const double bh = std::min(pow2_floor(std::min(std::max(rows, 1.0), 512.0)), 512 / bw);
      bw = std::min(n2, 512 / bh);
      const double vpt = std::ceil(n / bw);
      if (vpt >= std::min(16 * bh, 256.0)) {
        m.threads = bw * bh;
        m.blocks_per_row = std::max(1.0, std::ceil(std::ceil(n / (bw * bh)) / 256));
      } else {
        m.threads = bw;
        m.rows_per_block = bh;
      }
      m.block_threads = bw * bh;
      return m;
    }
    case RowReduce::none:
      break;
  }
  throw std::logic_error("row_mapping: not a row reduction");
}

double row_reduction_time(const VectorEngineSpec& v, int units, RowReduce f, double rows,
                          double row_len, double elem_bytes, double bytes) {
  if (!v.models_rows() || f == RowReduce::none || rows <= 0 || row_len <= 0 || elem_bytes <= 0 ||
      units < 1)
    throw std::logic_error("row_reduction_time: no row model or no rows");
  const RowMapping m = row_mapping(f, rows, row_len, elem_bytes);
  const double p = m.rows_per_block, s = m.blocks_per_row, warps = m.threads / 32;
  const double blocks = std::ceil(rows / p) * s;
  double fit = v.row_storage / (row_len * elem_bytes * p / s);
  if (v.row_threads > 0) fit = std::min(fit, v.row_threads / m.block_threads);
  const double resident = std::clamp(fit, 1.0, v.row_blocks);
  const double active = std::min(blocks, units * resident);
  // The block-per-row softmax has constants of its own when the device declares them (both
  // or neither: read_vector_engine).
  const bool own = m.block_per_row && v.block_softmax_latency > 0;
  const double latency = own ? v.block_softmax_latency : v.row_latency.at(f);
  const double bandwidth = own ? v.block_softmax_bandwidth : v.row_bandwidth.at(f);
  const double t_block = latency + (bytes / rows / s) / (warps * bandwidth);
  return blocks / active * t_block;
}

}  // namespace orrery

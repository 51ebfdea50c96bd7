// The vector engine (CUDA cores / TPCs / vector units): element-wise, normalisation, softmax,
// casts, optimizer updates, and the softmax part of fused attention.
#pragma once
#include <map>
#include <string>

#include "sim/core/dtype.h"
#include "sim/core/op.h"
#include "sim/config/params.h"

namespace orrery {

struct VectorEngineSpec {
  std::string name;
  std::map<Dtype, double> peak;         // FLOP/s per dtype
  int units = 0;                        // parallel cores (0: as many as the matrix engine's units)
  double attention_score_cost = 0;      // vector FLOP-equivalents per attention score (exp, max, scale)
  // Row reductions (RowReduce): absent on a device whose rows were never measured, whose row
  // reductions are then costed as streaming kernels.
  std::map<RowReduce, double> row_bandwidth;  // bytes/s one block draws streaming its row
  std::map<RowReduce, double> row_latency;    // s per row: the block-wide reduction steps
  double row_blocks = 0;                      // row blocks one unit holds at once (occupancy)
  double row_storage = 0;                     // on-chip bytes per unit holding rows in flight
  [[nodiscard]] bool models_rows() const { return row_blocks > 0; }
};

[[nodiscard]] const ParamTable& vector_engine_params();
[[nodiscard]] VectorEngineSpec read_vector_engine(const Section& s, const std::string& name);

/// Seconds to do `flops` of vector work in `dt` (falls back to the fp32 peak when the dtype
/// has no entry: narrow types are computed in fp32 registers on most devices).
[[nodiscard]] double vector_compute_time(const VectorEngineSpec& v, double flops, Dtype dt);

/// Latency-bound time of a row reduction of kernel family `f` over `rows` rows of `row_bytes`
/// each, moving `bytes` in all (every pass over the row, and the output), on `units` units.
/// One thread block reduces one row; a unit holds as many row blocks as its on-chip storage
/// and its thread slots allow, so few rows leave units idle and each block streams its row at
/// the rate its loads in flight allow (Little's law), not at the memory's:
///   resident = clamp(row_storage / row_bytes, 1, row_blocks)      row blocks per unit
///   active   = min(rows, units * resident)                          blocks in flight
///   t_row    = row_latency[f] + (bytes / rows) / row_bandwidth[f]
///   t        = (rows / active) * t_row
/// The kernel takes the longer of this and the memory roofline (kernel_cost).
/// Sources: Little's law (bytes in flight = bandwidth x latency; Volkov, "Understanding
/// Latency Hiding on GPUs", PhD thesis, UC Berkeley 2016, ch. 4) for the per-block rate;
/// the one-block-per-row LayerNorm and softmax kernels of PyTorch (aten/src/ATen/native/cuda
/// layer_norm_kernel.cu, SoftMax.cu) and the CUDA occupancy rules (threads and shared memory
/// per SM) for the mapping.
[[nodiscard]] double row_reduction_time(const VectorEngineSpec& v, int units, RowReduce f,
                                        double rows, double row_bytes, double bytes);

}  // namespace orrery

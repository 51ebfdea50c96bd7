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
  std::map<RowReduce, double> row_bandwidth;  // bytes/s one warp draws streaming its row
  std::map<RowReduce, double> row_latency;    // s per row: the block-wide reduction steps
  double row_blocks = 0;                      // thread blocks of rows one unit holds at once
  double row_storage = 0;                     // on-chip bytes per unit holding rows in flight
  double row_threads = 0;                     // threads of row kernels one unit holds (0: no limit)
  // The block-per-row softmax (long rows) is a kernel of its own; 0: softmax's constants.
  double block_softmax_bandwidth = 0, block_softmax_latency = 0;
  [[nodiscard]] bool models_rows() const { return row_blocks > 0; }
};

[[nodiscard]] const ParamTable& vector_engine_params();
[[nodiscard]] VectorEngineSpec read_vector_engine(const Section& s, const std::string& name);

/// Seconds to do `flops` of vector work in `dt` (falls back to the fp32 peak when the dtype
/// has no entry: narrow types are computed in fp32 registers on most devices).
[[nodiscard]] double vector_compute_time(const VectorEngineSpec& v, double flops, Dtype dt);

/// How a row-reduction kernel maps rows onto threads: a row group of `threads` threads reduces
/// one row (or its 1/blocks_per_row share); a thread block holds `rows_per_block` row groups.
/// This is the kernel's own launch rule (software, not a fitted constant); row_mapping cites it.
struct RowMapping {
  double threads = 0;         // threads that stream one row (its share when split)
  double rows_per_block = 1;  // rows one thread block reduces side by side
  double blocks_per_row = 1;  // thread blocks that split one row (a global-memory combine)
  double block_threads = 0;   // threads of one thread block (what occupies a unit's thread slots)
  bool block_per_row = false; // softmax: the block-per-row kernel (its own constants), not the warp one
};

/// The launch rule of PyTorch's CUDA kernels of family `f` for `rows` rows of `row_len`
/// elements of `elem_bytes` bytes each (aten/src/ATen/native/cuda, PyTorch 2.x):
///  norm    vectorized_layer_norm_kernel (layer_norm_kernel.cu): one block of num_threads() =
///          4 warps = 128 threads per row.
///  softmax host_softmax (SoftMax.cu): if row_len <= 2048 and row_len * elem_bytes <= 8192,
///          the persistent warp softmax (PersistentSoftmax.cuh, dispatch_softmax_forward):
///            p2 = next_pow2(row_len), threads = min(p2, 32) (one warp, the row in registers),
///            128-thread blocks of 128 / threads row groups, each taking 2 rows if p2 <= 128;
///          otherwise cunn_SoftMaxForward(Smem): one block per row of
///            threads = min(row_len, 1024) rounded up to a whole warp (SoftMaxForward_getBlockSize).
///  select  the generic reduction (Reduce.cuh, setReduceConfig, 512 threads at most, vt0 = 4):
///            n   = row_len > 128 ? ceil(row_len / 4) : row_len   (4-wide vector loads)
///            bw  = min(pow2 floor(min(n, 512)), 32)
///            bh  = min(pow2 floor(min(rows, 512)), 512 / bw)
///            bw  = min(pow2 floor(min(n, 512)), 512 / bh)         block = bw x bh threads
///            vpt = ceil(n / bw)
///            if vpt >= min(16 bh, 256): the bh warps split one row: threads = bw bh, p = 1,
///               and vpt = ceil(n / (bw bh)); blocks_per_row = ceil(vpt / 256) (the lower bound
///               ctas_per_output3 of the kernel's split across blocks, which only long rows reach)
///            else each of the bh rows of the block takes its own row: threads = bw, p = bh.
[[nodiscard]] RowMapping row_mapping(RowReduce f, double rows, double row_len, double elem_bytes);

/// Latency-bound time of a row reduction of kernel family `f` over `rows` rows of `row_len`
/// elements of `elem_bytes` bytes, moving `bytes` in all (every pass over the row, and the
/// output), on `units` units. The kernel maps rows onto row groups (row_mapping): a row group
/// of w = threads / 32 warps streams its row at w times a warp's rate (each warp keeps the same
/// loads in flight: Little's law), a thread block holds p row groups, and a unit holds as many
/// blocks as its on-chip storage and its block slots allow, so few rows leave units idle:
///   blocks   = ceil(rows / p) * s                                  (s = blocks per row)
///   resident = clamp(min(row_storage / (row_bytes * p / s), row_threads / block_threads),
///                    1, row_blocks)                                blocks per unit
///   active   = min(blocks, units * resident)                         blocks in flight
///   t_block  = row_latency[f] + (bytes / rows / s) / (w * row_bandwidth[f])
///              (the block-per-row softmax: its softmax_block values when declared)
///   t        = (blocks / active) * t_block
/// The kernel takes the longer of this and the memory roofline (kernel_cost).
/// Sources: Little's law (bytes in flight = bandwidth x latency; Volkov, "Understanding
/// Latency Hiding on GPUs", PhD thesis, UC Berkeley 2016, ch. 4) for the per-warp rate;
/// the PyTorch launch rules above (row_mapping) and the CUDA occupancy rules (threads and
/// shared memory per SM) for the mapping.
[[nodiscard]] double row_reduction_time(const VectorEngineSpec& v, int units, RowReduce f,
                                        double rows, double row_len, double elem_bytes,
                                        double bytes);

}  // namespace orrery

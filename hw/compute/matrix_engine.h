// The matrix engine (tensor cores, MME, cube units): GEMMs and the matrix part of attention.
#pragma once
#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sim/core/dtype.h"
#include "sim/core/op.h"
#include "sim/config/params.h"

namespace orrery {

/// Fused attention of a few query tokens against a KV cache (decode), per SDPA backend: the
/// flash kernel (split-KV "flash-decoding"), or the memory-efficient kernel that SDPA picks
/// when an explicit attn_mask is given. Fitted on graph-replayed decode attention rows.
struct DecodeAttentionSpec {
  double flash_latency = 0;     // s of fixed device time per call beyond one kernel's overhead
  double flash_bandwidth = 1;   // fraction of the serving memory's sustained bandwidth reached
  double masked_latency = 0;
  double masked_bandwidth = 1;
  /// Queries per sequence at or below which an attention call is a decode call.
  static constexpr double kMaxQueries = 16;
};

/// How a grouped GEMM kernel (one launch over all experts, each with its own weight) lays out
/// its work, when the device declares it: a persistent kernel with no split-K and no stream-K,
/// whose tile depends on the size of a group. PyTorch's torch._grouped_mm on Hopper
/// (aten/src/ATen/native/cuda/GroupMM.cu, CUTLASS ptr-array grouped GEMM): a group is "small"
/// when its rows (tokens per expert) or its N are at most 128, and runs the ping-pong kernel
/// with a 64x128 tile (two consumer warp groups per SM, each on its own tile); otherwise the
/// cooperative kernel with a 128x256 tile; a one-block kernel first writes the per-group
/// pointers and shapes (prepare_grouped_gemm_data). That is the launch rule of its bf16 kernel
/// (bf16bf16_grouped_mm); a grouped GEMM of a dtype the kernel does not serve (`dtypes`), or on
/// a device without large_tile, is costed as a dense one (the scheduler and tiles above).
struct GroupedKernelSpec {
  std::pair<int, int> small_tile{0, 0};  // (m, n) tile of a small group
  std::pair<int, int> large_tile{0, 0};  // (m, n) tile otherwise
  int small_max = 0;                     // a group is small when rows <= small_max or N <= small_max
  int small_slots = 1;                   // tiles a unit holds at once with the small tile
  int setup_kernels = 0;                 // kernels launched before the GEMM (pointer/shape setup)
  std::vector<Dtype> dtypes;             // the dtypes this kernel serves (PyTorch's: bf16)
  [[nodiscard]] bool declared() const { return large_tile.first > 0; }
  [[nodiscard]] bool serves(Dtype dt) const {
    return declared() && std::find(dtypes.begin(), dtypes.end(), dt) != dtypes.end();
  }
};

/// Runtime spec of a matrix engine, validated, in SI units.
struct MatrixEngineSpec {
  std::string name;
  int units = 1;                      // parallel cores that each take one output tile (SMs)
  std::map<Dtype, double> peak;       // FLOP/s per dtype, whole engine
  std::vector<std::pair<int, int>> tiles;  // output tile shapes (m, n) the kernels can choose from
  double max_efficiency = 1;          // fraction of peak reached by a full wave of full tiles
  std::map<Dtype, double> efficiency; // per-dtype override of max_efficiency (e.g. SIMT fp32)
  double attention_efficiency = 1;    // same, for fused (flash) attention's two matmuls
  double unaligned_efficiency = 1;    // extra factor when a dimension is not a multiple of alignment
  double unaligned_bandwidth = std::numeric_limits<double>::infinity();  // B/s an unaligned GEMM kernel streams
  int unaligned_gemv_max_m = 0;       // M at or below which an unaligned GEMM runs a GEMV at full bandwidth
  int alignment_elements = 8;         // elements (16 bytes of bf16)
  int min_split_k = 256;              // smallest K slice when K is split across idle units
  bool stream_k = false;              // work split evenly over units (no wave quantisation)
  int split_k_max_m = 0;              // M at or below which the GEMM runs split-K + a reduction kernel
  double pipeline_latency = 0;        // s per GEMM kernel: load-pipeline fill + epilogue drain
  double split_k_fixup = 0;           // s per extra K split: one partial tile reduced in turn
  double grouped_efficiency = 1;      // grouped GEMM kernel: fraction of memory bandwidth reached
  GroupedKernelSpec grouped;          // the grouped GEMM kernel's launch rule (tiles, slots)
  DecodeAttentionSpec decode;         // fused attention with few queries (decode)
};

[[nodiscard]] const ParamTable& matrix_engine_params();
[[nodiscard]] MatrixEngineSpec read_matrix_engine(const Section& s, const std::string& name);

/// K splits of a GEMM whose output tiles are too few to fill the units (stream-K / split-K):
/// with the tile of fewest rows (tm, tn) (the one a skinny GEMM runs),
///   tiles = batch * ceil(M / tm) * ceil(N / tn)
///   split = max(1, min(floor(units / tiles), floor(K / min_split_k)))
/// The partial tiles of one output tile are reduced one after the other (each a round trip
/// through the L2: stream-K's "fixup"), costing (split - 1) * split_k_fixup.
[[nodiscard]] double gemm_k_splits(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt);

/// Kernels a GEMM launches: 2 (split-K partial products, then their reduction) when
/// M <= split_k_max_m, else 1.
[[nodiscard]] int gemm_kernels(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt);

/// Time the engine computes a GEMM when operands arrive fast enough (memory is separate).
///   tiles  = batch * ceil(M/tm) * ceil(N/tn);  split = min(floor(units/tiles), K/min_split_k)
///   waves  = ceil(tiles*split / units)
///   t      = waves * (2 * tm * tn * K/split) / (peak_dtype/units * eff)
/// With stream-K scheduling (CUTLASS/cuBLAS on Hopper) the MAC-loop iterations of all tiles
/// are divided evenly among the units, so there is no wave quantisation, only tile padding:
///   t      = max(2*ceil(M/tm)*tm*ceil(N/tn)*tn*K*batch / (peak * eff),
///                2 * tm * tn * min_split_k / (peak/units * eff))
/// (Osama et al., "Stream-K: Work-centric Parallel Decomposition for Dense GEMM", PPoPP 2023).
/// eff = max_efficiency or the dtype's override (* unaligned_efficiency when a row stride is
/// not a multiple of alignment), minimised over the tile shapes offered (as cuBLAS's
/// heuristics choose).
/// A grouped GEMM on a device that declares its kernel (GroupedKernelSpec) runs persistent
/// waves of its one tile (tm, tn), `slots` tiles per unit at a time, each at 1/slots of the
/// unit's rate:
///   tiles = batch * ceil(M/tm) * ceil(N/tn);  waves = ceil(tiles / (units * slots))
///   t     = waves * slots * 2 * tm * tn * K / (peak/units * eff)
/// Source: the wave-quantisation model of NVIDIA's "Matrix Multiplication Background User's
/// Guide" (Deep Learning Performance docs), with split-K as in CUTLASS.
[[nodiscard]] double gemm_compute_time(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt);

}  // namespace orrery

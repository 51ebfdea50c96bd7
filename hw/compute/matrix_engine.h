// The matrix engine (tensor cores, MME, cube units): GEMMs and the matrix part of attention.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "hw/dtype.h"
#include "sim/config/params.h"

namespace orrery {

/// Runtime spec of a matrix engine, validated, in SI units.
struct MatrixEngineSpec {
  std::string name;
  int units = 1;                      // parallel cores that each take one output tile (SMs)
  std::map<Dtype, double> peak;       // FLOP/s per dtype, whole engine
  std::vector<std::pair<int, int>> tiles;  // output tile shapes (m, n) the kernels can choose from
  double max_efficiency = 1;          // fraction of peak reached by a full wave of full tiles
  double attention_efficiency = 1;    // same, for fused (flash) attention's two matmuls
  double unaligned_efficiency = 1;    // extra factor when a dimension is not a multiple of alignment
  int alignment_elements = 8;         // elements (16 bytes of bf16)
  int min_split_k = 256;              // smallest K slice when K is split across idle units
};

[[nodiscard]] const ParamTable& matrix_engine_params();
[[nodiscard]] MatrixEngineSpec read_matrix_engine(const Section& s, const std::string& name);

struct GemmShape {
  double m = 0, n = 0, k = 0;
  double batch = 1;
};

/// Time the engine computes a GEMM when operands arrive fast enough (memory is separate).
///   tiles  = batch * ceil(M/tm) * ceil(N/tn);  split = min(floor(units/tiles), K/min_split_k)
///   waves  = ceil(tiles*split / units)
///   t      = waves * (2 * tm * tn * K/split) / (peak_dtype/units * eff)
/// with eff = max_efficiency (* unaligned_efficiency when M, N or K is not a multiple of
/// alignment), minimised over the tile shapes offered (as cuBLAS's heuristics choose).
/// Source: the wave-quantisation model of NVIDIA's "Matrix Multiplication Background User's
/// Guide" (Deep Learning Performance docs), with split-K as in CUTLASS.
[[nodiscard]] double gemm_compute_time(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt);

}  // namespace orrery

// The vector engine (CUDA cores / TPCs / vector units): element-wise, normalisation, softmax,
// casts, optimizer updates, and the softmax part of fused attention.
#pragma once
#include <map>
#include <string>

#include "sim/core/dtype.h"
#include "sim/config/params.h"

namespace orrery {

struct VectorEngineSpec {
  std::string name;
  std::map<Dtype, double> peak;         // FLOP/s per dtype
  int units = 0;                        // parallel cores (0: as many as the matrix engine's units)
  double attention_score_cost = 0;      // vector FLOP-equivalents per attention score (exp, max, scale)
};

[[nodiscard]] const ParamTable& vector_engine_params();
[[nodiscard]] VectorEngineSpec read_vector_engine(const Section& s, const std::string& name);

/// Seconds to do `flops` of vector work in `dt` (falls back to the fp32 peak when the dtype
/// has no entry: narrow types are computed in fp32 registers on most devices).
[[nodiscard]] double vector_compute_time(const VectorEngineSpec& v, double flops, Dtype dt);

}  // namespace orrery

#include "hw/compute/vector_engine.h"

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
      }};
  return t;
}

VectorEngineSpec read_vector_engine(const Section& s, const std::string& name) {
  VectorEngineSpec v;
  v.name = name;
  for (const auto& [k, val] : s.quantity_map("peak")) v.peak[parse_dtype(k)] = val;
  if (!v.peak.count(Dtype::fp32)) s.fail("peak", "the fp32 peak is required");
  v.attention_score_cost = s.real("attention_score_cost");
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

}  // namespace orrery

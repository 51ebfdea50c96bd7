#include "hw/core_partition.h"

#include <fmt/format.h>

#include "sim/config/errors.h"

namespace orrery {

int vector_units(const DeviceSpec& d) {
  return d.vector_engine().units > 0 ? d.vector_engine().units : d.matrix_engine().units;
}

DeviceSpec partition_spec(const DeviceSpec& d, const CorePartition& p) {
  const int mu = d.matrix_engine().units, vu = vector_units(d);
  auto check = [&](double units, int of, const char* key, const std::string& engine) {
    if (!(units >= 1 && units <= of))
      throw ConfigError(fmt::format(
          "workload.overlap.{}.{}: value {}: device '{}' has {} {} units; valid: 1 to {}", p.name,
          key, units, d.name, of, engine, of));
  };
  check(p.matrix_units, mu, "matrix_units", d.matrix_engine().name);
  check(p.vector_units, vu, "vector_units", d.vector_engine().name);
  DeviceSpec out = d;
  MatrixEngineSpec& m = out.matrix.front();
  m.units = static_cast<int>(p.matrix_units);
  for (auto& [dt, peak] : m.peak) peak *= p.matrix_units / mu;
  VectorEngineSpec& v = out.vector.front();
  v.units = static_cast<int>(p.vector_units);
  for (auto& [dt, peak] : v.peak) peak *= p.vector_units / vu;
  return out;
}

void check_disjoint(const DeviceSpec& d, const std::vector<CorePartition>& parts) {
  double mu = 0, vu = 0;
  std::string names;
  for (const auto& p : parts) {
    mu += p.matrix_units, vu += p.vector_units;
    names += (names.empty() ? "" : " + ") + p.name;
  }
  if (mu > d.matrix_engine().units || vu > vector_units(d))
    throw ConfigError(fmt::format(
        "workload.overlap: the partitions ({}) take {} matrix and {} vector units, but device '{}' "
        "has {} and {}: partitions share the cores out, they cannot overlap", names, mu, vu,
        d.name, d.matrix_engine().units, vector_units(d)));
}

}  // namespace orrery

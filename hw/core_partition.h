// A device cut to a share of its cores: the spec a core partition's kernels are costed with.
#pragma once
#include "hw/device.h"
#include "sim/core/op.h"

namespace orrery {

/// Units of the vector engine (its own `units`, else the matrix engine's: a GPU's SMs hold both).
[[nodiscard]] int vector_units(const DeviceSpec& d);

/// `d` with only the partition's cores: the matrix engine keeps `matrix_units` of its units and
/// that share of its peaks; the vector engine `vector_units` of its units and that share of its
/// peaks. Everything per unit (tile shapes, efficiencies, unit bandwidth) and the memory system
/// stay as they are: partitions share the memory, whose bandwidth the device divides among
/// concurrent kernels. A kernel then runs in waves over the partition's units only:
///   peak_p = peak x units_p / units   (per engine kind)
/// Throws ConfigError when a partition asks for more units than the device has, or none.
[[nodiscard]] DeviceSpec partition_spec(const DeviceSpec& d, const CorePartition& p);

/// The partitions share the cores out: their units add up to at most the device's, per engine.
/// Throws ConfigError otherwise.
void check_disjoint(const DeviceSpec& d, const std::vector<CorePartition>& parts);

}  // namespace orrery

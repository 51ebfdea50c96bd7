// The row-reduction cost equation (hw/compute/vector_engine.h, row_reduction_time) on
// hand-computed cases, with round constants so every figure can be checked on paper.
#include <catch2/catch.hpp>

#include "hw/compute/vector_engine.h"
#include "hw/kernel_cost.h"
#include "sim/config/yaml_doc.h"
#include "workloads/builders/graph_builder.h"

using namespace orrery;

namespace {

// 1 GB/s per block and 1 us per row for norm kernels; 4 row blocks per unit at most; 64 KiB of
// on-chip storage per unit.
VectorEngineSpec round_engine() {
  VectorEngineSpec v;
  v.peak[Dtype::fp32] = 1e12;
  for (RowReduce f : {RowReduce::norm, RowReduce::softmax, RowReduce::select}) {
    v.row_bandwidth[f] = 1e9;
    v.row_latency[f] = 1e-6;
  }
  v.row_blocks = 4;
  v.row_storage = 65536;
  return v;
}

}  // namespace

TEST_CASE("row_reduction_time_by_hand", "[cost][rows]") {
  const VectorEngineSpec v = round_engine();
  // LayerNorm moves 3 bytes-per-element passes: bytes = rows * 3 * row_bytes.
  auto t = [&](int units, double rows, double row_bytes) {
    return row_reduction_time(v, units, RowReduce::norm, rows, row_bytes, rows * 3 * row_bytes);
  };
  // 10 rows of 2000 B on 100 units: 64 KiB / 2000 B = 32.8 -> 4 resident per unit, 400 slots,
  // 10 active blocks, one wave: t_row = 1 us + 6000 B / 1 GB/s = 7 us.
  CHECK(t(100, 10, 2000) == Approx(7e-6));
  // 1000 rows on 100 units: 400 active, 2.5 waves: 17.5 us. With rows and units swapped
  // (100 rows on 1000 units) it would be one wave, 7 us.
  CHECK(t(100, 1000, 2000) == Approx(17.5e-6));
  CHECK(t(1000, 100, 2000) == Approx(7e-6));
  // Long rows fill the unit's storage: 65536 / 40000 B = 1.6384 resident, 163.84 active;
  // 1000 / 163.84 = 6.1035 waves of (1 us + 120000 B / 1 GB/s = 121 us) = 738.525 us.
  CHECK(t(100, 1000, 40000) == Approx(738.525e-6));
  // A row larger than the storage still runs one block per unit: 100 active, 10 waves of 601 us.
  CHECK(t(100, 1000, 200000) == Approx(6010e-6));
}

TEST_CASE("row_reduction_with_few_rows_is_latency_bound_not_bandwidth_bound", "[cost][rows]") {
  const YAML::Node ctx = load_yaml_text("{}", "test");
  const DeviceSpec d = read_device(load_preset(PresetKind::Device, "h200-sxm", ctx, "device"), "device");
  REQUIRE(d.vector_engine().models_rows());
  // One LayerNorm row of 50257 bf16 elements: one block streams it, far below HBM rate.
  const Op one = row_reduce(make_vector("ln", "layernorm", 50257, 6, 8, Dtype::bf16), RowReduce::norm, 1, 50257);
  const KernelCost c = kernel_cost(d, one);
  const double rows_t = row_reduction_time(d.vector_engine(), d.matrix_engine().units, RowReduce::norm, 1,
                                           50257 * 2, one.bytes);
  CHECK(c.compute_s == Approx(rows_t));
  CHECK(c.compute_s > 10 * one.bytes / d.backing_memory().sustained());
  // The same bytes as a point-wise op (no row reduction) keep the streaming cost.
  const Op flat = make_vector("add", "add", 50257, 6, 8, Dtype::bf16);
  CHECK(kernel_cost(d, flat).compute_s < c.compute_s / 10);
}

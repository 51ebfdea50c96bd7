// The row-reduction cost equation (hw/compute/vector_engine.h, row_reduction_time) on
// hand-computed cases, with round constants so every figure can be checked on paper.
#include <catch2/catch.hpp>

#include "hw/compute/vector_engine.h"
#include "hw/kernel_cost.h"
#include "sim/config/yaml_doc.h"
#include "workloads/builders/graph_builder.h"

using namespace orrery;

namespace {

// 0.25 GB/s per warp (1 GB/s for a 4-warp LayerNorm block) and 1 us per row for norm kernels;
// 4 row blocks per unit at most; 64 KiB of on-chip storage per unit.
VectorEngineSpec round_engine() {
  VectorEngineSpec v;
  v.peak[Dtype::fp32] = 1e12;
  for (RowReduce f : {RowReduce::norm, RowReduce::softmax, RowReduce::select}) {
    v.row_bandwidth[f] = 0.25e9;
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
  // Rows of 1-byte elements, so row_len = row_bytes; a LayerNorm block is 4 warps, one row.
  auto t = [&](int units, double rows, double row_bytes) {
    return row_reduction_time(v, units, RowReduce::norm, rows, row_bytes, 1, rows * 3 * row_bytes);
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
                                           50257, 2, one.bytes);
  CHECK(c.compute_s == Approx(rows_t));
  CHECK(c.compute_s > 10 * one.bytes / d.backing_memory().sustained());
  // The same bytes as a point-wise op (no row reduction) keep the streaming cost.
  const Op flat = make_vector("add", "add", 50257, 6, 8, Dtype::bf16);
  CHECK(kernel_cost(d, flat).compute_s < c.compute_s / 10);
}

TEST_CASE("row_mapping_follows_the_kernels_launch_rule", "[cost][rows]") {
  // LayerNorm: one 128-thread block (4 warps) per row, whatever the row.
  for (double len : {768.0, 50257.0}) {
    const RowMapping m = row_mapping(RowReduce::norm, 64, len, 2);
    CHECK(m.threads == 128);
    CHECK(m.rows_per_block == 1);
    CHECK(m.blocks_per_row == 1);
  }
  // Softmax, bf16: up to 2048 columns (4096 B <= 8192 B) a warp per row, the row in registers,
  // 128-thread blocks of 4 warps = 4 rows; 2049 columns go one block per row of
  // ceil(2049 / 32) * 32 = 2080 -> capped at 1024 threads.
  const RowMapping w = row_mapping(RowReduce::softmax, 4096, 2048, 2);
  CHECK(w.threads == 32);
  CHECK(w.rows_per_block == 4);
  const RowMapping b = row_mapping(RowReduce::softmax, 4096, 2049, 2);
  CHECK(b.threads == 1024);
  CHECK(b.rows_per_block == 1);
  // fp32 rows of 2048 columns are 8192 B: still a warp; fp64 (16384 B) is a block of 1024.
  CHECK(row_mapping(RowReduce::softmax, 1, 2048, 4).threads == 32);
  CHECK(row_mapping(RowReduce::softmax, 1, 2048, 8).threads == 1024);
  // 1600 columns: next power of two 2048, one warp (64 elements a thread).
  CHECK(row_mapping(RowReduce::softmax, 1, 1600, 2).threads == 32);
  // 100 columns: next power of two 128 <= 128, so each warp takes 2 rows: 8 rows per block.
  CHECK(row_mapping(RowReduce::softmax, 1, 100, 2).rows_per_block == 8);
  // 16 columns: a group of min(16, 32) = 16 threads; 128 / 16 = 8 groups of 2 rows per block.
  const RowMapping tiny = row_mapping(RowReduce::softmax, 1, 16, 2);
  CHECK(tiny.threads == 16);
  CHECK(tiny.rows_per_block == 16);
  // 3000 columns: a block of min(3000, 1024) = 1024 threads.
  CHECK(row_mapping(RowReduce::softmax, 1, 3000, 2).threads == 1024);
  // Argmax (Reduce.cuh), 6400 bf16 columns: n = 6400 / 4 = 1600 vector loads.
  //  T = 1: bw = 32, bh = 1, bw = min(512, 512) = 512; vpt = 4 >= min(16, 256): one row per
  //         block of 512 threads.
  const RowMapping a1 = row_mapping(RowReduce::select, 1, 6400, 2);
  CHECK(a1.threads == 512);
  CHECK(a1.rows_per_block == 1);
  //  T = 8: bh = 8, bw = 512 / 8 = 64; vpt = 25 < min(128, 256): 8 rows per block, 64 threads
  //         (2 warps) per row.
  const RowMapping a8 = row_mapping(RowReduce::select, 8, 6400, 2);
  CHECK(a8.threads == 64);
  CHECK(a8.rows_per_block == 8);
  //  T = 64: bh = min(64, 512 / 32) = 16, bw = 32; vpt = 50 < 256: 16 rows per block, a warp each.
  const RowMapping a64 = row_mapping(RowReduce::select, 64, 6400, 2);
  CHECK(a64.threads == 32);
  CHECK(a64.rows_per_block == 16);
  //  50257 columns, T = 8: n = 12565, bw = 64, vpt = 197 >= 128: the 8 warps-rows split one row,
  //  512 threads; vpt = ceil(12565 / 512) = 25 < 256: one block.
  const RowMapping al = row_mapping(RowReduce::select, 8, 50257, 2);
  CHECK(al.threads == 512);
  CHECK(al.rows_per_block == 1);
  CHECK(al.blocks_per_row == 1);
  //  A row of 2^20 elements: n = 262144, 512 threads, vpt = 512 >= 256: 2 blocks per row.
  CHECK(row_mapping(RowReduce::select, 1, 1048576, 2).blocks_per_row == 2);
  //  Short rows (100 columns, no vector loads): bw = 32, bh = 16, bw = 32; vpt = 4 < 256.
  CHECK(row_mapping(RowReduce::select, 4096, 100, 2).rows_per_block == 16);
}

TEST_CASE("row_reduction_time_of_packed_rows_by_hand", "[cost][rows]") {
  const VectorEngineSpec v = round_engine();
  // Softmax of 8 rows of 1024 bf16 (2048 B): a warp per row, 4 rows per block -> 2 blocks;
  // resident = clamp(65536 / (2048 * 4), 1, 4) = 4; on 100 units both run at once.
  // Each warp streams bytes / rows = 3 * 2048 B at 0.25 GB/s: t = 1 us + 24.576 us.
  CHECK(row_reduction_time(v, 100, RowReduce::softmax, 8, 1024, 2, 8 * 3 * 2048.0) ==
        Approx(25.576e-6));
  // The same rows at 2049 columns: a block of 1024 threads = 32 warps per row, 8 blocks:
  // t = 1 us + 3 * 4098 B / (32 * 0.25 GB/s) = 2.53675 us: a row twice as long, 10x faster.
  CHECK(row_reduction_time(v, 100, RowReduce::softmax, 8, 2049, 2, 8 * 3 * 4098.0) ==
        Approx(2.53675e-6));
  // Argmax of 64 rows of 6400 bf16 on 2 units: 16 rows per block, a warp each -> 4 blocks;
  // resident = clamp(65536 / (12800 * 16), 1, 4) = 1 -> 2 active, 2 waves of
  // (1 us + 12800 B / 0.25 GB/s = 52.2 us) = 104.4 us.
  CHECK(row_reduction_time(v, 2, RowReduce::select, 64, 6400, 2, 64 * 12800.0) == Approx(104.4e-6));
}

TEST_CASE("long_softmax_rows_run_a_kernel_of_their_own_limited_by_thread_slots", "[cost][rows]") {
  VectorEngineSpec v = round_engine();
  // The block-per-row softmax: 1 us + its own 0.125 GB/s per warp; a unit holds 1,536 threads.
  v.block_softmax_latency = 3e-6;
  v.block_softmax_bandwidth = 0.125e9;
  v.row_threads = 1536;
  // 6,400 bf16 columns: one 1,024-thread block (32 warps) per row, 4 GB/s per row; storage
  // would allow 65536 / 12800 = 5.1 -> 4 blocks, the threads only 1536 / 1024 = 1.5.
  // 300 rows on 100 units: 150 active, 2 waves of (3 us + 38400 B / 4 GB/s = 12.6 us).
  const RowMapping m = row_mapping(RowReduce::softmax, 300, 6400, 2);
  REQUIRE(m.block_per_row);
  REQUIRE(m.block_threads == 1024);
  CHECK(row_reduction_time(v, 100, RowReduce::softmax, 300, 6400, 2, 300 * 38400.0) == Approx(2 * 12.6e-6));
  // Short rows keep the warp kernel's constants: 2,048 columns, a warp per row, 4 rows per
  // 128-thread block (1536 / 128 = 12 >= 4 blocks: the block slots bind): 400 rows on 100
  // units, 100 blocks, one wave of (1 us + 12288 B / 0.25 GB/s = 50.152 us).
  CHECK(row_reduction_time(v, 100, RowReduce::softmax, 400, 2048, 2, 400 * 12288.0) == Approx(50.152e-6));
  // Without the thread limit the long rows get the storage's 4 blocks: 300 of 400 slots, one wave.
  v.row_threads = 0;
  CHECK(row_reduction_time(v, 100, RowReduce::softmax, 300, 6400, 2, 300 * 38400.0) == Approx(12.6e-6));
}

#include "hw/kernel_cost.h"

#include <algorithm>

#include <catch2/catch.hpp>

#include "sim/config/yaml_doc.h"
#include "workloads/builders/graph_builder.h"

using namespace orrery;

namespace {

DeviceSpec h100() {
  const YAML::Node ctx = load_yaml_text("{}", "test");
  return read_device(load_preset(PresetKind::Device, "h100-sxm", ctx, "device"), "device");
}

double hbm_time(const DeviceSpec& d, const KernelCost& c) {
  return c.bytes / d.memory[static_cast<size_t>(c.level)].sustained();
}

}  // namespace

TEST_CASE("matmul_is_memory_bound_below_ridge_point", "[cost]") {
  const DeviceSpec d = h100();
  // M = 1: a matrix-vector product reads the whole 4096 x 14336 weight for 2 FLOPs per element.
  const KernelCost gemv = kernel_cost(d, make_gemm("gemv", 1, 14336, 4096, Dtype::bf16));
  CHECK(hbm_time(d, gemv) > gemv.compute_s);
  // Large square GEMM: far above the ridge point.
  const KernelCost big = kernel_cost(d, make_gemm("big", 8192, 8192, 8192, Dtype::bf16));
  CHECK(big.compute_s > 10 * hbm_time(d, big));
}

TEST_CASE("large_gemm_reaches_max_efficiency_of_peak", "[cost]") {
  const DeviceSpec d = h100();
  const Op op = make_gemm("big", 8192, 8192, 8192, Dtype::bf16);
  const double t = kernel_cost(d, op).compute_s;
  const double achieved = op.flops / t;
  CHECK(achieved == Approx(989e12 * d.matrix_engine().max_efficiency).epsilon(0.02));
}

TEST_CASE("unaligned_row_stride_takes_the_slow_path", "[cost]") {
  const DeviceSpec d = h100();
  const double aligned = kernel_cost(d, make_gemm("a", 4096, 50264, 1600, Dtype::bf16)).compute_s;
  const double unaligned = kernel_cost(d, make_gemm("u", 4096, 50257, 1600, Dtype::bf16)).compute_s;
  CHECK(unaligned > 4 * aligned);
  // M is not a row stride: an odd M alone stays on the fast path.
  const double odd_m = kernel_cost(d, make_gemm("m", 4095, 50264, 1600, Dtype::bf16)).compute_s;
  CHECK(odd_m == Approx(aligned).epsilon(0.01));
  // ...unless A is read transposed (a weight gradient dW = dY^T X), where M is A's stride.
  const double dw = kernel_cost(d, make_gemm("dw", 50257, 1600, 4096, Dtype::bf16, 1, true)).compute_s;
  CHECK(dw > 4 * aligned);
}

TEST_CASE("an_unaligned_gemm_above_a_few_rows_streams_at_its_load_rate", "[cost]") {
  DeviceSpec d = h100();
  MatrixEngineSpec& m = d.matrix.front();
  m.unaligned_bandwidth = 1e12;  // 1 TB/s, below the HBM's sustained rate
  m.unaligned_gemv_max_m = 4;
  // GPT-2's LM head at M = 16: a 768 x 50,257 bf16 weight streamed (the 77 MB dominate).
  const Op head = make_gemm("lm_head", 16, 50257, 768, Dtype::bf16);
  const KernelCost c = kernel_cost(d, head);
  CHECK(c.bandwidth_cap == Approx(1e12));
  CHECK(c.duration(d.backing_memory().sustained()) == Approx(c.overhead_s + head.bytes / 1e12));
  // M = 4 runs the matrix-vector kernel: the memory's rate; M = 5 is already the GEMM kernel.
  CHECK(kernel_cost(d, make_gemm("gemv", 4, 50257, 768, Dtype::bf16)).bandwidth_cap > 1e15);
  CHECK(kernel_cost(d, make_gemm("five", 5, 50257, 768, Dtype::bf16)).bandwidth_cap == Approx(1e12));
  // The aligned head (50,264 columns) is not limited either.
  CHECK(kernel_cost(d, make_gemm("aligned", 16, 50264, 768, Dtype::bf16)).bandwidth_cap > 1e15);
  // A bound above the memory's rate changes nothing.
  m.unaligned_bandwidth = 1e14;
  const KernelCost fast = kernel_cost(d, head);
  CHECK(fast.duration(d.backing_memory().sustained()) ==
        Approx(fast.overhead_s + std::max(fast.compute_s, head.bytes / d.backing_memory().sustained())));
}

TEST_CASE("wave_scheduler_quantises_and_stream_k_does_not", "[cost]") {
  DeviceSpec d = h100();
  d.matrix.front().tiles = {{128, 128}};
  // 132 tiles fill one wave on 132 units; 133 tiles need a second wave.
  const Op fits = make_gemm("fits", 128 * 12, 128 * 11, 4096, Dtype::bf16);
  const Op spills = make_gemm("spills", 128 * 19, 128 * 7, 4096, Dtype::bf16);  // 133 tiles
  d.matrix.front().stream_k = false;
  const double w_fit = kernel_cost(d, fits).compute_s, w_spill = kernel_cost(d, spills).compute_s;
  CHECK(w_spill == Approx(2 * w_fit).epsilon(0.01));
  d.matrix.front().stream_k = true;
  const double s_fit = kernel_cost(d, fits).compute_s, s_spill = kernel_cost(d, spills).compute_s;
  CHECK(s_spill == Approx(s_fit * 133.0 / 132.0).epsilon(0.01));
}

TEST_CASE("small_operands_are_served_by_the_cache_large_by_hbm", "[cost]") {
  const DeviceSpec d = h100();
  const KernelCost small = kernel_cost(d, make_vector("s", "add", 1 << 20, 4, 1, Dtype::bf16));
  const KernelCost large = kernel_cost(d, make_vector("l", "add", 1 << 28, 4, 1, Dtype::bf16));
  CHECK(d.memory[static_cast<size_t>(small.level)].is_cache());
  CHECK(&d.memory[static_cast<size_t>(large.level)] == &d.backing_memory());
}

TEST_CASE("elementwise_time_is_bytes_over_sustained_bandwidth", "[cost]") {
  const DeviceSpec d = h100();
  const Op op = make_vector("add", "add", 1 << 28, 4, 1, Dtype::bf16);
  const double t = isolated_kernel_time(d, op);
  CHECK(t == Approx(d.kernel_overhead + d.backing_memory().latency +
                    op.bytes / d.backing_memory().sustained()));
}

TEST_CASE("decode_attention_with_few_blocks_cannot_saturate_hbm", "[cost]") {
  const DeviceSpec d = h100();
  AttentionShape a;
  a.batch = 1;
  a.heads = 8;
  a.q_len = 1;
  a.kv_len = 32768;
  a.head_dim = 128;
  a.causal = false;
  const KernelCost c = kernel_cost(d, make_attention("decode", a, Dtype::bf16));
  CHECK(c.bandwidth_cap == Approx(8 * d.unit_bandwidth));
  CHECK(c.bandwidth_cap < d.backing_memory().sustained());
}

TEST_CASE("attention_backward_costs_two_and_a_half_forwards", "[cost]") {
  const DeviceSpec d = h100();
  AttentionShape a;
  a.batch = 4;
  a.heads = 32;
  a.q_len = a.kv_len = 8192;
  a.head_dim = 128;
  const double fwd = kernel_cost(d, make_attention("f", a, Dtype::bf16)).compute_s;
  a.backward = true;
  const double bwd = kernel_cost(d, make_attention("b", a, Dtype::bf16)).compute_s;
  CHECK(bwd == Approx(2.5 * fwd));
}

TEST_CASE("grouped_gemm_runs_persistent_waves_of_its_tile_by_group_size", "[cost]") {
  const DeviceSpec d = h100();
  const MatrixEngineSpec& m = d.matrix_engine();
  REQUIRE(m.grouped.declared());
  const double tile_rate = 989e12 / 132 * m.max_efficiency;  // one SM at full rate
  auto grouped = [](double experts, double rows, double n, double k) {
    Op op = make_gemm("g", rows, n, k, Dtype::bf16, experts);
    op.gemm.grouped = true;
    return op;
  };
  // 8 experts of 32 rows (small: ping-pong 64x128 tiles, two per SM): 8 x 1 x 32 = 256 tiles
  // fill 132 x 2 slots in one wave; each tile alone would run at half the SM's rate.
  const double small = kernel_cost(d, grouped(8, 32, 4096, 7168)).compute_s;
  CHECK(small == Approx(2 * (2.0 * 64 * 128 * 7168) / tile_rate).epsilon(1e-9));
  // 8 experts of 512 rows (large: cooperative 128x256 tiles): 8 x 4 x 16 = 512 tiles, 4 waves.
  const double large = kernel_cost(d, grouped(8, 512, 4096, 7168)).compute_s;
  CHECK(large == Approx(4 * (2.0 * 128 * 256 * 7168) / tile_rate).epsilon(1e-9));
  // No split-K, however few the tiles: one expert of 512 rows and N = 768 is 4 x 3 = 12 tiles,
  // one wave, each tile over the whole K; the dense GEMM splits K over the idle SMs.
  const KernelCost few = kernel_cost(d, grouped(1, 512, 768, 3072));
  CHECK(few.compute_s == Approx((2.0 * 128 * 256 * 3072) / tile_rate).epsilon(1e-9));
  CHECK(kernel_cost(d, make_gemm("dense", 512, 768, 3072, Dtype::bf16)).compute_s < few.compute_s / 4);
  // The setup kernel before the GEMM: two launches, however small M is (no split-K kernel).
  CHECK(few.kernels == 1 + m.grouped.setup_kernels);
  CHECK(kernel_cost(d, grouped(8, 1, 4096, 7168)).kernels == 2);
  // Memory: the kernel reaches grouped_efficiency of the HBM's sustained rate (weights stream).
  const KernelCost stream = kernel_cost(d, grouped(32, 1, 4096, 7168));
  CHECK(stream.bandwidth_cap == Approx(m.grouped_efficiency * d.backing_memory().sustained()));
  // The rule is the bf16 kernel's: an fp8 grouped GEMM is costed as the dense one (stream-K),
  // one launch, with the grouped bandwidth cap.
  Op fp8 = grouped(8, 512, 4096, 7168);
  fp8.dtype = Dtype::fp8;
  Op dense = make_gemm("dense", 512, 4096, 7168, Dtype::bf16, 8);
  dense.dtype = Dtype::fp8;
  const KernelCost f = kernel_cost(d, fp8), g = kernel_cost(d, dense);
  CHECK(f.compute_s == Approx(g.compute_s).epsilon(1e-12));
  CHECK(f.kernels == g.kernels);
  CHECK(f.bandwidth_cap == Approx(m.grouped_efficiency * d.backing_memory().sustained()));
}

// The H800 presets: an H100 with NVLink cut to 8 links (400 GB/s both directions), in a DGX and in a 256-GPU cluster
// that --set system.devices=N cuts to its first N GPUs.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.h"

using namespace orrery::test;

TEST_CASE("dgx_h800_all_reduce_is_bound_by_its_8_channels_of_20_GBps", "[systems][h800]") {
  const auto h100 = run_report("--system dgx-h100 --workload allreduce-1gib");
  const auto h800 = run_report("--system dgx-h800 --workload allreduce-1gib");
  // 1 GiB is bandwidth-bound: bus bandwidth scales with the channels NCCL builds on each
  // NVLink port (docs/models.md §7.5): 8 x 20.13 GB/s on the H800's 8 links, 12 x 30.2 on the
  // H100's 18.
  CHECK(h800["summary"]["busbw_GBps"].get<double>() / h100["summary"]["busbw_GBps"].get<double>() ==
        Approx(8 * 20.13 / (12 * 30.2)).epsilon(0.01));
  CHECK(h800["system"]["name"] == "dgx-h800");
}

TEST_CASE("h800_cluster_cut_to_32_gpus_runs_expert_parallel_over_infiniband", "[systems][h800][moe]") {
  const auto r = run_report("--system h800-cluster --set system.devices=32 --workload deepseek-r1-decode-cm384 "
                            "--set workload.precision=fp8 --set workload.weights=fp8 --set workload.parallel.ep=32 "
                            "--set workload.moe.shared_replicas=0 --set workload.moe.redundant_experts=0 "
                            "--set workload.batch=16 --set workload.moe.a2a=collective");
  CHECK(r["summary"]["devices"] == 32);
  CHECK(r["system"]["device"]["name"] == "h800-sxm");
  // NVLink joins only the GPUs of one node: an expert group of 32 spans 4 nodes on InfiniBand.
  CHECK(r["parallel"]["group_planes"]["ep"] == "infiniband");
}

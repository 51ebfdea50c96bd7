// Expert parallelism end to end: the network carries exactly the routed bytes, skewed routing
// slows the step down (the busiest rank sets it), and redundant copies of hot experts help.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {
const std::string kRun = "--system dgx-h100 --workload tests/data/workloads/gpt2-small-moe-decode.yaml "
                         "--set workload.parallel.ep=8 ";
}

TEST_CASE("ep8_dispatch_and_combine_bytes_on_nvlink_match_the_routing_by_hand", "[moe][network]") {
  const auto r = run_report(kRun + "--set workload.decode_tokens=1");
  // Per layer, each of 8 ranks dispatches 8 tokens x 2 experts x 768 x 2 B and keeps 1/8 of
  // it (balanced): 7/8 crosses the switch, up one link and down another; combine returns the
  // same. 12 layers.
  const double per_rank = 8 * 2 * 768 * 2.0;
  // Through the library (moe.a2a: collective) a transfer this small runs NCCL's LL protocol,
  // whose 8-byte lines carry 4 bytes of payload: the wire carries twice the payload.
  const double ll = 0.5;
  const double expected = 12 * 2 /*dispatch+combine*/ * 8 * per_rank * 7 / 8 * 2 /*links*/ / ll;
  double bytes = 0;
  for (const auto& p : r["planes"]) bytes += p["bytes"].get<double>();
  // Link bytes are integrated from max-min rates over time: equal to a few parts per million.
  CHECK(bytes == Approx(expected).epsilon(1e-5));
  CHECK(r["parallel"]["group_planes"]["ep"] == "nvlink");
  CHECK(r["moe"]["imbalance"].get<double>() == Approx(1));
  CHECK(r["moe"]["imbalance_cost_s"].get<double>() == Approx(0).margin(1e-15));
}

TEST_CASE("skewed_routing_slows_the_step_and_redundant_experts_recover_part", "[moe]") {
  // 1,024 sequences: enough rows that the hot rank's grouped GEMM over its two expert slots
  // fills the SMs. torch._grouped_mm never splits K: with a few hundred rows per slot its down
  // projection (N = 768) is one wave of 30 tiles and slower than one dense GEMM of all rows.
  const std::string big = kRun + "--set workload.batch=1024 ";
  const auto even = run_report(big);
  const auto zipf = run_report(big + "--set workload.moe.routing=zipf --set workload.moe.alpha=1.5");
  const auto eplb = run_report(big + "--set workload.moe.routing=zipf --set workload.moe.alpha=1.5 "
                                     "--set workload.moe.redundant_experts=8");
  const double t_even = even["summary"]["tpot_s"], t_zipf = zipf["summary"]["tpot_s"], t_eplb = eplb["summary"]["tpot_s"];
  CHECK(t_zipf > 1.1 * t_even);
  CHECK(t_eplb < t_zipf);
  CHECK(t_eplb >= t_even);
  CHECK(zipf["moe"]["imbalance"].get<double>() > 2);
  CHECK(eplb["moe"]["imbalance"].get<double>() < zipf["moe"]["imbalance"].get<double>());
  CHECK(zipf["moe"]["imbalance_cost_s"].get<double>() > 0);
  // The same seed gives the same step.
  CHECK(run_report(big + "--set workload.moe.routing=zipf --set workload.moe.alpha=1.5")["summary"]["tpot_s"] ==
        zipf["summary"]["tpot_s"]);
}

TEST_CASE("expert_parallel_ranks_hold_only_their_experts", "[moe][memory]") {
  auto weights = [](const nlohmann::json& r) {
    for (const auto& m : r["memory"])
      if (m["item"] == "weights") return m["bytes"].get<double>();
    return 0.0;
  };
  const auto one = run_report("--system h100-sxm --workload tests/data/workloads/gpt2-small-moe-decode.yaml");
  const auto ep8 = run_report(kRun);
  // gpt2-small's experts are GELU MLPs like its own (fc1 and fc2 with biases): 12 layers x 8
  // x (2 x 768 x 3072 + 3072 + 768) fp32 weights (autocast); with ep 8 a rank keeps 1 of 8.
  const double experts = 12 * 8 * (2 * 768 * 3072 + 3072 + 768) * 4.0;
  CHECK(weights(one) - weights(ep8) == Approx(experts * 7 / 8).epsilon(1e-9));
}

namespace {

double plane_bytes(const nlohmann::json& r, const std::string& name) {
  for (const auto& p : r["planes"])
    if (p["name"] == name) return p["bytes"].get<double>();
  return -1;
}

// dgx-h100 cut into 2 nodes of 4 GPUs (NVLink per node, the InfiniBand switch across), one
// expert per GPU (8 experts, top-2), 8 tokens per rank, bf16 rows of 768 x 2 B, 12 layers.
const std::string kTwoNodes = "--system dgx-h100 --workload tests/data/workloads/gpt2-small-moe-decode.yaml "
                              "--set workload.parallel.ep=8 --set workload.decode_tokens=1 "
                              "--set system.devices_per_node=4 --set system.planes.nvlink.scope=node ";

}  // namespace

TEST_CASE("hierarchical_dispatch_crosses_nodes_once_per_token_and_node_by_hand", "[moe][network]") {
  const auto flat = run_report(kTwoNodes);
  const auto hier = run_report(kTwoNodes + "--set workload.moe.a2a=hierarchical");
  const double row = 768 * 2.0, T = 8, b = T * 2 * row, calls = 12 * 2 /*dispatch+combine*/, links = 2;
  // Through the library (NCCL's point-to-point all-to-all): every rank sends 4/8 of its rows
  // to the other node over InfiniBand and 3/8 to its own node's peers over NVLink. These tiny
  // transfers take NVLink's LL protocol, half of whose wire bytes are flags (InfiniBand here
  // declares no protocols: its bytes are the payload).
  CHECK(plane_bytes(flat, "infiniband") == Approx(calls * 8 * b * 4 / 8 * links).epsilon(1e-6));
  CHECK(plane_bytes(flat, "nvlink") == Approx(calls * 8 * b * 3 / 8 * links / 0.5).epsilon(1e-6));
  // Node-forwarded: a token reaches the other node unless both its experts are in its own:
  // q = 1 - C(4,2)/C(8,2) = 22/28. InfiniBand = tokens x remote nodes reached x row bytes.
  CHECK(plane_bytes(hier, "infiniband") == Approx(calls * 8 * T * 22.0 / 28 * row * links).epsilon(1e-6));
  // NVLink: each rank sends 3/8 of its rows to its node's peers and forwards 3/8 of the rows of
  // its twin in the other node.
  CHECK(plane_bytes(hier, "nvlink") == Approx(calls * 8 * b * 6 / 8 * links).epsilon(1e-6));
  CHECK(hier["summary"]["tpot_s"].get<double>() < flat["summary"]["tpot_s"].get<double>());
}

TEST_CASE("hierarchical_dispatch_in_one_node_is_the_flat_one", "[moe][network]") {
  // One node: nothing to forward. DeepEP's kernels move the flat all-to-all-v's payload
  // without the communication library: the library's transfer (NCCL's LL protocol at this
  // size, twice the payload on the wire, ~7 us per call) moves twice the bytes and is slower.
  const std::string one = "--system dgx-h100 --workload tests/data/workloads/gpt2-small-moe-decode.yaml "
                          "--set workload.parallel.ep=8 --set workload.decode_tokens=1 ";
  const auto flat = run_report(one);
  const auto hier = run_report(one + "--set workload.moe.a2a=hierarchical");
  CHECK(hier["summary"]["tpot_s"].get<double>() < flat["summary"]["tpot_s"].get<double>());
  CHECK(plane_bytes(hier, "nvlink") == Approx(plane_bytes(flat, "nvlink") / 2).epsilon(1e-9));
}

TEST_CASE("hierarchical_dispatch_with_shared_replicas_is_refused", "[moe][config]") {
  const auto r = run_orrery("run " + kTwoNodes +
                            "--set workload.moe.a2a=hierarchical --set workload.moe.shared_replicas=1 --quiet");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("a2a: hierarchical does not model shared-expert replicas") != std::string::npos);
}

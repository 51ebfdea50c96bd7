// Node-forwarded (hierarchical) all-to-all-v, sim/run/node_forward.*: the probability that a
// token reaches a node, checked by enumeration; the two planes' bytes for 2 nodes x 2 GPUs by
// hand; conservation of every (token, expert) row; skewed against balanced routing; and the
// hub's time for it (in aggregate against max-min flows, and by hand).
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "sim/run/comm_hub.h"
#include "sim/run/node_forward.h"
#include "topologies/topology.h"
#include "workloads/moe/routing.h"

using namespace orrery;

namespace {

CommOp::NodeRouting routing(double E, double k, double G = 1, double M = 1) {
  return {k, E, k, G, M};
}

CommOp a2a(double bytes, std::vector<double> shares, const CommOp::NodeRouting& r, bool reverse = false) {
  CommOp op;
  op.op = CommKind::AllToAllV;
  op.group = CommGroup::Expert;
  op.bytes = bytes;
  op.shares = std::make_shared<const std::vector<double>>(std::move(shares));
  op.node_forward = std::make_shared<const CommOp::NodeRouting>(r);
  op.reverse = reverse;
  return op;
}

double total(const std::vector<std::vector<double>>& m) {
  double s = 0;
  for (const auto& row : m) s += std::accumulate(row.begin(), row.end(), 0.0);
  return s;
}

/// k distinct experts of E drawn uniformly: the fraction of the C(E, k) choices with at least
/// one of experts 0..held-1, counted one subset at a time.
double enumerated(int E, int k, int held) {
  long hit = 0, all = 0;
  for (unsigned mask = 0; mask < (1u << E); ++mask) {
    if (__builtin_popcount(mask) != k) continue;
    ++all;
    if (mask & ((1u << held) - 1)) ++hit;
  }
  return double(hit) / double(all);
}

}  // namespace

TEST_CASE("node_touch_probability_is_the_hypergeometric_one_for_equally_popular_experts", "[moe][network]") {
  // By enumeration of every top-k choice, for small E.
  CHECK(node_touch_probability(3.0 / 8, 2, routing(8, 3)) == Approx(enumerated(8, 3, 3)).epsilon(1e-12));
  CHECK(node_touch_probability(4.0 / 12, 3, routing(12, 4)) == Approx(enumerated(12, 4, 4)).epsilon(1e-12));
  // 2 nodes x 2 GPUs, one expert per GPU, top-2: a token misses a node only when both its
  // experts sit on the other: 1 of the 6 pairs.
  CHECK(node_touch_probability(0.5, 2, routing(4, 2)) == Approx(5.0 / 6).epsilon(1e-12));
  // A node with every assignment is always reached; one with none never.
  CHECK(node_touch_probability(1.0, 2, routing(4, 2)) == 1.0);
  CHECK(node_touch_probability(0.0, 2, routing(4, 2)) == 0.0);
}

TEST_CASE("group_limited_routing_bounds_the_nodes_when_groups_lie_whole_on_nodes", "[moe][network]") {
  // DeepSeek-V3: 256 experts, top-8, 8 groups, top-4 groups. On 4 nodes (2 groups each) a
  // token reaches a node unless its 4 groups are among the other 6: 1 - C(6,4)/C(8,4) = 55/70;
  // the expert-level bound alone would give 1 - C(192,8)/C(256,8) = 0.9036.
  const auto v3 = routing(256, 8, 8, 4);
  double expert_level = 1;
  for (int i = 0; i < 8; ++i) expert_level *= (192.0 - i) / (256.0 - i);
  expert_level = 1 - expert_level;
  CHECK(expert_level == Approx(0.9036).epsilon(1e-4));
  CHECK(node_touch_probability(0.25, 4, v3) == Approx(55.0 / 70).epsilon(1e-12));
  // On 8 nodes (a group each): at most 4 nodes per token, the node limit itself.
  CHECK(8 * node_touch_probability(0.125, 8, v3) == Approx(4).epsilon(1e-12));
  // Groups that do not lie whole on the nodes (8 groups, 3 nodes): the expert level only.
  CHECK(node_touch_probability(1.0 / 3, 3, v3) == Approx(node_touch_probability(1.0 / 3, 3, routing(256, 8))).epsilon(1e-15));
  // Without a group limit (top-4 of 4 groups) the groups bound nothing.
  CHECK(node_touch_probability(0.25, 4, routing(256, 8, 4, 4)) == Approx(expert_level).epsilon(1e-12));
}

TEST_CASE("two_nodes_of_two_gpus_put_the_hand_computed_bytes_on_each_plane", "[moe][network]") {
  // Members 0, 1 on node 0 and 2, 3 on node 1; one expert per GPU, top-2; every sender has T
  // tokens of row bytes s, so b = 2 T s and B = T s. Take T s = 6 MB.
  const double Ts = 6e6, b = 2 * Ts;
  const std::vector<int> node = {0, 0, 1, 1};
  SECTION("balanced: a token reaches the other node with probability 5/6") {
    const auto t = node_forward_traffic(a2a(b, {0.25, 0.25, 0.25, 0.25}, routing(4, 2)), node);
    // Scale-out: each member sends T x 5/6 rows to the member of the other node with its index.
    CHECK(t.scale_out[0][2] == Approx(Ts * 5 / 6));
    CHECK(t.scale_out[1][3] == Approx(Ts * 5 / 6));
    CHECK(t.scale_out[2][0] == Approx(Ts * 5 / 6));
    CHECK(t.scale_out[0][3] == 0);
    CHECK(t.scale_out[0][1] == 0);
    CHECK(total(t.scale_out) == Approx(4 * Ts * 5 / 6));
    // Scale-up: to the peer in its node directly (b / 4) and, as a forwarder, the rows of the
    // other node's sender with its index for its peer (b / 4).
    CHECK(t.scale_up[0][1] == Approx(b / 4 + b / 4));
    CHECK(total(t.scale_up) == Approx(4 * b / 2));
    // The flat all-to-all-v sends every remote row across: b / 2 per member (4 T s in all).
    CHECK(total(t.scale_out) < 4 * b / 2);
  }
  SECTION("known routing: every token picks experts 0 and 1, both on node 0") {
    const auto t = node_forward_traffic(a2a(b, {0.5, 0.5, 0, 0}, routing(4, 2)), node);
    // IB bytes = tokens x distinct remote nodes x token bytes: node 1's senders reach node 0
    // once per token; node 0's senders have nothing to send across.
    CHECK(t.scale_out[2][0] == Approx(Ts));
    CHECK(t.scale_out[3][1] == Approx(Ts));
    CHECK(total(t.scale_out) == Approx(2 * Ts));
    // NVLink: 0 and 1 swap their rows directly (T s each way), and forward the rows that
    // arrived from 2 and 3 for the other's expert (T s each).
    CHECK(t.scale_up[0][1] == Approx(2 * Ts));
    CHECK(t.scale_up[1][0] == Approx(2 * Ts));
    CHECK(total(t.scale_up) == Approx(4 * Ts));
  }
}

TEST_CASE("every_row_reaches_its_expert_once_and_a_combine_is_the_transpose", "[moe][network]") {
  // 4 nodes x 4 members, skewed shares. Rows of sender i for member r: b x share_r. They reach
  // r directly (same node, scale-up), with the scale-out copy when r is i's forwarder there,
  // or forwarded on the scale-up plane; nothing else moves. Per destination r:
  //   scale-up bytes into r + Σ_{i: r forwards for i} b share_r = Σ_{i != r} b share_r.
  std::vector<double> share(16);
  for (size_t i = 0; i < 16; ++i) share[i] = 1.0 + double((i * 7) % 5);
  const double sum = std::accumulate(share.begin(), share.end(), 0.0);
  for (double& x : share) x /= sum;
  std::vector<int> node(16);
  for (int i = 0; i < 16; ++i) node[i] = i / 4;
  const double b = 1e6;
  const auto r = routing(256, 8, 8, 4);
  const auto t = node_forward_traffic(a2a(b, share, r), node);
  for (size_t dst = 0; dst < 16; ++dst) {
    double up_in = 0, via_out = 0;
    for (size_t i = 0; i < 16; ++i) {
      up_in += t.scale_up[i][dst];
      if (t.scale_out[i][dst] > 0) via_out += b * share[dst];
    }
    INFO("member " << dst);
    CHECK(up_in + via_out == Approx(15 * b * share[dst]).epsilon(1e-12));
  }
  // A token that reaches a node brings at least one of its rows there, so the scale-out bytes
  // into a node never exceed the rows bound for it: B q_j <= b P_j.
  for (size_t i = 0; i < 16; ++i)
    for (size_t j = 0; j < 16; ++j)
      if (t.scale_out[i][j] > 0) {
        double P = 0;
        for (size_t m = 0; m < 16; ++m)
          if (node[m] == node[j]) P += share[m];
        CHECK(t.scale_out[i][j] <= b * P + 1e-6);
      }
  const auto c = node_forward_traffic(a2a(2 * b, share, r, true), node);
  const auto d = node_forward_traffic(a2a(2 * b, share, r), node);
  for (size_t i = 0; i < 16; ++i)
    for (size_t j = 0; j < 16; ++j) {
      CHECK(c.scale_out[i][j] == d.scale_out[j][i]);
      CHECK(c.scale_up[i][j] == d.scale_up[j][i]);
    }
}

TEST_CASE("skewed_routing_reaches_fewer_nodes_than_balanced", "[moe][network]") {
  // DeepSeek-V3 routing on 32 GPUs of 4 nodes (8 per node), 288 slots. With the expert loads
  // of the zipf draw placed by EPLB, the nodes' shares differ and a token reaches fewer
  // distinct nodes on average (Σ_j q_j is largest when the nodes' shares are equal), so the
  // scale-out bytes do not exceed the balanced case; the scale-up bytes are the same rows.
  MoeSpec moe;
  moe.experts = 256, moe.top_k = 8, moe.groups = 8, moe.topk_groups = 4;
  MoeRouting bal, zipf;
  zipf.kind = MoeRouting::Kind::zipf;
  zipf.alpha = 1.2;
  const double tokens = 4096 * 32;
  std::vector<int> node(32);
  for (int i = 0; i < 32; ++i) node[i] = i / 8;
  auto shares = [&](const MoeRouting& r) {
    const auto pl = place_experts(expert_loads(r, moe, tokens, 3), 32, 0, 0, 0);
    std::vector<double> s;
    for (double l : pl.rank_load) s.push_back(l / (tokens * 8));
    return s;
  };
  const double b = 4096 * 8 * 14336.0;
  const auto r = routing(256, 8, 8, 4);
  const auto tb = node_forward_traffic(a2a(b, shares(bal), r), node);
  const auto tz = node_forward_traffic(a2a(b, shares(zipf), r), node);
  // Balanced: each sender reaches 3 x 55/70 remote nodes per token.
  CHECK(total(tb.scale_out) == Approx(32 * 4096 * 14336.0 * 3 * 55 / 70).epsilon(1e-9));
  CHECK(total(tz.scale_out) <= total(tb.scale_out) * (1 + 1e-12));
  // The flat all-to-all-v would carry 3/4 of every sender's 8 rows per token across nodes.
  CHECK(total(tb.scale_out) < 0.4 * 32 * b * 0.75);
}

TEST_CASE("unequal_members_per_node_is_a_clear_error", "[moe][network]") {
  CHECK_THROWS_AS(node_forward_traffic(a2a(1e6, {0.25, 0.25, 0.25, 0.25}, routing(4, 2)), {0, 0, 0, 1}), ConfigError);
}

namespace {

/// A 2-node x 2-GPU system: NVLink-like switch per node, a scale-out switch across.
std::vector<Plane> two_plane_system(const std::string& extra = "") {
  const YAML::Node doc = load_yaml_text(R"(
up: {topology: switch, scope: node, link_bandwidth: 200 GB/s, link_latency: 0.5 us, efficiency: 0.9, traffic: [expert]}
out: {topology: switch, link_bandwidth: 50 GB/s, link_latency: 1 us, efficiency: 0.9, traffic: [expert]}
)" + extra, "test");
  const SystemShape shape{4, 2, 0};
  std::vector<Plane> out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    out.push_back(build_plane(Section(it->second, "planes." + name, plane_params()), name, shape));
  }
  return out;
}

/// A hub on `planes` (kept alive by the caller), in aggregate or expanded into max-min flows.
std::unique_ptr<CommHub> make_hub(const std::string& name, const std::vector<Plane>& planes, bool flows_only) {
  static const ParallelSpec par;
  auto hub = std::make_unique<CommHub>(name.c_str(), par, planes, std::vector<int>{});
  hub->set_flows_only(flows_only);
  return hub;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

}  // namespace

TEST_CASE("hub_runs_both_hops_at_once_and_the_aggregate_matches_max_min_flows", "[moe][network][comm_hub]") {
  static std::vector<Plane> keep;
  keep = two_plane_system();
  ParallelSpec par;
  CommHub agg("agg", par, keep, {});
  const std::vector<int> group = {0, 1, 2, 3};
  REQUIRE(choose_plane(keep, CommGroup::Expert, group) == PlaneId{1});
  const double Ts = 9e6, b = 2 * Ts;
  double end_agg = -1;
  agg.transfer(a2a(b, {0.25, 0.25, 0.25, 0.25}, routing(4, 2)), group, PlaneId{1},
               [&] { end_agg = sc_core::sc_time_stamp().to_seconds(); });
  sc_core::sc_start();
  // By hand: scale-out T s x 5/6 per port at 45 GB/s after 2 x 1 us; scale-up b / 2 per port at
  // 180 GB/s after 2 x 0.5 us. The scale-out hop is the longer one.
  const double out = Ts * 5 / 6 / 45e9 + 2e-6, up = b / 2 / 180e9 + 1e-6;
  REQUIRE(out > up);
  CHECK(end_agg == Approx(out).epsilon(1e-6));  // SystemC time resolution
  CHECK(agg.aggregated() == 2);
  // Bytes charged per plane: each byte on two links (up and down through the switch).
  const auto bytes = agg.link_bytes();
  CHECK(sum(bytes[1]) == Approx(2 * 4 * Ts * 5 / 6).epsilon(1e-9));
  CHECK(sum(bytes[0]) == Approx(2 * 4 * b / 2).epsilon(1e-9));
}

TEST_CASE("hub_node_forwarded_flows_end_when_the_aggregate_does", "[moe][network][comm_hub]") {
  static std::vector<Plane> keep;
  keep = two_plane_system();
  ParallelSpec par;
  CommHub hub("flows", par, keep, {});
  hub.set_flows_only(true);
  const double Ts = 9e6, b = 2 * Ts;
  double end = -1;
  hub.transfer(a2a(b, {0.25, 0.25, 0.25, 0.25}, routing(4, 2), true), {0, 1, 2, 3}, PlaneId{1},
               [&] { end = sc_core::sc_time_stamp().to_seconds(); });
  sc_core::sc_start();
  CHECK(hub.aggregated() == 0);
  // One scale-out flow per member; one scale-up flow per ordered pair inside a node (its direct
  // rows and the rows it forwards go to the same peer).
  CHECK(hub.flows() == 4 + 4);
  CHECK(end == Approx(Ts * 5 / 6 / 45e9 + 2e-6).epsilon(1e-6));
}

TEST_CASE("skewed_node_forwarded_transfers_end_in_aggregate_when_max_min_flows_do", "[moe][network][comm_hub]") {
  // Four hubs on copies of the same system: dispatch and combine, each in aggregate and
  // expanded into max-min flows; skewed shares (node 0 receives 70% of the rows).
  static std::vector<Plane> planes[4];
  std::vector<std::unique_ptr<CommHub>> hubs;
  for (int h = 0; h < 4; ++h) {
    planes[h] = two_plane_system();
    hubs.push_back(make_hub("hub" + std::to_string(h), planes[h], h % 2 == 1));
  }
  const std::vector<double> share = {0.45, 0.25, 0.2, 0.1};
  double end[4] = {-1, -1, -1, -1};
  for (int h = 0; h < 4; ++h)
    hubs[h]->transfer(a2a(24e6, share, routing(4, 2), h >= 2), {0, 1, 2, 3}, PlaneId{1},
                      [&end, h] { end[h] = sc_core::sc_time_stamp().to_seconds(); });
  sc_core::sc_start();
  for (int h = 0; h < 4; ++h) CHECK(hubs[h]->aggregated() == (h % 2 == 0 ? 2 : 0));
  for (int h : {0, 2}) {
    INFO((h == 0 ? "dispatch" : "combine"));
    REQUIRE(end[h] > 0);
    CHECK(end[h] == Approx(end[h + 1]).epsilon(1e-6));
  }
}

TEST_CASE("overlapping_aggregated_all_to_alls_queue_on_the_ports_and_end_with_max_min_flows", "[moe][network][comm_hub]") {
  // Two balanced all-to-all-v of 4 members started together on one switch (45 GB/s per port,
  // 2 x 1 us): in aggregate the second queues behind the first on every port (first come, first
  // served); as max-min flows the two share the ports and both end when the second does. The
  // work is the same, so the second aggregate ends with the flows. (The node plane carries no
  // expert traffic here, so the library's all-to-all does not send its intra-node pairs there.)
  static std::vector<Plane> planes[2];
  std::vector<std::unique_ptr<CommHub>> hubs;
  for (int h = 0; h < 2; ++h) {
    planes[h] = two_plane_system();
    planes[h][0].traffic = {"tensor"};
    hubs.push_back(make_hub("q" + std::to_string(h), planes[h], h == 1));
  }
  CommOp flat = a2a(12e6, {0.25, 0.25, 0.25, 0.25}, routing(4, 2));
  flat.node_forward = nullptr;
  double end[2][2] = {{-1, -1}, {-1, -1}};
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 2; ++k)
      hubs[static_cast<size_t>(h)]->transfer(flat, {0, 1, 2, 3}, PlaneId{1},
                                             [&end, h, k] { end[h][k] = sc_core::sc_time_stamp().to_seconds(); });
  sc_core::sc_start();
  // Each member sends 3/4 of 12 MB and receives as much.
  const double one = 12e6 * 0.75 / 45e9;
  CHECK(hubs[0]->aggregated() == 2);
  CHECK(end[0][0] == Approx(one + 2e-6).epsilon(1e-6));
  CHECK(end[0][1] == Approx(2 * one + 2e-6).epsilon(1e-6));
  CHECK(end[1][0] == Approx(2 * one + 2e-6).epsilon(1e-3));
  CHECK(end[1][1] == Approx(2 * one + 2e-6).epsilon(1e-3));
  // Both ways count every byte once per port link.
  CHECK(sum(hubs[0]->link_bytes()[1]) == Approx(2 * 2 * 4 * 12e6 * 0.75).epsilon(1e-9));
}

TEST_CASE("a_library_all_to_all_pays_the_protocol_in_aggregate_as_in_flows", "[moe][network][comm_hub]") {
  // moe.a2a: collective on a plane that offers only NCCL's LL protocol (payload 1/2 of the
  // wire, 5 us per call): in aggregate and as max-min flows the same end, every byte on the wire
  // twice, and at least the base latency and the payload's time again over the plain transfer.
  static std::vector<Plane> planes[3];
  std::vector<std::unique_ptr<CommHub>> hubs;
  const std::string ll = "ll_efficiency: 0.5, ll_base_latency: 5 us, ll_step_latency: 0 us, ll_slice: 0 B, ";
  for (int h = 0; h < 3; ++h) {
    const YAML::Node doc = load_yaml_text(std::string("out: {topology: switch, link_bandwidth: 50 GB/s, link_latency: 1 us, ") +
                                              (h < 2 ? ll : "") + "efficiency: 0.9, traffic: [expert]}",
                                          "test");
    planes[h] = {build_plane(Section(doc["out"], "planes.out", plane_params()), "out", SystemShape{4, 4, 0})};
    hubs.push_back(make_hub("lib" + std::to_string(h), planes[h], h == 1));
  }
  CommOp op = a2a(12e6, {0.25, 0.25, 0.25, 0.25}, routing(4, 2));
  op.node_forward = nullptr;
  double end[3] = {-1, -1, -1};
  for (int h = 0; h < 3; ++h)
    hubs[static_cast<size_t>(h)]->transfer(op, {0, 1, 2, 3}, PlaneId{0},
                                           [&end, h] { end[h] = sc_core::sc_time_stamp().to_seconds(); });
  sc_core::sc_start();
  const double payload = 12e6 * 0.75 / 45e9;
  CHECK(hubs[0]->aggregated() == 1);
  CHECK(end[2] == Approx(payload + 2e-6).epsilon(1e-6));  // no protocol: the plain port model
  CHECK(end[0] == Approx(end[1]).epsilon(1e-3));
  CHECK(end[0] >= end[2] + 5e-6 + payload - 1e-9);
  CHECK(sum(hubs[0]->link_bytes()[0]) == Approx(2 * sum(hubs[2]->link_bytes()[0])).epsilon(1e-9));
  CHECK(sum(hubs[1]->link_bytes()[0]) == Approx(2 * sum(hubs[2]->link_bytes()[0])).epsilon(1e-6));
}

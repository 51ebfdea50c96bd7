#include "workloads/collective.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "sim/units/quantity.h"

namespace orrery {

const ParamTable& collective_params() {
  static const ParamTable t{
      "collective",
      "One collective on its own (phase: collective).",
      {
          {"op", ParamType::Enum, Dim::Dimensionless, "", "the collective", {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "all_to_all_v", "send_recv", "read", "write"}},
          {"bytes", ParamType::Quantity, Dim::Bytes, "", "size as nccl-tests counts it: the buffer each rank holds (all_gather: its output); not for all_to_all_v", {}, true},
          {"group", ParamType::Any, Dim::Dimensionless, "all", "all (every device) or a list of device indices in ring order"},
          {"algorithm", ParamType::Enum, Dim::Dimensionless, "auto", "how the collective becomes flows (auto: hierarchical for all_reduce when 1 < local_size < ranks divides the ranks, else the first valid)", {"auto", "ring", "tree", "hierarchical", "direct", "chain"}},
          {"plane", ParamType::String, Dim::Dimensionless, "", "network plane to run on (default: the first that carries collective traffic)", {}, true},
          {"local_size", ParamType::Integer, Dim::Dimensionless, "0", "ranks per node, consecutive in the group (hierarchical); 0: the whole group is one node", {}, false, 0, true},
          {"expansion", ParamType::Enum, Dim::Dimensionless, "staged", "staged: few stages of concurrent flows, each paying its rounds' latencies; rounds: round by round", {"staged", "rounds"}},
          {"sizes", ParamType::Any, Dim::Dimensionless, "", "all_to_all_v: matrix of bytes from the i-th to the j-th rank of the group, e.g. [[0, 1 MB], [2 MB, 0]]", {}, true},
          {"src", ParamType::String, Dim::Dimensionless, "", "read/write: the endpoint that issues the transfer: a device index or a name (n0.d3, n1.cpu0)", {}, true},
          {"dst", ParamType::String, Dim::Dimensionless, "", "read/write: the endpoint whose memory is read or written", {}, true},
      }};
  return t;
}

namespace {

/// read / write: `src` and `dst` endpoints (checked against the system when the run starts).
void read_point_to_point(const Section& s, CollectiveSpec& c) {
  if (s.has("group")) s.fail("group", fmt::format("{} is point to point: give src and dst, not group", comm_kind_name(c.op)));
  for (const char* key : {"src", "dst"})
    if (!s.has(key)) s.fail(key, fmt::format("{} needs src (who issues it) and dst (whose memory)", comm_kind_name(c.op)));
  c.src = s.string("src");
  c.dst = s.string("dst");
  if (c.src == c.dst) s.fail("dst", "src and dst are the same endpoint");
  (void)resolve_algorithm(c);
}

std::vector<std::vector<double>> read_sizes(const Section& s, size_t n) {
  const YAML::Node m = s.node("sizes");
  if (!m.IsSequence() || m.size() != n)
    s.fail("sizes", fmt::format("expected a {0} x {0} matrix (one row per rank of the group)", n));
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < n; ++i) {
    const YAML::Node row = m[i];
    const std::string at = fmt::format("{}[{}]", s.path_of("sizes"), i);
    if (!row.IsSequence() || row.size() != n)
      throw ConfigError(config_error_text(row, at, fmt::format("expected a row of {} sizes", n)));
    std::vector<double> r;
    for (size_t j = 0; j < n; ++j) {
      const std::string text = scalar_text(row[j], fmt::format("{}[{}]", at, j), "a size");
      double v = 0;
      try {
        const Quantity q = parse_quantity(text);
        if (!(q.dim == Dim::Bytes || (q.dim == Dim::Dimensionless && q.value == 0)))
          throw std::invalid_argument(fmt::format("'{}' is not a size; expected bytes in {}", text, dim_examples(Dim::Bytes)));
        v = q.value;
      } catch (const std::invalid_argument& e) {
        throw ConfigError(config_error_text(row[j], fmt::format("{}[{}]", at, j), e.what()));
      }
      if (v < 0) throw ConfigError(config_error_text(row[j], fmt::format("{}[{}]", at, j), "a size cannot be negative"));
      r.push_back(v);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

CollectiveSpec read_collective(const YAML::Node& node, const std::string& path, int devices) {
  const Section s(node, path, collective_params());
  CollectiveSpec c;
  c.op = *parse_comm_kind(s.string("op"));  // the schema admits only known names
  c.algorithm = s.string("algorithm");
  c.expansion = s.string("expansion");
  c.local_size = static_cast<int>(s.integer("local_size"));
  if (s.has("plane")) c.plane = s.string("plane");
  if (is_point_to_point(c.op)) {
    if (!s.has("bytes")) s.fail("bytes", "missing value");
    c.bytes = s.quantity("bytes");
    read_point_to_point(s, c);
    return c;
  }
  for (const char* key : {"src", "dst"})
    if (s.has(key)) s.fail(key, fmt::format("only read and write take src and dst; {} uses group", comm_kind_name(c.op)));
  const YAML::Node g = s.node("group");
  if (!g || (g.IsScalar() && g.as<std::string>() == "all")) {
    for (int i = 0; i < devices; ++i) c.group.push_back(i);
  } else if (g.IsSequence()) {
    for (const auto& v : g) {
      int d = -1;
      try {
        d = v.as<int>();
      } catch (const YAML::Exception&) {
        s.fail("group", "device indices must be integers");
      }
      if (d < 0 || d >= devices)
        s.fail("group", fmt::format("device {} does not exist; the system has devices 0..{}", d, devices - 1));
      if (std::count(c.group.begin(), c.group.end(), d)) s.fail("group", fmt::format("device {} listed twice", d));
      c.group.push_back(d);
    }
  } else {
    s.fail("group", "expected 'all' or a list of device indices");
  }
  if (c.group.size() < 2) s.fail("group", "a collective needs at least two devices");
  if (c.op == CommKind::AllToAllV) {
    if (s.has("bytes")) s.fail("bytes", "all_to_all_v takes its sizes from `sizes`; remove bytes");
    if (!s.has("sizes")) s.fail("sizes", "all_to_all_v needs a matrix of sizes, one row per rank");
    c.sizes = read_sizes(s, c.group.size());
    double total = 0;
    for (const auto& r : c.sizes)
      for (double v : r) total += v;
    c.bytes = total / static_cast<double>(c.group.size());
    if (!(c.bytes > 0)) s.fail("sizes", "every size is 0");
  } else {
    if (s.has("sizes")) s.fail("sizes", "sizes is only for op all_to_all_v");
    if (!s.has("bytes")) s.fail("bytes", "missing value");
    c.bytes = s.quantity("bytes");
  }
  try {
    (void)resolve_algorithm(c);
  } catch (const ConfigError& e) {
    s.fail("algorithm", e.what());
  }
  // Work limit, checked before anything is built: all-to-all and round-by-round expansion issue
  // O(n^2) flows over a group of n ranks, the staged expansion of the others O(n).
  const double n = static_cast<double>(c.group.size());
  const bool quadratic = c.op == CommKind::AllToAll || c.op == CommKind::AllToAllV || c.expansion == "rounds";
  const double flows = quadratic ? 5 * n * n : 4 * n;
  constexpr double kMaxFlows = 4e6;
  if (flows > kMaxFlows)
    s.fail("group", fmt::format("{} over {} ranks{} issues about {:.3g} flows, more than the {:.3g} a run may "
                                "simulate; use a smaller group{}", comm_kind_name(c.op), c.group.size(),
                                c.expansion == "rounds" ? " expanded round by round" : "", flows, kMaxFlows,
                                c.expansion == "rounds" ? " or expansion: staged" : ""));
  return c;
}

int node_size(const CollectiveSpec& c) {
  return c.local_size > 0 ? c.local_size : static_cast<int>(c.group.size());
}

std::string resolve_algorithm(const CollectiveSpec& c) {
  const int n = static_cast<int>(c.group.size());
  const auto valid = [&]() -> std::vector<std::string> {
    if (c.op == CommKind::AllReduce) return {"ring", "tree", "hierarchical"};
    if (c.op == CommKind::AllGather || c.op == CommKind::ReduceScatter) return {"ring"};
    if (c.op == CommKind::Broadcast) return {"chain"};
    if (c.op == CommKind::AllToAll || c.op == CommKind::AllToAllV || is_point_to_point(c.op)) return {"direct"};
    return {"ring"};  // send_recv: ring shift
  }();
  const int m = node_size(c);
  if (c.algorithm == "auto") {
    if (c.op == CommKind::AllReduce && m > 1 && m < n && n % m == 0) return "hierarchical";
    return valid.front();
  }
  if (std::find(valid.begin(), valid.end(), c.algorithm) == valid.end()) {
    std::string v;
    for (const auto& a : valid) v += (v.empty() ? "" : ", ") + a;
    throw ConfigError(fmt::format("collective: algorithm '{}' does not implement {}; valid: auto, {}",
                                  c.algorithm, comm_kind_name(c.op), v));
  }
  if (c.algorithm == "hierarchical" && n % m != 0)
    throw ConfigError(fmt::format("collective: hierarchical needs local_size ({}) to divide the group of {} ranks", m, n));
  return c.algorithm;
}

namespace {

Round ring_round(const std::vector<int>& g, double bytes) {
  Round r;
  const size_t n = g.size();
  for (size_t i = 0; i < n; ++i) r.push_back({g[i], g[(i + 1) % n], bytes});
  return r;
}

/// Binary tree over group positions: parent of i is (i - 1) / 2. Pipelined in `chunks`: in
/// round k the edges at level (k - chunk) carry chunk `chunk`; simplified to every edge of the
/// phase busy for chunks + depth - 1 rounds of S/chunks.
constexpr int kTreeChunks = 8;
int tree_depth(size_t n) { return static_cast<int>(std::ceil(std::log2(static_cast<double>(n)))); }
Round tree_phase(const std::vector<int>& g, double bytes, bool up) {
  Round r;
  for (size_t i = 1; i < g.size(); ++i) {
    const int child = g[i], parent = g[(i - 1) / 2];
    r.push_back(up ? FlowSpec{child, parent, bytes} : FlowSpec{parent, child, bytes});
  }
  return r;
}

/// Chain broadcast from g[0]: S in `chunks` pieces; in round k, hop j forwards chunk k - j.
int chain_chunks(size_t n) { return std::max(32, 4 * static_cast<int>(n)); }

/// Hierarchical all-reduce, m ranks per node (consecutive in g), N = n/m nodes.
///   intra reduce-scatter: per node, a ring of m ranks; m-1 rounds of S/m
///   inter all-reduce:     per local index j, a ring of the N ranks g[k*m + j]; 2(N-1) rounds
///                         of S/(m·N) (each rank's shard is S/m)
///   intra all-gather:     as the reduce-scatter
/// Time with uniform links: 2(m-1)(λ_intra + S/(m·B_intra)) + 2(N-1)(λ_inter + S/(m·N·B_inter)).
struct Hier {
  std::vector<std::vector<int>> nodes, peers;  // rings inside nodes, rings across nodes
  int m = 0, big_n = 0;
};
Hier hierarchy(const CollectiveSpec& c) {
  Hier h;
  h.m = node_size(c);
  h.big_n = static_cast<int>(c.group.size()) / h.m;
  h.nodes.assign(static_cast<size_t>(h.big_n), {});
  h.peers.assign(static_cast<size_t>(h.m), {});
  for (size_t i = 0; i < c.group.size(); ++i) {
    h.nodes[i / static_cast<size_t>(h.m)].push_back(c.group[i]);
    h.peers[i % static_cast<size_t>(h.m)].push_back(c.group[i]);
  }
  return h;
}
Round rings_round(const std::vector<std::vector<int>>& rings, double bytes) {
  Round r;
  for (const auto& ring : rings)
    if (ring.size() > 1)
      for (const auto& f : ring_round(ring, bytes)) r.push_back(f);
  return r;
}

Round direct_round(const CollectiveSpec& c) {
  Round r;
  const auto& g = c.group;
  const double n = static_cast<double>(g.size());
  for (size_t i = 0; i < g.size(); ++i)
    for (size_t j = 0; j < g.size(); ++j) {
      if (i == j) continue;
      const double b = c.op == CommKind::AllToAllV ? c.sizes[i][j] : c.bytes / n;
      if (b > 0) r.push_back({g[i], g[j], b});
    }
  return r;
}

}  // namespace

std::vector<Round> expand_collective(const CollectiveSpec& c) {
  const std::string algo = resolve_algorithm(c);
  const auto& g = c.group;
  const double n = static_cast<double>(g.size());
  std::vector<Round> rounds;
  if (c.op == CommKind::AllReduce && algo == "tree") {
    const int k = kTreeChunks + tree_depth(g.size()) - 1;
    for (int phase = 0; phase < 2; ++phase)
      for (int i = 0; i < k; ++i) rounds.push_back(tree_phase(g, c.bytes / kTreeChunks, phase == 0));
  } else if (c.op == CommKind::AllReduce && algo == "hierarchical") {
    const Hier h = hierarchy(c);
    const double shard = c.bytes / h.m;
    for (int k = 0; k + 1 < h.m; ++k) rounds.push_back(rings_round(h.nodes, shard));
    for (int k = 0; k + 1 < 2 * h.big_n - 1; ++k) rounds.push_back(rings_round(h.peers, shard / h.big_n));
    for (int k = 0; k + 1 < h.m; ++k) rounds.push_back(rings_round(h.nodes, shard));
  } else if (c.op == CommKind::AllReduce) {
    for (size_t k = 0; k + 1 < 2 * g.size() - 1; ++k) rounds.push_back(ring_round(g, c.bytes / n));
  } else if (c.op == CommKind::AllGather || c.op == CommKind::ReduceScatter) {
    for (size_t k = 0; k + 1 < g.size(); ++k) rounds.push_back(ring_round(g, c.bytes / n));
  } else if (c.op == CommKind::Broadcast) {
    const int chunks = chain_chunks(g.size());
    for (int k = 0; k < chunks + static_cast<int>(g.size()) - 2; ++k) {
      Round r;
      for (size_t j = 0; j + 1 < g.size(); ++j) {
        const int chunk = k - static_cast<int>(j);
        if (chunk >= 0 && chunk < chunks) r.push_back({g[j], g[j + 1], c.bytes / chunks});
      }
      rounds.push_back(std::move(r));
    }
  } else if (c.op == CommKind::AllToAll || c.op == CommKind::AllToAllV) {
    rounds.push_back(direct_round(c));
  } else {
    rounds.push_back(ring_round(g, c.bytes));
  }
  return rounds;
}

std::vector<Stage> expand_stages(const CollectiveSpec& c) {
  const std::string algo = resolve_algorithm(c);
  const auto& g = c.group;
  const size_t n = g.size();
  const double nd = static_cast<double>(n);
  std::vector<Stage> stages;
  const auto add = [&](Round flows, int rounds) {
    if (!flows.empty() && rounds > 0) stages.push_back({std::move(flows), rounds});
  };
  if (c.op == CommKind::AllReduce && algo == "tree") {
    const int k = kTreeChunks + tree_depth(n) - 1;
    for (int phase = 0; phase < 2; ++phase) add(tree_phase(g, k * c.bytes / kTreeChunks, phase == 0), k);
  } else if (c.op == CommKind::AllReduce && algo == "hierarchical") {
    const Hier h = hierarchy(c);
    const double shard = c.bytes / h.m;
    add(rings_round(h.nodes, (h.m - 1) * shard), h.m - 1);
    add(rings_round(h.peers, 2.0 * (h.big_n - 1) * shard / h.big_n), 2 * (h.big_n - 1));
    add(rings_round(h.nodes, (h.m - 1) * shard), h.m - 1);
  } else if (c.op == CommKind::AllReduce) {
    add(ring_round(g, 2 * (nd - 1) / nd * c.bytes), 2 * (static_cast<int>(n) - 1));
  } else if (c.op == CommKind::AllGather || c.op == CommKind::ReduceScatter) {
    add(ring_round(g, (nd - 1) / nd * c.bytes), static_cast<int>(n) - 1);
  } else if (c.op == CommKind::Broadcast) {
    // Every hop busy in every round of the pipeline (its fill and drain included).
    const int chunks = chain_chunks(n);
    const int k = chunks + static_cast<int>(n) - 2;
    Round r;
    for (size_t j = 0; j + 1 < n; ++j) r.push_back({g[j], g[j + 1], k * c.bytes / chunks});
    add(std::move(r), k);
  } else {
    for (auto& r : expand_collective(c)) add(std::move(r), 1);
  }
  return stages;
}

double bus_factor(CommKind op, int ranks) {
  const double n = ranks;
  if (op == CommKind::AllReduce) return 2 * (n - 1) / n;
  if (op == CommKind::AllGather || op == CommKind::ReduceScatter || op == CommKind::AllToAll || op == CommKind::AllToAllV) return (n - 1) / n;
  return 1;
}

}  // namespace orrery

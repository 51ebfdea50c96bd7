#include "workloads/collective.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/config/errors.h"

namespace orrery {

const ParamTable& collective_params() {
  static const ParamTable t{
      "collective",
      "One collective on its own (phase: collective).",
      {
          {"op", ParamType::Enum, Dim::Dimensionless, "", "the collective", {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv", "read", "write"}},
          {"bytes", ParamType::Quantity, Dim::Bytes, "", "size as nccl-tests counts it: the buffer each rank holds (all_gather: its output)"},
          {"group", ParamType::Any, Dim::Dimensionless, "all", "all (every device) or a list of device indices in ring order"},
          {"algorithm", ParamType::Enum, Dim::Dimensionless, "auto", "how the collective becomes flows", {"auto", "ring", "tree", "direct", "chain"}},
          {"plane", ParamType::String, Dim::Dimensionless, "", "network plane to run on (default: the first that carries collective traffic)", {}, true},
          {"src", ParamType::String, Dim::Dimensionless, "", "read/write: the endpoint that issues the transfer: a device index or a name (n0.d3, n1.cpu0)", {}, true},
          {"dst", ParamType::String, Dim::Dimensionless, "", "read/write: the endpoint whose memory is read or written", {}, true},
      }};
  return t;
}

bool is_point_to_point(const std::string& op) { return op == "read" || op == "write"; }

namespace {

/// read / write: `src` and `dst` endpoints (checked against the system when the run starts).
void read_point_to_point(const Section& s, CollectiveSpec& c) {
  if (s.has("group")) s.fail("group", fmt::format("{} is point to point: give src and dst, not group", c.op));
  for (const char* key : {"src", "dst"})
    if (!s.has(key)) s.fail(key, fmt::format("{} needs src (who issues it) and dst (whose memory)", c.op));
  c.src = s.string("src");
  c.dst = s.string("dst");
  if (c.src == c.dst) s.fail("dst", "src and dst are the same endpoint");
  (void)resolve_algorithm(c);
}

}  // namespace

CollectiveSpec read_collective(const YAML::Node& node, const std::string& path, int devices) {
  const Section s(node, path, collective_params());
  CollectiveSpec c;
  c.op = s.string("op");
  c.bytes = s.quantity("bytes");
  c.algorithm = s.string("algorithm");
  if (s.has("plane")) c.plane = s.string("plane");
  if (is_point_to_point(c.op)) {
    read_point_to_point(s, c);
    return c;
  }
  for (const char* key : {"src", "dst"})
    if (s.has(key)) s.fail(key, fmt::format("only read and write take src and dst; {} uses group", c.op));
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
  (void)resolve_algorithm(c);
  return c;
}

std::string resolve_algorithm(const CollectiveSpec& c) {
  const auto valid = [&]() -> std::vector<std::string> {
    if (c.op == "all_reduce") return {"ring", "tree"};
    if (c.op == "all_gather" || c.op == "reduce_scatter") return {"ring"};
    if (c.op == "broadcast") return {"chain"};
    if (c.op == "all_to_all" || is_point_to_point(c.op)) return {"direct"};
    return {"ring"};  // send_recv: ring shift
  }();
  if (c.algorithm == "auto") return valid.front();
  if (std::find(valid.begin(), valid.end(), c.algorithm) == valid.end()) {
    std::string v;
    for (const auto& a : valid) v += (v.empty() ? "" : ", ") + a;
    throw ConfigError(fmt::format("collective: algorithm '{}' does not implement {}; valid: auto, {}",
                                  c.algorithm, c.op, v));
  }
  return c.algorithm;
}

namespace {

Round ring_round(const std::vector<int>& g, double bytes) {
  Round r;
  const size_t n = g.size();
  for (size_t i = 0; i < n; ++i) r.push_back({g[i], g[(i + 1) % n], bytes});
  return r;
}

/// Binary tree over group positions: parent of i is (i - 1) / 2.
std::vector<Round> tree_all_reduce(const std::vector<int>& g, double bytes) {
  const size_t n = g.size();
  const int depth = static_cast<int>(std::ceil(std::log2(static_cast<double>(n))));
  const int chunks = 8;
  std::vector<Round> rounds;
  // Pipelined: in round k, the edges at level (k - chunk) carry chunk `chunk`; simplified to
  // all edges of the phase busy for chunks + depth - 1 rounds of S/chunks.
  for (int phase = 0; phase < 2; ++phase) {
    for (int k = 0; k < chunks + depth - 1; ++k) {
      Round r;
      for (size_t i = 1; i < n; ++i) {
        const int child = g[i], parent = g[(i - 1) / 2];
        r.push_back(phase == 0 ? FlowSpec{child, parent, bytes / chunks}
                               : FlowSpec{parent, child, bytes / chunks});
      }
      rounds.push_back(std::move(r));
    }
  }
  return rounds;
}

}  // namespace

std::vector<Round> expand_collective(const CollectiveSpec& c) {
  const std::string algo = resolve_algorithm(c);
  const auto& g = c.group;
  const double n = static_cast<double>(g.size());
  std::vector<Round> rounds;
  if (c.op == "all_reduce" && algo == "tree") return tree_all_reduce(g, c.bytes);
  if (c.op == "all_reduce") {
    for (size_t k = 0; k + 1 < 2 * g.size() - 1; ++k) rounds.push_back(ring_round(g, c.bytes / n));
  } else if (c.op == "all_gather" || c.op == "reduce_scatter") {
    for (size_t k = 0; k + 1 < g.size(); ++k) rounds.push_back(ring_round(g, c.bytes / n));
  } else if (c.op == "broadcast") {
    // Chain from g[0]: S in `chunks` pieces; in round k, hop j forwards chunk k - j.
    const int chunks = std::max(32, 4 * static_cast<int>(g.size()));
    for (int k = 0; k < chunks + static_cast<int>(g.size()) - 2; ++k) {
      Round r;
      for (size_t j = 0; j + 1 < g.size(); ++j) {
        const int chunk = k - static_cast<int>(j);
        if (chunk >= 0 && chunk < chunks) r.push_back({g[j], g[j + 1], c.bytes / chunks});
      }
      rounds.push_back(std::move(r));
    }
  } else if (c.op == "all_to_all") {
    Round r;
    for (int s : g)
      for (int d : g)
        if (s != d) r.push_back({s, d, c.bytes / n});
    rounds.push_back(std::move(r));
  } else {
    rounds.push_back(ring_round(g, c.bytes));
  }
  return rounds;
}

double bus_factor(const std::string& op, int ranks) {
  const double n = ranks;
  if (op == "all_reduce") return 2 * (n - 1) / n;
  if (op == "all_gather" || op == "reduce_scatter" || op == "all_to_all") return (n - 1) / n;
  return 1;
}

}  // namespace orrery

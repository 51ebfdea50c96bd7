#include "topologies/topology.h"

#include <fmt/format.h>

#include <algorithm>

#include "topologies/topology_registry.h"

namespace orrery {

namespace {

std::vector<ParamDecl> common_head_params() {
  return {
      {"scope", ParamType::Enum, Dim::Dimensionless, "system", "system: one topology over every endpoint; node: the topology replicated inside each node (endpoints of different nodes are not connected by this plane)", {"system", "node"}},
      {"cpus", ParamType::Bool, Dim::Dimensionless, "false", "attach the nodes' CPUs (system.cpus_per_node) to this plane as endpoints"},
      {"link_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "bandwidth of one link, per direction"},
      {"cpu_link_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "bandwidth of one link of a CPU endpoint, per direction (default: link_bandwidth)", {}, true},
      {"link_latency", ParamType::Quantity, Dim::Time, "1 us", "latency of one hop", {}, false, 0, true},
      {"efficiency", ParamType::Real, Dim::Dimensionless, "1", "achievable fraction of link bandwidth after protocol overheads"},
      {"traffic", ParamType::Any, Dim::Dimensionless, "", "traffic classes this plane carries (collective, tensor, expert, data, pipeline, kv, storage, management)", {}, true},
  };
}

std::vector<ParamDecl> common_tail_params() {
  std::vector<ParamDecl> t = {
      {"read_efficiency", ParamType::Real, Dim::Dimensionless, "", "point-to-point read: achievable fraction of link bandwidth (default: efficiency)", {}, true},
      {"write_efficiency", ParamType::Real, Dim::Dimensionless, "", "point-to-point write: achievable fraction of link bandwidth (default: efficiency)", {}, true},
      {"access_latency", ParamType::Quantity, Dim::Time, "0 us", "point-to-point: time a device takes to serve a remote read or write", {}, false, 0, true},
      {"cpu_access_latency", ParamType::Quantity, Dim::Time, "", "point-to-point: the same for a CPU (default: access_latency)", {}, true, 0, true},
      {"write_latency", ParamType::Quantity, Dim::Time, "0 us", "point-to-point: extra time before a write is acknowledged (commit at the target)", {}, false, 0, true},
      {"fused_dispatch_startup", ParamType::Quantity, Dim::Time, "", "fused MoE dispatch (vector cores write tokens into peers' memory, moe.a2a: fused): fixed cost per call (launch, token-count exchange, layout, barrier); with fused_combine_startup and fused_per_peer, the plane supports fused all-to-all-v", {}, true, 0, true},
      {"fused_combine_startup", ParamType::Quantity, Dim::Time, "", "fused MoE combine: fixed cost per call (launch, barrier)", {}, true, 0, true},
      {"fused_per_peer", ParamType::Quantity, Dim::Time, "", "fused dispatch/combine: cost per destination rank (descriptors, completion flag)", {}, true, 0, true},
      {"channels", ParamType::Integer, Dim::Dimensionless, "0", "collectives: channels (parallel rings, one thread block each) a collective runs on; 0: no per-channel limit", {}, false, 0, true},
      {"channel_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "collectives: what one channel moves per direction; an endpoint sends at most channels x channel_bandwidth (needs channels)", {}, true},
      {"channel_speeds", ParamType::Any, Dim::Dimensionless, "", "collectives: derive the channels per collective from the links its rings cross, by NCCL's ring search over these ring speeds (a list of bandwidths, fastest first; instead of channels and channel_bandwidth)", {}, true},
      {"channel_link_efficiency", ParamType::Real, Dim::Dimensionless, "1", "collectives, with channel_speeds: fraction of a link's bandwidth the ring search credits (NCCL: 20.6 of 25 GB/s per NVLink4 link)"},
      {"channel_speed_factor", ParamType::Real, Dim::Dimensionless, "1", "collectives, with channel_speeds: what one channel moves over the speed the search gave it"},
  };
  // Per protocol (ll, ll128, simple): a protocol is offered when its efficiency is given.
  for (const auto& name : protocol_names()) {
    t.push_back({name + "_efficiency", ParamType::Real, Dim::Dimensionless, "", "collectives: payload fraction of the wire with protocol " + name + " (giving it offers the protocol; the size ramp picks the fastest)", {}, true});
    t.push_back({name + "_base_latency", ParamType::Quantity, Dim::Time, "0 us", "collectives: fixed cost of one collective with protocol " + name, {}, false, 0, true});
    t.push_back({name + "_step_latency", ParamType::Quantity, Dim::Time, "0 us", "collectives: cost of one step (round) with protocol " + name + ", on top of the path latency", {}, false, 0, true});
    t.push_back({name + "_slice", ParamType::Quantity, Dim::Bytes, "0 B", "collectives: pipelining granularity per channel with protocol " + name + " (the last slice adds its time at a channel's rate)", {}, false, 0, true});
  }
  return t;
}

/// topology (its choices and description from the registry), the common keys, each kind's
/// own keys in registration order, then the point-to-point keys.
ParamTable make_plane_params() {
  const TopologyRegistry& reg = topology_registry();
  std::string summary;
  for (const auto& k : reg.all()) summary += (summary.empty() ? "" : "; ") + k.summary;
  ParamTable t{"plane", "A network plane: a topology of links joining the devices (and switches, and CPUs).", {}};
  t.params.push_back({"topology", ParamType::Enum, Dim::Dimensionless, "", summary, reg.names()});
  for (auto& d : common_head_params()) t.params.push_back(std::move(d));
  t.selector = "topology";  // a kind's own keys on a plane of another kind are errors
  for (const auto& k : reg.all()) {
    t.params.insert(t.params.end(), k.params.begin(), k.params.end());
    for (const auto& d : k.params) t.applies[d.name].push_back(k.name);
  }
  for (auto& d : common_tail_params()) t.params.push_back(std::move(d));
  return t;
}

std::vector<std::string> read_traffic(const Section& s) {
  static const std::vector<std::string> classes = {"collective", "tensor", "expert", "data",
                                                   "pipeline", "kv", "storage", "management"};
  std::vector<std::string> out;
  if (!s.has("traffic")) return out;
  const YAML::Node t = s.node("traffic");
  if (!t.IsSequence()) s.fail("traffic", "expected a list of traffic classes");
  for (const auto& c : t) {
    const std::string cls = scalar_text(c, s.path_of("traffic"), "a traffic class name");
    if (std::find(classes.begin(), classes.end(), cls) == classes.end())
      s.fail("traffic", fmt::format("unknown traffic class '{}'; valid: collective, tensor, expert, "
                                    "data, pipeline, kv, storage, management", cls));
    out.push_back(cls);
  }
  return out;
}

double read_efficiency_key(const Section& s, const std::string& key, double fallback) {
  if (!s.has(key)) return fallback;
  const double e = s.real(key);
  if (e > 1) s.fail(key, "an efficiency cannot exceed 1");
  return e;
}

/// Channels derived by NCCL's ring search (hw/network/channel_search.h), or none.
void read_channel_search(const Section& s, Plane& p) {
  const double link_eff = s.real("channel_link_efficiency");
  const double factor = s.real("channel_speed_factor");
  if (!s.has("channel_speeds")) {
    for (const char* k : {"channel_link_efficiency", "channel_speed_factor"})
      if (s.yaml()[k]) s.fail(k, fmt::format("{} applies only with channel_speeds (the ring search's speeds)", k));
    return;
  }
  if (p.channels > 0)
    s.fail("channel_speeds", "give either channel_speeds (channels derived per collective by the ring search) or "
                             "channels and channel_bandwidth (declared), not both");
  if (link_eff > 1) s.fail("channel_link_efficiency", "an efficiency cannot exceed 1");
  const YAML::Node list = s.node("channel_speeds");
  if (!list.IsSequence() || list.size() == 0)
    s.fail("channel_speeds", "expected a list of bandwidths, fastest first (e.g. [60 GB/s, 50 GB/s, 40 GB/s])");
  ChannelSearch search{{}, link_eff, factor};
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item = fmt::format("channel_speeds[{}]", i);
    double v = 0;
    try {
      v = parse_quantity_as(scalar_text(list[i], s.path_of(item), "a bandwidth"), Dim::Bandwidth);
    } catch (const std::exception& e) {
      s.fail("channel_speeds", fmt::format("{}: {}", item, e.what()));
    }
    if (!(v > 0)) s.fail("channel_speeds", fmt::format("{} must be positive", item));
    if (!search.speeds.empty() && v >= search.speeds.back())
      s.fail("channel_speeds", fmt::format("{} must be slower than the one before (fastest first)", item));
    search.speeds.push_back(v);
  }
  p.channel_search = std::move(search);
}

/// The collective size ramp: channels and protocols (hw/network/protocol.h).
void read_ramp(const Section& s, Plane& p) {
  p.channels = static_cast<int>(s.integer("channels"));
  if (s.has("channel_bandwidth")) {
    if (p.channels == 0) s.fail("channel_bandwidth", "channel_bandwidth needs channels (how many channels a collective runs on)");
    p.channel_bandwidth = s.quantity("channel_bandwidth");
  } else if (p.channels > 0) {
    s.fail("channels", "channels needs channel_bandwidth (what one channel moves per direction)");
  }
  read_channel_search(s, p);
  for (const auto& name : protocol_names()) {
    const std::string eff = name + "_efficiency";
    if (!s.has(eff)) {
      for (const char* k : {"_base_latency", "_step_latency", "_slice"})
        if (s.has(name + k)) s.fail(name + k, fmt::format("protocol {0} is offered only with {0}_efficiency", name));
      continue;
    }
    const double e = s.real(eff);
    if (e > 1) s.fail(eff, "an efficiency cannot exceed 1");
    p.protocols.push_back({name, s.quantity(name + "_base_latency"), s.quantity(name + "_step_latency"), e,
                           s.quantity(name + "_slice")});
  }
}

/// The plane's settings other than its layout.
Plane read_plane_settings(const Section& s, const std::string& name, const SystemShape& shape) {
  Plane p;
  p.name = name;
  p.shape = shape;
  p.topology = s.string("topology");
  p.scope = s.string("scope");
  p.cpus = s.boolean("cpus");
  p.efficiency = s.real("efficiency");
  if (p.efficiency > 1) s.fail("efficiency", "an efficiency cannot exceed 1");
  p.read_efficiency = read_efficiency_key(s, "read_efficiency", p.efficiency);
  p.write_efficiency = read_efficiency_key(s, "write_efficiency", p.efficiency);
  p.access_latency = s.quantity("access_latency");
  p.cpu_access_latency = s.has("cpu_access_latency") ? s.quantity("cpu_access_latency") : p.access_latency;
  p.write_latency = s.quantity("write_latency");
  // Fused all-to-all-v support: all three keys or none.
  std::string present, missing;
  for (const char* k : {"fused_dispatch_startup", "fused_combine_startup", "fused_per_peer"})
    (s.has(k) ? present : missing) = k;
  if (!present.empty() && !missing.empty())
    s.fail(present, fmt::format("also needs {}: a plane that supports fused all-to-all-v declares "
                                "fused_dispatch_startup, fused_combine_startup and fused_per_peer", missing));
  if (!present.empty())
    p.fused = Plane::Fused{s.quantity("fused_dispatch_startup"), s.quantity("fused_combine_startup"),
                           s.quantity("fused_per_peer")};
  read_ramp(s, p);
  for (const char* key : {"cpu_link_bandwidth", "cpu_access_latency"})
    if (!p.cpus && s.has(key))
      s.fail(key, "this plane has no CPU endpoints (cpus: false); set cpus: true or remove the key");
  if (p.cpus && shape.cpus_per_node == 0)
    s.fail("cpus", "the system has no CPUs (system.cpus_per_node is 0); set cpus_per_node or remove this key");
  return p;
}

/// Instances: one over every endpoint (node by node: its devices, then its CPUs), or one per node.
std::vector<Instance> make_instances(const Plane& p, double bw, double cpu_bw) {
  const SystemShape& shape = p.shape;
  const bool per_node = p.scope == "node";
  std::vector<Instance> instances;
  for (int k = 0; k < shape.nodes(); ++k) {
    if (per_node || instances.empty()) {
      instances.push_back({});
      if (per_node && shape.nodes() > 1) instances.back().prefix = fmt::format("n{}.", k);
    }
    auto& members = instances.back().members;
    std::vector<int> eps;
    for (int i = 0; i < shape.devices_per_node; ++i) eps.push_back(k * shape.devices_per_node + i);
    for (int j = 0; p.cpus && j < shape.cpus_per_node; ++j) eps.push_back(shape.cpu_endpoint(k, j));
    for (int e : eps)
      members.push_back({EndpointId{e}, per_node ? shape.local_name(e) : shape.name(e), shape.is_cpu(e) ? cpu_bw : bw});
  }
  return instances;
}

}  // namespace

const ParamTable& plane_params() {
  static const ParamTable t = make_plane_params();
  return t;
}

Plane build_plane(const Section& s, const std::string& name, const SystemShape& shape) {
  Plane p = read_plane_settings(s, name, shape);
  const double bw = s.quantity("link_bandwidth");
  const double cpu_bw = s.has("cpu_link_bandwidth") ? s.quantity("cpu_link_bandwidth") : bw;
  const double lat = s.quantity("link_latency");
  p.traffic = read_traffic(s);
  const TopologyKind& kind = topology_registry().find(p.topology, s);
  const int members_per_node = shape.devices_per_node + (p.cpus ? shape.cpus_per_node : 0);
  const TopologyContext context{s, bw, lat, members_per_node};
  for (const auto& in : make_instances(p, bw, cpu_bw)) kind.build(context, p, in);
  // Rail folding needs every link to have a twin (a fat tree and nothing else on the plane).
  if (p.rails > 1 && (p.rail_twin.size() != p.links.size() ||
                      std::any_of(p.rail_twin.begin(), p.rail_twin.end(), [](LinkId l) { return !l.valid(); })))
    p.rail_twin.clear();
  if (p.rails > 1 && !s.boolean("fold_rails")) p.rail_twin.clear();
  p.finalize(s.yaml(), s.path());
  return p;
}

}  // namespace orrery

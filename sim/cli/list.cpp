#include "sim/cli/list.h"

#include <fmt/format.h>

#include "hw/device.h"
#include "sim/config/registry.h"
#include "sim/config/yaml_doc.h"
#include "sim/run/run.h"
#include "topologies/topology.h"
#include "workloads/collective.h"
#include "workloads/model.h"
#include "workloads/moe/routing.h"
#include "workloads/workload.h"
#include "workloads/parallel.h"

namespace orrery {



std::string list_text(const std::string& what, bool markdown) {
  std::string out;
  if (what == "presets" || what == "all") {
    const auto section = [&](const char* title, PresetKind k) {
      out += markdown ? fmt::format("### {}\n\n", title) : fmt::format("{}:\n", title);
      for (const auto& n : preset_names(k)) out += markdown ? fmt::format("- `{}`\n", n) : "  " + n + "\n";
      out += markdown ? "\n" : "";
    };
    section("device presets (hw/devices)", PresetKind::Device);
    section("model presets (workloads/models)", PresetKind::Model);
    section("workload presets (workloads/presets)", PresetKind::Workload);
    section("system presets (topologies)", PresetKind::System);
  }
  if (what == "components" || what == "all") {
    out += markdown ? "" : "\nparameters (name, type/unit, default, meaning):\n";
    for (const ParamTable* t : {&system_params(), &device_params()}) out += describe_table(*t, markdown);
    for (const ComponentType* c : registry().all()) {
      if (c->type == "dram" || c->type == "cache") continue;  // same table as hbm
      ParamTable shown = *c->params;
      shown.name = c->type == "hbm" ? "memory (type: hbm | dram | cache)" : "type: " + c->type;
      out += describe_table(shown, markdown);
    }
    out += describe_table(plane_params(), markdown);
    for (const ParamTable* t : {&workload_params(), &parallel_params(), &model_params(), &mla_params(), &moe_params(), &moe_routing_params(), &mtp_params(), &overlap_params(), &core_partition_params(), &micro_op_params(), &collective_params()})
      out += describe_table(*t, markdown);
  }
  return out;
}

}  // namespace orrery

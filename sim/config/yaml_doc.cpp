#include "sim/config/yaml_doc.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sim/config/embedded_presets.h"
#include "sim/config/errors.h"

namespace orrery {

namespace {

void tag_tree(YAML::Node node, const std::string& origin) {
  node.SetTag(origin);
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      YAML::Node value = it->second;
      tag_tree(value, origin);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      YAML::Node item = node[i];
      tag_tree(item, origin);
    }
  }
}

YAML::Node parse_text(const std::string& text, const std::string& origin) {
  try {
    YAML::Node node = YAML::Load(text);
    tag_tree(node, origin);
    return node;
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: YAML syntax error: {}", origin, e.mark.line + 1, e.msg));
  }
}

}  // namespace

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: cannot open file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_text(buffer.str(), path);
}

YAML::Node load_yaml_text(const std::string& text, const std::string& origin) {
  return parse_text(text, origin);
}

std::string where(const YAML::Node& node) {
  std::string origin = node.Tag();
  if (origin.empty() || origin == "?" || origin == "!") origin = "<input>";
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0 || origin.rfind("--set", 0) == 0) return origin;
  return fmt::format("{}:{}", origin, mark.line + 1);
}

const char* preset_folder(PresetKind kind) {
  switch (kind) {
    case PresetKind::Device: return "hw/devices/";
    case PresetKind::Model: return "workloads/models/";
    case PresetKind::Workload: return "workloads/presets/";
  }
  return "";
}

std::vector<std::string> preset_names(PresetKind kind) {
  const std::string folder = preset_folder(kind);
  std::vector<std::string> names;
  for (const auto& file : embedded_presets()) {
    std::string path = file.path;
    if (path.rfind(folder, 0) != 0) continue;
    std::string name = path.substr(folder.size());
    name = name.substr(0, name.size() - std::string(".yaml").size());
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

YAML::Node load_preset(PresetKind kind, const std::string& name, const YAML::Node& context,
                       const std::string& path) {
  const std::string wanted = std::string(preset_folder(kind)) + name + ".yaml";
  for (const auto& file : embedded_presets()) {
    if (wanted == file.path) return parse_text(file.text, wanted);
  }
  std::string known;
  for (const auto& n : preset_names(kind)) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError(fmt::format("{}: at '{}': unknown {} preset '{}'; known presets: {}",
                                where(context), path,
                                kind == PresetKind::Device ? "device"
                                : kind == PresetKind::Model ? "model" : "workload",
                                name, known));
}

YAML::Node deep_merge(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsDefined() || base.IsNull()) return YAML::Clone(over);
  if (!(base.IsMap() && over.IsMap())) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (out[key]) {
      out[key] = deep_merge(out[key], it->second);
    } else {
      out[key] = YAML::Clone(it->second);
    }
  }
  return out;
}

YAML::Node resolve_preset(PresetKind kind, const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) return load_preset(kind, node.as<std::string>(), node, path);
  if (!node.IsMap() || !node["preset"]) return node;
  const YAML::Node name = node["preset"];
  if (!name.IsScalar())
    throw ConfigError(fmt::format("{}: at '{}.preset': expected a preset name", where(name), path));
  YAML::Node base = load_preset(kind, name.as<std::string>(), name, path + ".preset");
  YAML::Node over = YAML::Clone(node);
  over.remove("preset");
  return deep_merge(base, over);
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> keys;
  std::string current;
  for (char c : path) {
    if (c == '.') {
      keys.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  keys.push_back(current);
  return keys;
}

Override parse_override(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw ConfigError(fmt::format(
        "--set '{}': expected path=value, e.g. --set workload.batch=8 or "
        "--set system.device.memory.hbm.bandwidth='1.6 TB/s'",
        text));
  Override o{text.substr(0, eq), text.substr(eq + 1)};
  for (const auto& key : split_path(o.path)) {
    if (key.empty()) throw ConfigError(fmt::format("--set '{}': empty key in path", text));
  }
  return o;
}

void apply_override(YAML::Node& root, const std::vector<std::string>& keys,
                    const std::string& value, const std::string& original) {
  if (!root.IsMap())
    throw ConfigError(fmt::format("--set {}: cannot set a key inside a non-mapping", original));
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node child = node[keys[i]];
    if (!child.IsDefined() || child.IsNull()) {
      node[keys[i]] = YAML::Node(YAML::NodeType::Map);
      node[keys[i]].SetTag("--set " + original);
    } else if (!child.IsMap()) {
      throw ConfigError(fmt::format("--set {}: '{}' is not a mapping, cannot set keys inside it",
                                    original, keys[i]));
    }
    node.reset(node[keys[i]]);
  }
  node[keys.back()] = load_yaml_text(value, "--set " + original);
}

}  // namespace orrery

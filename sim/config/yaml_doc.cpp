#include "sim/config/yaml_doc.h"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <map>
#include <fstream>
#include <sstream>

#include "sim/config/embedded_presets.h"
#include "sim/config/errors.h"

namespace orrery {

namespace {

// Limits on what a configuration document may expand to: deeper nesting or more nodes than
// any real system or workload needs come from a self-referencing alias or an alias bomb.
constexpr int kMaxDepth = 64;
constexpr long kMaxNodes = 2'000'000;

struct TagWalk {
  std::string origin;
  long nodes = 0;
};

void tag_tree(YAML::Node node, TagWalk& walk, int depth) {
  const auto line = [&](const YAML::Node& n) { return n.Mark().line + 1; };
  if (depth > kMaxDepth)
    throw ConfigError(fmt::format("{}:{}: nesting deeper than {} levels; no system or workload needs that "
                                  "many (a self-referencing alias?)",
                                  walk.origin, line(node), kMaxDepth));
  if (++walk.nodes > kMaxNodes)
    throw ConfigError(fmt::format("{}: the document expands to more than {} nodes (an alias bomb?)",
                                  walk.origin, kMaxNodes));
  node.SetTag(walk.origin);
  if (node.IsMap()) {
    std::map<std::string, int> seen;  // key -> line of its first appearance
    for (auto it = node.begin(); it != node.end(); ++it) {
      YAML::Node key = it->first;
      if (!key.IsScalar())
        throw ConfigError(fmt::format("{}:{}: a mapping key must be a plain name, not a {}",
                                      walk.origin, line(key), key.IsMap() ? "mapping" : "list"));
      const auto [first, fresh] = seen.emplace(key.Scalar(), line(key));
      if (!fresh)
        throw ConfigError(fmt::format("{}:{}: duplicate key '{}' (first at line {}); give each key once",
                                      walk.origin, line(key), key.Scalar(), first->second));
      key.SetTag(walk.origin);
      tag_tree(it->second, walk, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) tag_tree(node[i], walk, depth + 1);
  }
}

YAML::Node parse_text(const std::string& text, const std::string& origin) {
  try {
    YAML::Node node = YAML::Load(text);
    TagWalk walk{origin};
    tag_tree(node, walk, 0);
    return node;
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp stops deep flow nesting itself, with the message "bad file".
    throw ConfigError(fmt::format("{}:{}: nesting deeper than {} levels; no system or workload needs more than {}",
                                  origin, e.mark.line + 1, e.depth(), kMaxDepth));
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
  YAML::Node doc = parse_text(buffer.str(), path);
  if (!doc.IsDefined() || doc.IsNull())
    throw ConfigError(fmt::format("{}: the file is empty (no YAML document); expected a mapping of keys", path));
  if (!doc.IsMap())
    throw ConfigError(fmt::format("{}:{}: the document is a {}; expected a mapping of keys", path,
                                  doc.Mark().line + 1, doc.IsSequence() ? "list" : "single value"));
  return doc;
}

YAML::Node load_yaml_text(const std::string& text, const std::string& origin) {
  return parse_text(text, origin);
}

std::string where(const YAML::Node& node) {
  std::string origin = node.Tag();
  const bool tagged = !(origin.empty() || origin == "?" || origin == "!");
  const YAML::Mark mark = node.Mark();
  if ((!tagged || mark.line < 0) && (node.IsMap() || node.IsSequence())) {
    // A mapping built by merging a preset with overrides has no position of its own:
    // cite its first entry that has one.
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node child = node.IsMap() ? it->second : *it;
      const std::string w = where(child);
      if (w != "<input>") return w;
    }
  }
  if (!tagged) return "<input>";
  // Command-line origins (--set, --system, --workload) have no useful line.
  if (mark.line < 0 || origin.rfind("--", 0) == 0) return origin;
  return fmt::format("{}:{}", origin, mark.line + 1);
}

const char* preset_folder(PresetKind kind) {
  switch (kind) {
    case PresetKind::Device: return "hw/devices/";
    case PresetKind::Model: return "workloads/models/";
    case PresetKind::Workload: return "workloads/presets/";
    case PresetKind::System: return "topologies/";
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
                                : kind == PresetKind::Model ? "model"
                                : kind == PresetKind::System ? "system" : "workload",
                                name, known));
}

namespace {

bool holds_null(const YAML::Node& n) {
  if (!n.IsMap()) return false;
  for (auto it = n.begin(); it != n.end(); ++it)
    if (it->second.IsNull() || holds_null(it->second)) return true;
  return false;
}

/// `n` without its null entries, at any depth: a removal (`key: ~`) with nothing under it to
/// remove. Maps that hold no null are shared as they are (their file and line stay).
YAML::Node without_nulls(const YAML::Node& n) {
  if (!holds_null(n)) return n;
  YAML::Node out(YAML::NodeType::Map);
  for (auto it = n.begin(); it != n.end(); ++it)
    if (!it->second.IsNull()) out[it->first.as<std::string>()] = without_nulls(it->second);
  return out;
}

}  // namespace

YAML::Node deep_merge(const YAML::Node& base, const YAML::Node& over) {
  // Children are shared, not cloned, so every leaf keeps its file and line for errors.
  if (!base.IsDefined() || base.IsNull()) return without_nulls(over);
  if (!(base.IsMap() && over.IsMap())) return without_nulls(over);
  YAML::Node out(YAML::NodeType::Map);
  for (auto it = base.begin(); it != base.end(); ++it) out[it->first.as<std::string>()] = it->second;
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    // A null over a preset's key removes it (`--set path=~`, or `key: ~` next to `preset:`).
    if (it->second.IsNull()) {
      out.remove(key);
      continue;
    }
    out[key] = out[key] ? deep_merge(out[key], it->second) : without_nulls(it->second);
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
  YAML::Node over(YAML::NodeType::Map);
  for (auto it = node.begin(); it != node.end(); ++it)
    if (it->first.as<std::string>() != "preset") over[it->first.as<std::string>()] = it->second;
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
  // Whether the path runs through a preset (or a mapping --set created): a removal must then
  // reach the preset's own key, which only the merge can remove.
  bool under_preset = false;
  const auto preset_or_set = [](const YAML::Node& n) {
    const YAML::Node& c = n;  // const: looking up "preset" must not insert it
    return bool(c["preset"]) || n.Tag().rfind("--set ", 0) == 0;
  };
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    under_preset = under_preset || preset_or_set(node);
    YAML::Node child = node[keys[i]];
    if (!child.IsDefined() || child.IsNull()) {
      node[keys[i]] = YAML::Node(YAML::NodeType::Map);
      node[keys[i]].SetTag("--set " + original);
    } else if (child.IsScalar()) {
      // A preset given by name (`model: gpt2-xl`) becomes {preset: gpt2-xl} so that keys can
      // be overridden inside it.
      YAML::Node preset(YAML::NodeType::Map);
      preset["preset"] = child;
      node[keys[i]] = preset;
    } else if (!child.IsMap()) {
      throw ConfigError(fmt::format("--set {}: '{}' is not a mapping, cannot set keys inside it",
                                    original, keys[i]));
    }
    node.reset(node[keys[i]]);
  }
  const YAML::Node v = load_yaml_text(value, "--set " + original);
  // `--set path=~` (null) removes the key, e.g. a key of another phase after --set workload.phase=...
  // Inside a preset's overrides the null stays, and the merge removes the preset's key.
  if (v.IsNull()) {
    node.remove(keys.back());
    if (under_preset || preset_or_set(node)) node[keys.back()] = v;
    return;
  }
  node[keys.back()] = v;
}

}  // namespace orrery

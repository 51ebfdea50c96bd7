// Loading YAML with its origin (file and line) kept on every node, presets, deep merge and
// `--set path=value` overrides. Everything above this layer reads plain structs.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace orrery {

/// Loads a YAML file; every node is tagged with the file name so errors can cite it.
[[nodiscard]] YAML::Node load_yaml_file(const std::string& path);
/// Loads YAML text that came from `origin` (a preset path, "--set", "<string>").
[[nodiscard]] YAML::Node load_yaml_text(const std::string& text, const std::string& origin);

/// "file:line" of a node (line 1-based), or its origin alone when it has no line.
[[nodiscard]] std::string where(const YAML::Node& node);

/// The kinds of preset shipped in the binary and the folder each lives in.
enum class PresetKind { Device, Model, Workload, System };
[[nodiscard]] const char* preset_folder(PresetKind kind);
/// Names of all presets of a kind, sorted.
[[nodiscard]] std::vector<std::string> preset_names(PresetKind kind);
/// The preset's YAML, or throws ConfigError listing the known names (`context` says who asked).
[[nodiscard]] YAML::Node load_preset(PresetKind kind, const std::string& name,
                                     const YAML::Node& context, const std::string& path);

/// Returns `base` with `over` laid on top: mappings merge key by key, everything else replaces.
[[nodiscard]] YAML::Node deep_merge(const YAML::Node& base, const YAML::Node& over);

/// If `node` is a mapping with a `preset:` key (or a plain string naming a preset), returns the
/// preset merged with the node's other keys; otherwise returns `node` unchanged.
[[nodiscard]] YAML::Node resolve_preset(PresetKind kind, const YAML::Node& node,
                                        const std::string& path);

/// One `--set path=value` override. `path` is dotted ("system.device.memory.hbm.bandwidth").
struct Override {
  std::string path;
  std::string value;
};
/// Parses "a.b.c=value"; throws ConfigError on a malformed one.
[[nodiscard]] Override parse_override(const std::string& text);
/// Applies an override below `root` (path relative to root, without the document prefix).
/// A null value (`~`) removes the key.
void apply_override(YAML::Node& root, const std::vector<std::string>& keys,
                    const std::string& value, const std::string& original);
[[nodiscard]] std::vector<std::string> split_path(const std::string& path);

}  // namespace orrery

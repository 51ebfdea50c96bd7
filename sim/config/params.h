// Declared parameters: the schema of every config section. A declaration is also the
// documentation (`orrery list`, docs/yaml-reference.md) — SST-style.
#pragma once
#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/units/quantity.h"

namespace orrery {

enum class ParamType {
  Quantity,     // a number with a unit of `dim`
  QuantityMap,  // a mapping of name -> quantity of `dim` (e.g. peak per dtype)
  Integer,
  Real,
  String,
  Enum,         // one of `choices`
  Bool,
  Section,      // a nested mapping with its own declared parameters
  Any,          // read by a dedicated reader (e.g. a model given as a preset name or dimensions)
};

struct ParamDecl {
  std::string name;
  ParamType type = ParamType::Real;
  Dim dim = Dim::Dimensionless;
  std::string default_text;  // empty: required
  std::string description;
  std::vector<std::string> choices = {};  // Enum values, QuantityMap keys
  bool optional = false;                  // absent is allowed and has no default
  double min = 0;                         // numbers must be > min (or >= min if min_inclusive)
  bool min_inclusive = false;
  // Numbers must be <= max. Without one, a quantity must lie below its dimension's physical
  // range's top (sim/units: physical_range) and a plain number within +-1e15; integers are at
  // most 2^31-1. A declared max replaces the dimension's top (e.g. a time key meant for hours).
  std::optional<double> max = std::nullopt;
};

/// A named group of declarations, e.g. "matrix" (engine) or "workload".
struct ParamTable {
  std::string name;
  std::string description;
  std::vector<ParamDecl> params;
  // Keys that apply only to some values of a selector key (a workload's `phase`, a plane's
  // `topology`): key -> the selector values it applies to. Section rejects such a key given
  // with another selector value ("does not apply to phase microbench") instead of ignoring it.
  std::string selector = {};
  std::map<std::string, std::vector<std::string>> applies = {};
};

/// Reads one YAML mapping against a ParamTable. Rejects unknown keys and wrong types with a
/// message naming file:line, the YAML path, the bad value and what is valid.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, const ParamTable& table);

  [[nodiscard]] bool has(const std::string& key) const;
  [[nodiscard]] double quantity(const std::string& key) const;
  [[nodiscard]] std::map<std::string, double> quantity_map(const std::string& key) const;
  [[nodiscard]] long integer(const std::string& key) const;
  [[nodiscard]] double real(const std::string& key) const;
  [[nodiscard]] std::string string(const std::string& key) const;
  [[nodiscard]] bool boolean(const std::string& key) const;
  [[nodiscard]] YAML::Node node(const std::string& key) const;  // raw, for Section/Any params
  [[nodiscard]] std::string path_of(const std::string& key) const { return path_ + "." + key; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const YAML::Node& yaml() const { return node_; }

  /// Throws ConfigError for `key` with the given complaint and what would be valid.
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  const ParamDecl& decl(const std::string& key) const;
  [[nodiscard]] std::optional<std::string> text(const std::string& key) const;
  void check_number(const ParamDecl& d, double v, const std::string& shown, const YAML::Node& at,
                    const std::string& path) const;
  void check_applies() const;

  YAML::Node node_;
  std::string path_;
  const ParamTable& table_;
};

/// The text of a scalar node; throws ConfigError at `path` ("expected {what}, got a list or
/// mapping") for a list, a mapping or a missing value. For readers of free-form (Any) values.
[[nodiscard]] std::string scalar_text(const YAML::Node& node, const std::string& path, const std::string& what);

/// Formats a config error: "file:line: at 'path': problem".
[[nodiscard]] std::string config_error_text(const YAML::Node& at, const std::string& path,
                                            const std::string& problem);

/// One line per parameter: name, type/unit, default, meaning.
[[nodiscard]] std::string describe_table(const ParamTable& table, bool markdown);

}  // namespace orrery

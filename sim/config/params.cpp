#include "sim/config/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"

namespace orrery {

std::string config_error_text(const YAML::Node& at, const std::string& path,
                              const std::string& problem) {
  return fmt::format("{}: at '{}': {}", where(at), path, problem);
}

namespace {

/// Where to cite a mapping entry: its key, or its value when the key has no position (a key
/// that --set added inside a preset's mapping carries none; its value names the --set).
const YAML::Node& entry_origin(const YAML::Node& key, const YAML::Node& value) {
  return where(key) == "<input>" ? value : key;
}

}  // namespace

std::string scalar_text(const YAML::Node& node, const std::string& path, const std::string& what) {
  if (!node || !node.IsScalar())
    throw ConfigError(config_error_text(
        node, path, fmt::format("expected {}, got {}", what,
                                !node || node.IsNull() ? "nothing" : node.IsMap() ? "a mapping" : "a list")));
  return node.Scalar();
}

namespace {

std::string type_text(const ParamDecl& d) {
  switch (d.type) {
    case ParamType::Quantity: return std::string("quantity (") + dim_name(d.dim) + ")";
    case ParamType::QuantityMap: {
      std::string keys;
      for (const auto& c : d.choices) keys += (keys.empty() ? "" : "|") + c;
      return fmt::format("map {{{}}} -> {}", keys, dim_name(d.dim));
    }
    case ParamType::Integer: return "integer";
    case ParamType::Real: return "number";
    case ParamType::String: return "string";
    case ParamType::Enum: {
      std::string keys;
      for (const auto& c : d.choices) keys += (keys.empty() ? "" : " | ") + c;
      return keys;
    }
    case ParamType::Bool: return "true | false";
    case ParamType::Section: return "mapping";
    case ParamType::Any: return "see description";
  }
  return "?";
}

std::string join_names(const ParamTable& table) {
  std::string s;
  for (const auto& p : table.params) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

}  // namespace

Section::Section(const YAML::Node& node, std::string path, const ParamTable& table)
    : node_(node), path_(std::move(path)), table_(table) {
  if (!node_.IsMap())
    throw ConfigError(config_error_text(
        node_, path_, fmt::format("expected a mapping of {} parameters ({})", table_.name,
                                  join_names(table_))));
  std::set<std::string> known;
  for (const auto& p : table_.params) known.insert(p.name);
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (!known.count(key))
      throw ConfigError(config_error_text(
          entry_origin(it->first, it->second), path_ + "." + key,
          fmt::format("unknown key '{}' for {}; valid keys: {}", key, table_.name,
                      join_names(table_))));
  }
  check_applies();
  for (const auto& p : table_.params) {
    if (p.default_text.empty() && !p.optional && !node_[p.name])
      throw ConfigError(config_error_text(
          node_, path_, fmt::format("missing required key '{}' ({}: {})", p.name, type_text(p),
                                    p.description)));
  }
}

void Section::check_applies() const {
  if (table_.selector.empty() || !node_[table_.selector] || !node_[table_.selector].IsScalar()) return;
  const std::string value = node_[table_.selector].Scalar();
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.Scalar();
    const auto a = table_.applies.find(key);
    if (a == table_.applies.end()) continue;
    // An unknown selector value is reported by its own check, not here.
    const auto& choices = decl(table_.selector).choices;
    bool known = choices.empty(), applies = false;
    for (const auto& c : choices) known = known || c == value;
    for (const auto& v : a->second) applies = applies || v == value;
    if (applies || !known) continue;
    std::string where_valid;
    for (const auto& v : a->second) where_valid += (where_valid.empty() ? "" : ", ") + v;
    throw ConfigError(config_error_text(
        entry_origin(it->first, it->second), path_ + "." + key,
        fmt::format("key '{}' does not apply to {} {} (only to {} {}); remove it (--set {}=~ removes it)",
                    key, table_.selector, value, table_.selector, where_valid, path_ + "." + key)));
  }
}

const ParamDecl& Section::decl(const std::string& key) const {
  for (const auto& p : table_.params)
    if (p.name == key) return p;
  throw std::logic_error("parameter not declared: " + table_.name + "." + key);
}

bool Section::has(const std::string& key) const {
  (void)decl(key);
  return static_cast<bool>(node_[key]);
}

void Section::fail(const std::string& key, const std::string& problem) const {
  const YAML::Node at = node_[key] ? node_[key] : node_;
  const ParamDecl& d = decl(key);
  throw ConfigError(config_error_text(at, path_of(key),
                                      fmt::format("{}; valid: {}", problem, type_text(d))));
}

std::optional<std::string> Section::text(const std::string& key) const {
  const ParamDecl& d = decl(key);
  if (node_[key]) {
    const YAML::Node v = node_[key];
    if (v.IsNull()) fail(key, "the key has no value");
    if (!v.IsScalar()) fail(key, "expected a single value, got a list or mapping");
    return v.as<std::string>();
  }
  if (!d.default_text.empty()) return d.default_text;
  return std::nullopt;
}

namespace {

/// The valid span of a declared number: its declared min (and max), narrowed for quantities to
/// the dimension's physical range (sim/units) and for plain numbers to +-1e15.
struct Span {
  double lo;
  bool lo_inclusive;
  double hi;
  bool has_hi;
};

Span span_of(const ParamDecl& d) {
  Span s{d.min, d.min_inclusive, 0, false};
  const bool quantity = d.type == ParamType::Quantity || d.type == ParamType::QuantityMap;
  if (quantity || d.type == ParamType::Real) {
    const Range r = physical_range(quantity ? d.dim : Dim::Dimensionless);
    if (r.lo > s.lo) s = {r.lo, true, 0, false};
    s.hi = r.hi;
    s.has_hi = true;
  }
  if (d.max) {  // a declared maximum replaces the dimension's (it may be narrower or wider)
    s.hi = *d.max;
    s.has_hi = true;
  }
  return s;
}

std::string span_text(const ParamDecl& d, const Span& s) {
  const bool quantity = d.type == ParamType::Quantity || d.type == ParamType::QuantityMap;
  const auto num = [&](double v) { return quantity ? format_quantity(v, d.dim) : fmt::format("{}", v); };
  std::string out = fmt::format("{} {} {}", type_text(d), s.lo_inclusive ? ">=" : ">", num(s.lo));
  if (s.has_hi) out += fmt::format(" and <= {}", num(s.hi));
  return out;
}

}  // namespace

void Section::check_number(const ParamDecl& d, double v, const std::string& shown, const YAML::Node& at,
                           const std::string& path) const {
  const Span span = span_of(d);
  const bool ok = std::isfinite(v) && (span.lo_inclusive ? v >= span.lo : v > span.lo) &&
                  (!span.has_hi || v <= span.hi);
  if (!ok)
    throw ConfigError(config_error_text(
        at, path, fmt::format("value '{}' is out of range; valid: {}", shown, span_text(d, span))));
}

double Section::quantity(const std::string& key) const {
  const ParamDecl& d = decl(key);
  const auto t = text(key);
  if (!t) fail(key, "missing value");
  double v = 0;
  try {
    v = parse_quantity_as(*t, d.dim);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(config_error_text(node_[key] ? node_[key] : node_, path_of(key),
                                        fmt::format("bad value '{}': {}; valid: {}", *t, e.what(),
                                                    span_text(d, span_of(d)))));
  }
  check_number(d, v, *t, node_[key] ? node_[key] : node_, path_of(key));
  return v;
}

std::map<std::string, double> Section::quantity_map(const std::string& key) const {
  const ParamDecl& d = decl(key);
  std::map<std::string, double> out;
  const YAML::Node m = node_[key];
  if (!m) return out;
  if (!m.IsMap()) fail(key, "expected a mapping");
  for (auto it = m.begin(); it != m.end(); ++it) {
    const std::string k = it->first.as<std::string>();
    const std::string sub = path_of(key) + "." + k;
    bool allowed = d.choices.empty();
    for (const auto& c : d.choices) allowed = allowed || c == k;
    if (!allowed) {
      std::string keys;
      for (const auto& c : d.choices) keys += (keys.empty() ? "" : ", ") + c;
      throw ConfigError(config_error_text(entry_origin(it->first, it->second), sub,
                                          fmt::format("unknown key '{}'; valid keys: {}", k, keys)));
    }
    if (!it->second.IsScalar())
      throw ConfigError(config_error_text(it->second, sub, "expected a quantity"));
    const std::string t = it->second.as<std::string>();
    double v = 0;
    try {
      v = parse_quantity_as(t, d.dim);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(config_error_text(it->second, sub,
                                          fmt::format("{}; valid: {}", e.what(), span_text(d, span_of(d)))));
    }
    check_number(d, v, t, it->second, sub);
    out[k] = v;
  }
  return out;
}

long Section::integer(const std::string& key) const {
  const ParamDecl& d = decl(key);
  const auto t = text(key);
  if (!t) fail(key, "missing value");
  size_t used = 0;
  long v = 0;
  bool range = true;
  try {
    v = std::stol(*t, &used);
  } catch (const std::out_of_range&) {
    range = false;
  } catch (const std::exception&) {
    used = 0;
  }
  // Every integer key is a count, an index or a seed: all fit in 32 bits, and callers narrow
  // them to int. One check here instead of a wrap-around at each cast.
  constexpr long kMax = 2147483647;
  if (!range || v > kMax || v < -kMax)
    fail(key, fmt::format("bad value '{}': out of range (integers here are at most {})", *t, kMax));
  if (used != t->size()) fail(key, fmt::format("bad value '{}': not an integer", *t));
  check_number(d, static_cast<double>(v), *t, node_[key] ? node_[key] : node_, path_of(key));
  return v;
}

double Section::real(const std::string& key) const {
  const ParamDecl& d = decl(key);
  const auto t = text(key);
  if (!t) fail(key, "missing value");
  double v = 0;
  try {
    v = parse_quantity_as(*t, Dim::Dimensionless);
  } catch (const std::invalid_argument& e) {
    fail(key, fmt::format("bad value '{}': {}", *t, e.what()));
  }
  check_number(d, v, *t, node_[key] ? node_[key] : node_, path_of(key));
  return v;
}

std::string Section::string(const std::string& key) const {
  const ParamDecl& d = decl(key);
  const auto t = text(key);
  if (!t) fail(key, "missing value");
  if (d.type == ParamType::Enum) {
    bool ok = false;
    for (const auto& c : d.choices) ok = ok || c == *t;
    if (!ok) fail(key, fmt::format("bad value '{}'", *t));
  }
  return *t;
}

bool Section::boolean(const std::string& key) const {
  const auto t = text(key);
  if (!t) fail(key, "missing value");
  if (*t == "true") return true;
  if (*t == "false") return false;
  fail(key, fmt::format("bad value '{}'", *t));
}

YAML::Node Section::node(const std::string& key) const {
  (void)decl(key);
  return node_[key];
}

std::string describe_table(const ParamTable& table, bool markdown) {
  // A key that applies only to some selector values says so (an error elsewhere).
  const auto meaning = [&](const ParamDecl& p) {
    const auto a = table.applies.find(p.name);
    if (a == table.applies.end() || table.selector == "topology") return p.description;  // kinds name themselves
    std::string values;
    for (const auto& v : a->second) values += (values.empty() ? "" : ", ") + v;
    return fmt::format("{} (only for {} {})", p.description, table.selector, values);
  };
  std::string out;
  if (markdown) {
    out += fmt::format("### `{}`\n\n{}\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
                       table.name, table.description);
    const auto cell = [](std::string s) {
      for (size_t i = s.find('|'); i != std::string::npos; i = s.find('|', i + 2)) s.replace(i, 1, "\\|");
      return s;
    };
    for (const auto& p : table.params) {
      out += fmt::format("| `{}` | {} | {} | {} |\n", p.name, cell(type_text(p)),
                         p.default_text.empty() ? (p.optional ? "(optional)" : "**required**")
                                                : "`" + p.default_text + "`",
                         cell(meaning(p)));
    }
    out += "\n";
  } else {
    out += fmt::format("{}: {}\n", table.name, table.description);
    for (const auto& p : table.params) {
      out += fmt::format("  {:<22} {:<34} {:<14} {}\n", p.name, type_text(p),
                         p.default_text.empty() ? (p.optional ? "(optional)" : "(required)")
                                                : p.default_text,
                         meaning(p));
    }
  }
  return out;
}

}  // namespace orrery

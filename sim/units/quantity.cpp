#include "sim/units/quantity.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

namespace orrery {

const char* dim_name(Dim d) {
  switch (d) {
    case Dim::Bytes: return "bytes";
    case Dim::Bandwidth: return "bandwidth";
    case Dim::Time: return "time";
    case Dim::Throughput: return "throughput";
    case Dim::Frequency: return "frequency";
    case Dim::Dimensionless: return "number";
  }
  return "?";
}

const char* dim_examples(Dim d) {
  switch (d) {
    case Dim::Bytes: return "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (e.g. '80 GiB')";
    case Dim::Bandwidth: return "B/s, GB/s, TB/s, GiB/s, Gb/s, Gbps (e.g. '3.35 TB/s')";
    case Dim::Time: return "s, ms, us, ns, ps (e.g. '1.2 us')";
    case Dim::Throughput: return "FLOPS, GFLOPS, TFLOPS, PFLOPS, TOPS (e.g. '989 TFLOPS')";
    case Dim::Frequency: return "Hz, MHz, GHz (e.g. '1.98 GHz')";
    case Dim::Dimensionless: return "a plain number";
  }
  return "?";
}

namespace {

struct UnitDef {
  const char* name;
  double scale;
  Dim dim;
};

// Longest names first is not needed: we match the whole unit string exactly.
const std::vector<UnitDef>& unit_table() {
  static const std::vector<UnitDef> table = {
      {"B", 1, Dim::Bytes},          {"KB", 1e3, Dim::Bytes},
      {"kB", 1e3, Dim::Bytes},       {"MB", 1e6, Dim::Bytes},
      {"GB", 1e9, Dim::Bytes},       {"TB", 1e12, Dim::Bytes},
      {"KiB", 1024.0, Dim::Bytes},   {"MiB", 1048576.0, Dim::Bytes},
      {"GiB", 1073741824.0, Dim::Bytes}, {"TiB", 1099511627776.0, Dim::Bytes},
      {"B/s", 1, Dim::Bandwidth},    {"KB/s", 1e3, Dim::Bandwidth},
      {"MB/s", 1e6, Dim::Bandwidth}, {"GB/s", 1e9, Dim::Bandwidth},
      {"TB/s", 1e12, Dim::Bandwidth}, {"PB/s", 1e15, Dim::Bandwidth},
      {"GiB/s", 1073741824.0, Dim::Bandwidth}, {"TiB/s", 1099511627776.0, Dim::Bandwidth},
      {"MiB/s", 1048576.0, Dim::Bandwidth}, {"KiB/s", 1024.0, Dim::Bandwidth},
      {"kB/s", 1e3, Dim::Bandwidth},     {"Kb/s", 1e3 / 8, Dim::Bandwidth},
      {"kb/s", 1e3 / 8, Dim::Bandwidth},
      {"b/s", 1.0 / 8, Dim::Bandwidth},  {"Mb/s", 1e6 / 8, Dim::Bandwidth},
      {"Gb/s", 1e9 / 8, Dim::Bandwidth}, {"Tb/s", 1e12 / 8, Dim::Bandwidth},
      {"Mbps", 1e6 / 8, Dim::Bandwidth}, {"Gbps", 1e9 / 8, Dim::Bandwidth},
      {"Tbps", 1e12 / 8, Dim::Bandwidth},
      {"s", 1, Dim::Time},           {"ms", 1e-3, Dim::Time},
      {"us", 1e-6, Dim::Time},       {"ns", 1e-9, Dim::Time},
      {"ps", 1e-12, Dim::Time},
      {"FLOPS", 1, Dim::Throughput}, {"GFLOPS", 1e9, Dim::Throughput},
      {"TFLOPS", 1e12, Dim::Throughput}, {"PFLOPS", 1e15, Dim::Throughput},
      {"OPS", 1, Dim::Throughput},   {"GOPS", 1e9, Dim::Throughput},
      {"TOPS", 1e12, Dim::Throughput}, {"POPS", 1e15, Dim::Throughput},
      {"Hz", 1, Dim::Frequency},     {"kHz", 1e3, Dim::Frequency},
      {"MHz", 1e6, Dim::Frequency},  {"GHz", 1e9, Dim::Frequency},
  };
  return table;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

Range physical_range(Dim d) {
  switch (d) {
    case Dim::Bytes: return {0, 1e15};            // up to 1 PB
    case Dim::Bandwidth: return {1e3, 1e16};      // 1 kB/s .. 10 PB/s
    case Dim::Time: return {0, 1};                // latencies and per-call costs: up to 1 s
    case Dim::Throughput: return {1e6, 1e18};     // 1 MFLOPS .. 1 EFLOPS
    case Dim::Frequency: return {1e3, 1e12};      // 1 kHz .. 1 THz
    case Dim::Dimensionless: return {-1e15, 1e15};
  }
  return {0, 0};
}

std::string range_text(Range r, Dim d) {
  return fmt::format("from {} to {}", format_quantity(r.lo, d), format_quantity(r.hi, d));
}

Quantity parse_quantity(const std::string& raw) {
  const std::string text = trim(raw);
  if (text.empty()) throw std::invalid_argument("empty value; expected a number with a unit");
  size_t consumed = 0;
  double number = 0;
  try {
    number = std::stod(text, &consumed);
  } catch (const std::out_of_range&) {
    throw std::invalid_argument(
        fmt::format("'{}' is out of range (the number is beyond what a double holds)", text));
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("'{}' does not start with a number", text));
  }
  if (!std::isfinite(number))
    throw std::invalid_argument(fmt::format("'{}' is out of range (not a finite number)", text));
  const std::string unit = trim(text.substr(consumed));
  if (unit.empty()) return {number, Dim::Dimensionless};
  for (const auto& u : unit_table()) {
    if (unit != u.name) continue;
    if (!std::isfinite(number * u.scale))
      throw std::invalid_argument(fmt::format("'{}' is out of range (not a finite number)", text));
    return {number * u.scale, u.dim};
  }
  throw std::invalid_argument(fmt::format(
      "unknown unit '{}' in '{}'; known units: bytes ({}), bandwidth ({}), time ({}), "
      "throughput ({}), frequency ({})",
      unit, text, dim_examples(Dim::Bytes), dim_examples(Dim::Bandwidth),
      dim_examples(Dim::Time), dim_examples(Dim::Throughput), dim_examples(Dim::Frequency)));
}

double parse_quantity_as(const std::string& text, Dim expected) {
  const Quantity q = parse_quantity(text);
  if (q.dim != expected) {
    if (q.dim == Dim::Dimensionless)
      throw std::invalid_argument(
          fmt::format("'{}' has no unit; expected {} in {}", text, dim_name(expected),
                      dim_examples(expected)));
    throw std::invalid_argument(fmt::format("'{}' is a {}, expected {} in {}", text,
                                            dim_name(q.dim), dim_name(expected),
                                            dim_examples(expected)));
  }
  return q.value;
}

std::string format_quantity(double value, Dim dim) {
  static const std::vector<std::pair<double, const char*>> si = {
      {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}};
  const char* base = "";
  switch (dim) {
    case Dim::Bytes: base = "B"; break;
    case Dim::Bandwidth: base = "B/s"; break;
    case Dim::Throughput: base = "FLOPS"; break;
    case Dim::Frequency: base = "Hz"; break;
    case Dim::Dimensionless: return fmt::format("{:.4g}", value);
    case Dim::Time: {
      const double a = std::fabs(value);
      if (a >= 1 || a == 0) return fmt::format("{:.4g} s", value);
      if (a >= 1e-3) return fmt::format("{:.4g} ms", value * 1e3);
      if (a >= 1e-6) return fmt::format("{:.4g} us", value * 1e6);
      return fmt::format("{:.4g} ns", value * 1e9);
    }
  }
  for (const auto& [scale, prefix] : si) {
    if (std::fabs(value) >= scale) return fmt::format("{:.4g} {}{}", value / scale, prefix, base);
  }
  return fmt::format("{:.4g} {}", value, base);
}

}  // namespace orrery

// Physical quantities written with their unit in config values ("3.35 TB/s", "80 GiB").
#pragma once
#include <string>

namespace orrery {

/// What a quantity measures. Every value is stored in the SI base unit of its dimension:
/// bytes, bytes per second, seconds, operations per second, hertz.
enum class Dim { Bytes, Bandwidth, Time, Throughput, Frequency, Dimensionless };

[[nodiscard]] const char* dim_name(Dim d);
/// Units a user may write for a dimension, for error messages ("B, KB, KiB, ...").
[[nodiscard]] const char* dim_examples(Dim d);

struct Quantity {
  double value = 0;  // in the base unit of `dim`
  Dim dim = Dim::Dimensionless;
};

/// The physically sane span of a dimension, in its base unit: every quantity of the config is
/// checked against it (sim/config/params.cpp), so `peak: 1e300 TFLOPS` or `latency: 1e6 s` is
/// "out of range" whatever key it is written under. Wide enough for any real machine (a
/// bandwidth of 1 kB/s to 10 PB/s, a latency or host cost up to 1 s, a size up to 1 PB).
struct Range {
  double lo = 0;
  double hi = 0;
};
[[nodiscard]] Range physical_range(Dim d);
/// "from 1 kB/s to 10 PB/s" for messages.
[[nodiscard]] std::string range_text(Range r, Dim d);

/// Parses "<number> <unit>" (space optional). SI prefixes are powers of 1000 (KB, MB, GB, TB/s),
/// binary prefixes powers of 1024 (KiB, MiB, GiB). Bits ("Gb/s", "Gbps") are converted to bytes.
/// Throws std::invalid_argument naming what is wrong and what is valid; a number beyond the
/// range of a double ("1e400") or not finite ("nan", "inf") is "out of range".
[[nodiscard]] Quantity parse_quantity(const std::string& text);

/// Parses and checks the dimension; a bare number is accepted only for Dimensionless.
[[nodiscard]] double parse_quantity_as(const std::string& text, Dim expected);

/// Formats a value of a dimension with a readable SI unit, e.g. 3.35e12 Bandwidth -> "3.35 TB/s".
[[nodiscard]] std::string format_quantity(double value, Dim dim);

}  // namespace orrery

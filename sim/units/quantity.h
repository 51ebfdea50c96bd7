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

/// Parses "<number> <unit>" (space optional). SI prefixes are powers of 1000 (KB, MB, GB, TB/s),
/// binary prefixes powers of 1024 (KiB, MiB, GiB). Bits ("Gb/s", "Gbps") are converted to bytes.
/// Throws std::invalid_argument naming what is wrong and what is valid.
[[nodiscard]] Quantity parse_quantity(const std::string& text);

/// Parses and checks the dimension; a bare number is accepted only for Dimensionless.
[[nodiscard]] double parse_quantity_as(const std::string& text, Dim expected);

/// Formats a value of a dimension with a readable SI unit, e.g. 3.35e12 Bandwidth -> "3.35 TB/s".
[[nodiscard]] std::string format_quantity(double value, Dim dim);

}  // namespace orrery

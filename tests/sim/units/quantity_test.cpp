#include "sim/units/quantity.h"

#include <catch2/catch.hpp>
#include <stdexcept>

using namespace orrery;

TEST_CASE("si_and_binary_prefixes_stay_distinct", "[units]") {
  CHECK(parse_quantity_as("80 GB", Dim::Bytes) == Approx(80e9));
  CHECK(parse_quantity_as("80 GiB", Dim::Bytes) == Approx(80.0 * 1024 * 1024 * 1024));
  CHECK(parse_quantity_as("50MiB", Dim::Bytes) == Approx(52428800));
}

TEST_CASE("bandwidth_in_bits_is_converted_to_bytes", "[units]") {
  CHECK(parse_quantity_as("400 Gb/s", Dim::Bandwidth) == Approx(50e9));
  CHECK(parse_quantity_as("400 Gbps", Dim::Bandwidth) == Approx(50e9));
  CHECK(parse_quantity_as("3.35 TB/s", Dim::Bandwidth) == Approx(3.35e12));
}

TEST_CASE("time_throughput_and_frequency_parse_to_base_units", "[units]") {
  CHECK(parse_quantity_as("1.2 us", Dim::Time) == Approx(1.2e-6));
  CHECK(parse_quantity_as("989 TFLOPS", Dim::Throughput) == Approx(989e12));
  CHECK(parse_quantity_as("1979 TOPS", Dim::Throughput) == Approx(1979e12));
  CHECK(parse_quantity_as("1.98 GHz", Dim::Frequency) == Approx(1.98e9));
  CHECK(parse_quantity_as("0.8", Dim::Dimensionless) == Approx(0.8));
}

TEST_CASE("wrong_dimension_missing_unit_and_unknown_unit_are_errors", "[units]") {
  CHECK_THROWS_WITH(parse_quantity_as("80 GB", Dim::Bandwidth),
                    Catch::Contains("is a bytes, expected bandwidth"));
  CHECK_THROWS_WITH(parse_quantity_as("3.35", Dim::Bandwidth), Catch::Contains("has no unit"));
  CHECK_THROWS_WITH(parse_quantity("3 parsecs"), Catch::Contains("unknown unit 'parsecs'"));
  CHECK_THROWS_AS(parse_quantity("fast"), std::invalid_argument);
}

TEST_CASE("format_picks_a_readable_prefix", "[units]") {
  CHECK(format_quantity(3.35e12, Dim::Bandwidth) == "3.35 TB/s");
  CHECK(format_quantity(2.5e-6, Dim::Time) == "2.5 us");
}

TEST_CASE("numbers_beyond_a_double_or_not_finite_are_out_of_range", "[units]") {
  for (const char* text : {"1e400 GB/s", "-1e400 GB/s", "nan GB/s", "inf TFLOPS", "1e300 TFLOPS", "1e308 PB/s"})
    CHECK_THROWS_WITH(parse_quantity(text), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(parse_quantity("fast"), Catch::Contains("does not start with a number"));
}

TEST_CASE("every_dimension_has_a_physical_range_holding_real_machines", "[units]") {
  for (Dim d : {Dim::Bytes, Dim::Bandwidth, Dim::Time, Dim::Throughput, Dim::Frequency}) {
    const Range r = physical_range(d);
    CHECK(r.lo >= 0);
    CHECK(r.hi > r.lo);
  }
  // An H100's figures sit well inside; a ConnectX NIC of 400 Gb/s too.
  CHECK(physical_range(Dim::Bandwidth).hi > 3.35e12);
  CHECK(physical_range(Dim::Bandwidth).lo < 400e9 / 8);
  CHECK(physical_range(Dim::Throughput).hi > 1979e12);
  CHECK(physical_range(Dim::Bytes).hi > 80e9);
  CHECK(physical_range(Dim::Time).hi >= 1e-3);
}

// CloudMatrix384 UB point-to-point transfers against the paper's measured table
// (tests/data/cloudmatrix384_ub_p2p.json): every bandwidth (256 MiB transfer) and 512-byte
// latency within 10%. The preset's latency constants and read/write efficiencies were fitted
// on this same table (see docs/validation.md): this checks that the physical model (per-hop
// latency, access latency, multi-rail max-min bandwidth) can express it with those constants.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "tests/support/run_cli.h"

using namespace orrery::test;

namespace {

nlohmann::json transfer(const std::string& op, const std::string& dst, const std::string& bytes) {
  return run_report(fmt::format(
      "--system cloudmatrix384 --workload point-to-point --set workload.collective.op={} "
      "--set workload.collective.src=n0.d0 --set workload.collective.dst={} "
      "--set 'workload.collective.bytes={}'",
      op, dst, bytes))["summary"];
}

}  // namespace

TEST_CASE("cloudmatrix384_ub_point_to_point_matches_the_measured_table", "[collective][validation]") {
  std::ifstream f(source_path("tests/data/cloudmatrix384_ub_p2p.json"));
  REQUIRE(f);
  const auto table = nlohmann::json::parse(f);
  int checked = 0;
  for (const auto& row : table["rows"]) {
    const std::string op = row["op"];
    const bool cpu = row["target"] == "cpu";
    for (const bool inter : {true, false}) {
      // Same die index in another node (inter) or the next die / a CPU of the same node (intra).
      const std::string dst = fmt::format("n{}.{}", inter ? 1 : 0, cpu ? "cpu0" : (inter ? "d0" : "d1"));
      const std::string where = inter ? "inter" : "intra";
      const double bw = transfer(op, dst, "256 MiB")["bandwidth_GBps"];
      const double lat = transfer(op, dst, "512 B")["latency_us"];
      const double want_bw = row[where + "_GBps"], want_lat = row[where + "_us"];
      INFO(row["path"].get<std::string>() << " " << op << " " << where << ": bandwidth " << bw << " GB/s (measured "
           << want_bw << "), latency " << lat << " us (measured " << want_lat << ")");
      CHECK(std::abs(bw - want_bw) / want_bw <= 0.10);
      CHECK(std::abs(lat - want_lat) / want_lat <= 0.10);
      checked += 2;
    }
  }
  CHECK(checked == 16);
}

TEST_CASE("a_read_is_a_round_trip_and_a_write_waits_for_its_acknowledgement", "[collective]") {
  // 512 B inside a node: 2 hops each way at 187.5 ns = 0.75 us, + access (425 ns), + write
  // commit (150 ns) for a write; the bytes add 512 B / (7 x 28 GB/s x efficiency).
  const auto read = transfer("read", "n0.d1", "512 B");
  CHECK(read["hops"] == 2);
  CHECK(read["paths"] == 7);
  CHECK(read["fixed_latency_us"].get<double>() == Approx(0.75 + 0.425).epsilon(1e-6));
  const auto write = transfer("write", "n0.d1", "512 B");
  CHECK(write["fixed_latency_us"].get<double>() == Approx(0.75 + 0.425 + 0.15).epsilon(1e-6));
  // Across nodes: two more switch traversals each way (L1 -> L2 -> L1).
  const auto far = transfer("read", "n1.d0", "512 B");
  CHECK(far["hops"] == 4);
  CHECK(far["fixed_latency_us"].get<double>() - read["fixed_latency_us"].get<double>() == Approx(0.75));
  // Large transfers run at 7 ports x 28 GB/s x read efficiency, or the CPU's 7 x 22.857.
  CHECK(transfer("read", "n1.d0", "1 GiB")["path_rate_GBps"].get<double>() == Approx(196 * 0.887).epsilon(1e-3));
  CHECK(transfer("read", "n1.cpu3", "1 GiB")["path_rate_GBps"].get<double>() == Approx(160 * 0.887).epsilon(1e-3));
}

TEST_CASE("point_to_point_needs_a_plane_that_joins_its_endpoints", "[collective]") {
  // The RDMA plane has no CPUs; asking for it by name is a clear error.
  CliResult r = run_orrery("run --system cloudmatrix384 --workload point-to-point --set workload.collective.dst=n0.cpu0 "
                           "--set workload.collective.plane=rdma");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("no plane named 'rdma' connects n0.d0 and n0.cpu0"));
  r = run_orrery("run --system cloudmatrix384 --workload point-to-point --set workload.collective.group=all");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("give src and dst, not group"));
}

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/run_cli.h"

using namespace orrery::test;

TEST_CASE("same_inputs_give_identical_reports_except_wall_clock", "[cli]") {
  const std::string args = "--system h100-sxm --workload gpt2-xl-train --set workload.batch=2";
  nlohmann::json a = run_report_ops(args);
  nlohmann::json b = run_report_ops(args);
  for (auto* j : {&a, &b}) {
    (*j)["sim"].erase("wall_s");
    (*j)["sim"].erase("events_per_s");
  }
  CHECK(a == b);
}

TEST_CASE("overrides_are_echoed_and_change_the_answer", "[cli]") {
  const nlohmann::json base = run_report_ops("--system h100-sxm --workload gpt2-xl-decode");
  const nlohmann::json slow = run_report_ops(
      "--system h100-sxm --workload gpt2-xl-decode --set workload.framework=graph "
      "--set \"system.device.memory.hbm.bandwidth=1.675 TB/s\"");
  REQUIRE(slow["inputs"]["overrides"].size() == 2);
  CHECK(slow["inputs"]["overrides"][1] == "system.device.memory.hbm.bandwidth=1.675 TB/s");
  CHECK(slow["inputs"]["system_resolved"]["device"]["memory"]["hbm"]["bandwidth"] == "1.675 TB/s");
  CHECK(slow["summary"]["tpot_s"] != base["summary"]["tpot_s"]);
}

TEST_CASE("report_has_the_documented_summary_fields", "[cli]") {
  const nlohmann::json r = run_report_ops("--system h100-sxm --workload gpt2-xl-train --set workload.batch=1");
  for (const char* key : {"step_time_s", "tokens_per_s", "mfu", "ttft_s", "tpot_s", "peak_memory_bytes"})
    CHECK(r["summary"].contains(key));
  CHECK(r["summary"]["step_time_s"].get<double>() > 0);
  CHECK(r["summary"]["mfu"].get<double>() > 0.05);
  CHECK(r["summary"]["mfu"].get<double>() < 0.8);
  REQUIRE(r["bottlenecks"].size() >= 3);
  double share = 0;
  for (const auto& b : r["bottlenecks"]) share += b["critical_path_share"].get<double>();
  CHECK(share == Approx(1.0));
  const auto& op = r["ops"][0];
  for (const char* key : {"start_s", "end_s", "flops", "bytes", "bound"}) CHECK(op.contains(key));
  CHECK(r["sim"]["events"].get<long>() > 0);
}

TEST_CASE("prefill_reports_ttft_and_decode_reports_tpot", "[cli]") {
  const nlohmann::json p = run_report_ops("--system h100-sxm --workload gpt2-xl-decode --set workload.phase=prefill --set workload.decode_tokens=~");
  CHECK(p["summary"]["ttft_s"].get<double>() > 0);
  CHECK(p["summary"]["tpot_s"].is_null());
  const nlohmann::json d = run_report_ops("--system h100-sxm --workload gpt2-xl-decode");
  CHECK(d["summary"]["tpot_s"].get<double>() > 0);
  CHECK(d["summary"]["tpot_s"].get<double>() * 64 == Approx(d["summary"]["step_time_s"].get<double>()));
}

TEST_CASE("a_workload_that_does_not_fit_exits_3_with_a_breakdown", "[cli]") {
  const CliResult r = run_orrery("run --system h100-sxm --workload gpt2-xl-train --set workload.batch=64");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("does not fit") && Catch::Contains("activations") &&
                        Catch::Contains("device capacity"));
}

TEST_CASE("trace_has_one_track_per_resource", "[cli]") {
  const std::string trace = "/tmp/orrery-cli-trace.json";
  const CliResult r = run_orrery("run --system h100-sxm --workload gpt2-xl-decode --set workload.decode_tokens=2 --quiet --trace " + trace);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(trace);
  const nlohmann::json t = nlohmann::json::parse(in);
  std::set<std::string> tracks;
  for (const auto& e : t["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks.insert(e["args"]["name"].get<std::string>());
  CHECK(tracks.count("host"));
  CHECK(tracks.count("engine tensor"));
  CHECK(tracks.count("memory hbm"));
  std::remove(trace.c_str());
}

TEST_CASE("list_prints_presets_and_every_parameter", "[cli]") {
  const CliResult r = run_orrery("list");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("h100-sxm") && Catch::Contains("gpt2-xl") &&
                        Catch::Contains("launch_eager") && Catch::Contains("max_efficiency") &&
                        Catch::Contains("decode_tokens"));
}

TEST_CASE("set_to_null_removes_a_key_that_a_preset_declares", "[cli]") {
  // `--set path=~` removes the key from the preset the path runs through (here the device
  // preset inside the system preset), so its documented default applies: without
  // unaligned_bandwidth an unaligned GEMM streams at the memory's rate again.
  const std::string yaml = "tests/data/h200_graph_gemm.yaml";
  const auto with = run_report_ops("--system h200-sxm --workload " + yaml);
  const auto without = run_report_ops("--system h200-sxm --workload " + yaml +
                                      " --set system.device.engines.tensor.unaligned_bandwidth=~");
  double faster = 0;
  for (size_t i = 0; i < with["microbench"].size(); ++i)
    faster += with["microbench"][i]["time_s"].get<double>() > without["microbench"][i]["time_s"].get<double>() * 1.2;
  CHECK(faster >= 4);  // GPT-2's and GPT-2 XL's LM heads at M = 8 ... 64
  // A key nobody declares: removing it changes nothing.
  const auto same = run_report_ops("--system h200-sxm --workload " + yaml + " --set workload.iterations=~");
  CHECK(same["microbench"] == with["microbench"]);

  // The path may run through the user's own mappings above the preset: the removal still
  // reaches the preset's key (here engines.tensor is the user's, the device preset below it).
  const auto dir = std::filesystem::temp_directory_path() / "orrery-cli-set-null";
  std::filesystem::create_directories(dir);
  const std::string system = (dir / "system.yaml").string();
  std::ofstream(system) << "device:\n  preset: h200-sxm\n  engines:\n    tensor: {alignment: 16}\n";
  const auto own = run_report_ops("--system " + system + " --workload " + yaml);
  const auto own_without = run_report_ops("--system " + system + " --workload " + yaml +
                                          " --set system.device.engines.tensor.unaligned_bandwidth=~");
  double own_faster = 0;
  for (size_t i = 0; i < own["microbench"].size(); ++i)
    own_faster +=
        own["microbench"][i]["time_s"].get<double>() > own_without["microbench"][i]["time_s"].get<double>() * 1.2;
  CHECK(own_faster >= 4);
  // ... and the user's own key beside it stays.
  CHECK(own_without["inputs"]["system_resolved"]["device"]["engines"]["tensor"]["alignment"] == "16");
}

// What the simulation records for every operator: when the host issued it, when the device ran
// it, and which resource bound it. Reports, traces and the bottleneck analysis read these.
#pragma once
#include <string>
#include <vector>

namespace orrery {

/// Why an op could not start earlier on its device.
enum class WaitReason { None, Host, Stream, Dependency, Engine };
[[nodiscard]] const char* wait_reason_name(WaitReason w);

struct OpRecord {
  double issue_start = 0, issue_end = 0;  // host launch interval
  double start = 0, end = 0;              // execution interval (device, or host for Host ops)
  double compute_s = 0;                   // engine time at full rate
  double memory_s = 0;                    // bytes / sustained bandwidth of its level, alone
  double overhead_s = 0;
  int level = -1;                         // memory level index, -1 for none
  std::string engine;                     // engine name or "host"
  std::string bound;                      // resource that set its duration
  WaitReason waited = WaitReason::None;   // what its start waited for last
  long after = -1;                        // device op whose end released it (-1: its launch)
  bool done = false;
};

/// Names of the resources of one simulated device, indexable from OpRecord.
struct ResourceNames {
  std::string host = "host";
  std::vector<std::string> engines;   // matrix first, then vector
  std::vector<std::string> memory;    // per level
};

}  // namespace orrery

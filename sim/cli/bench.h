// `orrery bench`: times the simulator itself on fixed scenarios, each in a fresh process
// (one SystemC kernel per process), and reports wall time and events per second.
#pragma once
#include <string>

namespace orrery {
int run_bench(const std::string& self, const std::string& json_out);
}

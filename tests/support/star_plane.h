// A hand-built network plane for tests: n devices joined through one switch.
#pragma once
#include "hw/network/plane.h"

namespace orrery::test {

/// `n` devices, each with one link of `bandwidth` to one switch, latency `latency` per hop.
Plane star(int n, double bandwidth, double latency);

}  // namespace orrery::test

#include "workloads/collective_memory.h"

#include <algorithm>

namespace orrery {

MemoryPlan collective_memory(const CollectiveSpec& c) {
  const double S = c.bytes, n = std::max<double>(1, static_cast<double>(c.group.size()));
  double send = S, recv = S;
  const char* how = "nccl-tests, out of place: S each";
  if (c.op == CommKind::AllGather) {
    send = S / n;
    how = "send S/n, receive S (S is the gathered output)";
  } else if (c.op == CommKind::ReduceScatter) {
    recv = S / n;
    how = "send S, receive S/n (S is the input)";
  } else if (c.op == CommKind::AllToAllV) {
    send = recv = 0;
    double worst = 0;
    for (size_t i = 0; i < c.sizes.size(); ++i) {
      double row = 0, col = 0;
      for (size_t j = 0; j < c.sizes.size(); ++j) {
        row += c.sizes[i][j];
        col += c.sizes[j][i];
      }
      if (row + col > worst) {
        worst = row + col;
        send = row;
        recv = col;
      }
    }
    how = "the busiest rank's row (sent) and column (received) of sizes";
  }
  MemoryPlan plan;
  plan.items.push_back({"send_buffer", send, how});
  plan.items.push_back({"receive_buffer", recv, how});
  plan.peak = send + recv;
  return plan;
}

}  // namespace orrery

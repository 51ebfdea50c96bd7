// Device memory a collective needs: its buffers must fit like a training step's state does.
#pragma once
#include "workloads/collective.h"
#include "workloads/memory_plan.h"

namespace orrery {

/// The largest per-rank buffers of the collective, as nccl-tests allocates them (out of place:
/// a send and a receive buffer). With S = bytes and n ranks:
///   all_reduce, broadcast, all_to_all, send_recv   send S, receive S
///   all_gather (S is the output)                   send S/n, receive S
///   reduce_scatter (S is the input)                send S, receive S/n
///   all_to_all_v                                   max over ranks of its row (sent) + its column (received)
/// Check with check_fits (exit 3 with this breakdown when it does not fit).
[[nodiscard]] MemoryPlan collective_memory(const CollectiveSpec& c);

}  // namespace orrery

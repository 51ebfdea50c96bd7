// Max-min fair sharing of one bandwidth among concurrent users, each with its own cap.
// Used for a memory level shared by concurrent kernels (and, later, a link shared by flows).
#pragma once
#include <vector>

namespace orrery {

/// Water-filling: every user gets min(cap_i, fair share); what capped users leave is split
/// among the others. Returns one rate per cap. Sum of rates <= capacity.
[[nodiscard]] std::vector<double> max_min_share(double capacity, const std::vector<double>& caps);

}  // namespace orrery

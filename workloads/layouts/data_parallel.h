// PyTorch DDP gradient buckets: gradients fill buckets of bucket_cap_mb in backward order; a
// full bucket is all-reduced (ZeRO-1: reduce-scattered) on the NCCL stream while backward goes
// on, and the last partial bucket is flushed when backward ends.
#pragma once
#include "workloads/builders/graph_builder.h"
#include "workloads/parallel.h"

namespace orrery::transformer {

/// Device stream of the data-parallel gradient collectives (NCCL's).
inline constexpr int kGradientStream = 1;

class GradientBuckets {
 public:
  /// `tp`: tensor-parallel ways (each rank holds params/tp of every tensor); `grad_bytes`:
  /// bytes per gradient element (the weights' dtype).
  GradientBuckets(const ParallelSpec& par, double tp, double grad_bytes)
      : par_(par), tp_(tp), grad_bytes_(grad_bytes) {}

  /// The gradients of `params` parameters (before tensor-parallel sharding) are ready. Only
  /// the backward that ends an optimizer step reduces (`reduce`); earlier ones run no_sync.
  void add(GraphBuilder& g, double params, bool reduce) { fill(g, params, reduce, false); }
  /// End of backward: reduce what is left in the last, partly filled bucket.
  void flush(GraphBuilder& g, bool reduce) { fill(g, 0, reduce, true); }

 private:
  void fill(GraphBuilder& g, double params, bool reduce, bool flush);

  const ParallelSpec& par_;
  double tp_ = 1, grad_bytes_ = 4;
  double pending_ = 0;  // gradient bytes waiting for the next bucket
};

}  // namespace orrery::transformer

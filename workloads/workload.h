// What to run: a model, a phase and its sizes, numeric precision and framework.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sim/core/dtype.h"
#include "sim/core/op.h"
#include "workloads/collective.h"
#include "workloads/model.h"
#include "workloads/moe/routing.h"
#include "workloads/parallel.h"

namespace orrery {

enum class Phase { train, prefill, decode, block, microbench, collective };
enum class Optimizer { adamw, sgd, none };

/// One row of a micro-benchmark workload: a single kernel timed in a loop.
struct MicroOp {
  std::string kind;  // gemm | attention | layernorm | gelu | add | add_ | softmax | argmax
  GemmShape gemm;
  AttentionShape attn;
  double rows = 0, cols = 0;  // element-wise shapes
  Dtype dtype = Dtype::bf16;
  bool cold = false;  // operands streamed from device memory (distinct buffers per call)
};

struct WorkloadSpec {
  ModelSpec model;
  Phase phase = Phase::train;
  long batch = 1;
  long seq_len = 1024;
  long decode_tokens = 0;
  bool prefill_all_logits = false;    // prefill: a plain forward (`logits: all`); read_workload
                                      // defaults it by framework (eager: true, graph: false)
  Dtype precision = Dtype::bf16;      // compute precision (autocast dtype)
  Dtype weights = Dtype::fp32;        // dtype of stored weights; != precision means autocast casts
  Optimizer optimizer = Optimizer::adamw;
  Framework framework = Framework::eager;
  bool backward = false;              // block: forward + backward
  bool dropout = false;               // apply the model's dropout (training only)
  long iterations = 1;                // steps simulated back to back; the last one is reported
  std::vector<MicroOp> micro;         // phase microbench
  long repeat = 10;                   // microbench: calls per op (graph: graph replays)
  long graph_calls = 1;               // microbench, graph: calls captured in one graph
  CollectiveSpec collective;          // phase collective
  ParallelSpec parallel;              // how the work is spread over the system's devices
  long grad_accum = 1;                // train: micro-steps per optimizer step
  MoeRouting moe;                     // routing and expert placement (MoE models)
  /// Two core partitions (attention, feed-forward) whose streams overlap micro-batches (empty:
  /// every op on the whole device, micro-batch after micro-batch).
  std::vector<CorePartition> overlap;
  bool overlap_shared_cores = false;  // both streams on overlap[0] (the rest left to communication)
  long mtp_drafts = 0;                // decode: tokens drafted per step by the model's MTP modules
  double mtp_acceptance = 0;          // probability that a draft is accepted
};

[[nodiscard]] const char* phase_name(Phase p);
/// Tokens a decode step yields per sequence: 1 + a + a^2 + ... + a^drafts (a draft counts only
/// if every earlier one was accepted; Leviathan et al. 2023); 1 without multi-token prediction.
[[nodiscard]] double accepted_tokens_per_step(const WorkloadSpec& w);
[[nodiscard]] const ParamTable& mtp_params();
[[nodiscard]] const ParamTable& overlap_params();
[[nodiscard]] const ParamTable& core_partition_params();
[[nodiscard]] const ParamTable& workload_params();
[[nodiscard]] const ParamTable& micro_op_params();
/// `devices` is the system's device count (a collective's `group: all`).
[[nodiscard]] WorkloadSpec read_workload(const YAML::Node& node, const std::string& path,
                                         int devices = 1);

}  // namespace orrery

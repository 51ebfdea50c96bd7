// One operator of a workload graph: what it computes and moves, independent of hardware.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/comm.h"
#include "sim/core/dtype.h"

namespace orrery {

enum class OpKind {
  Gemm,       // matrix engine: (batched) GEMM
  Attention,  // fused attention (flash): matrix engine + softmax on the vector engine
  Vector,     // element-wise / normalisation / softmax / cast / optimizer update
  Host,       // host-only work (autograd engine start, Python bookkeeping)
  Comm,       // a collective or point-to-point transfer on the network (NCCL-style)
};
enum class Pass { Forward, Backward, Optimizer, Other };
/// Host-only work whose duration comes from the host spec.
enum class HostWork { None, BackwardStart, AutogradNode, Bookkeeping };

[[nodiscard]] const char* op_kind_name(OpKind k);
[[nodiscard]] const char* pass_name(Pass p);

/// How the host issues ops: eagerly (Python, one launch per kernel) or by replaying a captured
/// graph (CUDA graphs: kernels only, no framework costs).
enum class Framework { eager, graph };

struct GemmShape {
  double m = 0, n = 0, k = 0;
  double batch = 1;
  bool a_transposed = false;  // A is read as the transpose of a stored (K x M) tensor
  /// The row stride of A (K, or M when transposed) and of B and C (N) must be multiples of
  /// the alignment for vectorised (TMA) loads; M alone never matters.
  [[nodiscard]] bool aligned(int alignment) const;
};

struct AttentionShape {
  double batch = 1, heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  /// Key/value heads (grouped-query attention: each serves heads/kv_heads query heads and the
  /// kernel reads its K and V once for the group); 0: heads (multi-head attention).
  double kv_heads = 0;
  bool causal = true;
  bool backward = false;
  /// Scores the kernel computes: B*H*Sq*Skv, halved (for Sq == Skv) when causal.
  [[nodiscard]] double scores() const;
};

/// A transfer among ranks. Collectives use nccl-tests' size convention (all_reduce: the
/// buffer; all_gather: its output; reduce_scatter: its input). Pipeline sends/receives pair
/// up by (direction, tag).
struct CommOp {
  CommKind op = CommKind::AllReduce;  // all_reduce | all_gather | reduce_scatter | send | recv
  double bytes = 0;
  CommGroup group = CommGroup::Tensor;
  int tag = 0;            // pipeline: micro-batch (matching send and recv carry the same tag)
};

struct Op {
  std::string name;      // unique-ish readable name, e.g. "h3.mlp.fc1"
  std::string category;  // what kind of kernel: "gemm", "layernorm", "cast", "gelu", ...
  OpKind kind = OpKind::Vector;
  Pass pass = Pass::Forward;
  Dtype dtype = Dtype::bf16;
  int layer = -1;        // transformer layer, -1 outside the layers
  GemmShape gemm;        // kind == Gemm
  AttentionShape attn;   // kind == Attention
  double flops = 0;      // arithmetic work (matrix FLOPs for Gemm/Attention, vector FLOPs else)
  double bytes = 0;      // bytes read + written in device memory
  double blocks = 0;     // parallel thread blocks (0: enough to fill the device)
  int kernels = 1;       // kernel launches the host issues for this op
  int modules = 0;       // framework module calls (nn.Module.__call__) the host makes for it
  int nodes = 0;         // autograd nodes the engine runs for it (backward; views count too)
  HostWork host_work = HostWork::None;  // kind == Host: which host cost applies
  int host_units = 1;    // kind == Host: how many of them (e.g. Python ops of bookkeeping)
  int stream = 0;        // device stream; ops of one stream run in issue order
  bool sync = false;     // the host waits for this op to finish before issuing more
  bool cold = false;     // reads operands not touched recently (weights, KV cache): never
                         // served by an on-chip cache, whatever its size
  int iteration = 0;     // repeated steps (micro-benchmark loops, decode tokens)
  CommOp comm;           // kind == Comm
};

/// Index of an op in its graph or source: dense, in program (issue) order.
using OpId = size_t;

/// The operator graph: ops in program (issue) order, each with the ops it depends on (always
/// earlier ones). Dependencies are stored in compressed rows — one array of predecessor ids and
/// one offset per op — because an op's dependencies are all known when it is appended: a graph
/// of N ops and E dependencies is three flat arrays, built without per-edge allocations.
class OpGraph {
 public:
  /// Appends `op`; returns its id.
  OpId add(Op op) {
    ops_.push_back(std::move(op));
    offsets_.push_back(deps_.size());
    return ops_.size() - 1;
  }
  /// `to` (the op appended last) depends on the earlier op `from`.
  void add_dep(OpId from, OpId to);
  [[nodiscard]] size_t size() const { return ops_.size(); }
  [[nodiscard]] const Op& operator[](OpId id) const { return ops_[id]; }
  [[nodiscard]] Op& operator[](OpId id) { return ops_[id]; }
  /// The ops `id` depends on, as a [begin, end) range.
  [[nodiscard]] std::pair<const OpId*, const OpId*> deps(OpId id) const {
    return {deps_.data() + offsets_[id], deps_.data() + offsets_[id + 1]};
  }
  [[nodiscard]] size_t dep_count() const { return deps_.size(); }

 private:
  std::vector<Op> ops_;
  std::vector<size_t> offsets_{0};  // deps of op i: deps_[offsets_[i], offsets_[i + 1])
  std::vector<OpId> deps_;
};

}  // namespace orrery

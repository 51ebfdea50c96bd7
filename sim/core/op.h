// One operator of a workload graph: what it computes and moves, independent of hardware.
#pragma once
#include <cstddef>
#include <memory>
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
/// A vector op that reduces along each row of a (rows x row_len) tensor, by kernel family:
/// normalisation (LayerNorm, RMSNorm), softmax, selection (argmax, top-k). Its cost has a
/// per-row latency and a per-block streaming rate (hw/compute/vector_engine.h).
enum class RowReduce { none, norm, softmax, select };
/// Host-only work whose duration comes from the host spec.
enum class HostWork { None, BackwardStart, AutogradNode, Bookkeeping };

[[nodiscard]] const char* op_kind_name(OpKind k);
[[nodiscard]] const char* pass_name(Pass p);
[[nodiscard]] const char* row_reduce_name(RowReduce r);  // none, norm, softmax, select

/// How the host issues ops: eagerly (Python, one launch per kernel) or by replaying a captured
/// graph (CUDA graphs: kernels only, no framework costs).
enum class Framework { eager, graph };

struct GemmShape {
  double m = 0, n = 0, k = 0;
  double batch = 1;
  bool a_transposed = false;  // A is read as the transpose of a stored (K x M) tensor
  bool grouped = false;       // one grouped-GEMM kernel over `batch` experts (torch._grouped_mm)
  /// The row stride of A (K, or M when transposed) and of B and C (N) must be multiples of
  /// the alignment for vectorised (TMA) loads; M alone never matters.
  [[nodiscard]] bool aligned(int alignment) const;
};

/// Fused attention of `heads` query heads. head_dim is the query/key dim d_qk; the defaults of
/// the last three fields (0, 0, false) give multi-head attention with d_v = d_qk.
struct AttentionShape {
  double batch = 1, heads = 1, q_len = 1, kv_len = 1, head_dim = 64;
  bool causal = true;
  bool backward = false;
  bool masked = false;     // an explicit attn_mask: SDPA's memory-efficient kernel, not flash
  double kv_heads = 0;     // key/value heads, each shared by heads/kv_heads query heads (0: heads)
  double v_head_dim = 0;   // value and output dim per head (0: head_dim; MLA prefill 128 vs 192)
  bool v_in_k = false;     // V is the first v_head_dim columns of K, read once (MLA absorbed
                           // decode: K = the 576-dim latent cache, V = its 512-dim c_kv part)
  /// Scores the kernel computes: B*H*Sq*Skv, halved (for Sq == Skv) when causal.
  [[nodiscard]] double scores() const;
  [[nodiscard]] double kv_head_count() const { return kv_heads > 0 ? kv_heads : heads; }
  [[nodiscard]] double v_dim() const { return v_head_dim > 0 ? v_head_dim : head_dim; }
  /// Matrix FLOPs (dqk = head_dim, dv = v_dim()):
  ///   forward  2 * scores * (dqk + dv)            (S = Q K^T, O = P V)
  ///   backward 2 * scores * (3*dqk + 2*dv)        (S = Q K^T recomputed, dP = dO V^T,
  ///                                                dV = P^T dO, dQ = dS K, dK = dS^T Q)
  /// With dv = dqk: 4 * scores * dqk, x2.5 for backward (FlashAttention-2, Dao 2023, sec. 3).
  [[nodiscard]] double flops() const;
  /// Elements read and written in device memory, each tensor once:
  ///   forward  Q + O + K + V = B*Hq*Sq*(dqk + dv) + B*Hkv*Skv*(dqk + dv)  (V = 0 when v_in_k)
  ///   backward twice that (Q, O, dO, dQ, K, V, dK, dV).
  [[nodiscard]] double elements() const;
};

/// A transfer among ranks. Collectives use nccl-tests' size convention (all_reduce: the
/// buffer; all_gather: its output; reduce_scatter: its input). Pipeline sends/receives pair
/// up by (direction, tag).
struct CommOp {
  CommKind op = CommKind::AllReduce;  // all_reduce | all_gather | reduce_scatter | send | recv
  double bytes = 0;
  CommGroup group = CommGroup::Tensor;
  int tag = 0;            // pipeline: micro-batch (matching send and recv carry the same tag)
  /// all_to_all_v: the share of `bytes` the sender sends to each member of its group (by
  /// position; its own share stays local). Every sender of the group sends the same shares of
  /// its own bytes (tokens routed alike wherever they come from).
  std::shared_ptr<const std::vector<double>> shares;
  bool reverse = false;   // all_to_all_v: the transpose (a combine returning what was dispatched)
  /// all_to_all_v run by a fused MoE kernel (vector cores store into peers' memory) instead of
  /// the communication library's collective; its plane prices the kernel (Plane::fused).
  enum class Fused { no, dispatch, combine };
  Fused fused = Fused::no;
  /// all_to_all_v forwarded through one member per node (moe.a2a: hierarchical, DeepEP's
  /// normal kernels): a token crosses the scale-out plane once per distinct destination node
  /// and is forwarded inside that node on the scale-up plane (sim/run/node_forward.h). What the
  /// hub needs to count distinct nodes per token: the routing of one token.
  struct NodeRouting {
    double assignments = 1;  // rows per token in `bytes` (top_k): bytes / assignments = one row
    double experts = 1;      // routed experts E
    double top_k = 1;        // experts per token k
    double groups = 1;       // expert groups G (group-limited routing)
    double topk_groups = 1;  // groups per token M
  };
  std::shared_ptr<const NodeRouting> node_forward;  // null: a flat all_to_all_v
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
  RowReduce reduce = RowReduce::none;  // kind == Vector: reduces along rows (row_mapping: the thread group per row)
  double rows = 0;       // reduce != none: rows reduced (independent outputs)
  double row_len = 0;    // reduce != none: elements per row
  int kernels = 1;       // kernel launches the host issues for this op
  int modules = 0;       // framework module calls (nn.Module.__call__) the host makes for it
  int nodes = 0;         // autograd nodes the engine runs for it (backward; views count too)
  HostWork host_work = HostWork::None;  // kind == Host: which host cost applies
  int host_units = 1;    // kind == Host: how many of them (e.g. Python ops of bookkeeping)
  int stream = 0;        // device stream; ops of one stream run in issue order
  int partition = 0;     // cores it runs on: 0 the whole device, k the graph's partitions()[k-1]
  bool sync = false;     // the host waits for this op to finish before issuing more
  double footprint = 0;  // distinct bytes touched, when fewer than `bytes` (in-place ops); 0: bytes
  bool cold = false;     // reads operands not touched recently (weights, KV cache): never
                         // served by an on-chip cache, whatever its size
  int iteration = 0;     // repeated steps (micro-benchmark loops, decode tokens)
  CommOp comm;           // kind == Comm
};

/// A share of the device's cores that some ops run on while other ops run on another share
/// (CloudMatrix-Infer's decode: an attention stream on 16 cube + 32 vector cores, an MoE
/// stream on 8 + 16). Units are the device engines' units (cube cores, SMs, vector cores).
struct CorePartition {
  std::string name;
  double matrix_units = 0;
  double vector_units = 0;
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
  /// The core partitions the ops' `partition` refers to (index k - 1 for partition k).
  [[nodiscard]] const std::vector<CorePartition>& partitions() const { return partitions_; }
  void set_partitions(std::vector<CorePartition> p) { partitions_ = std::move(p); }

 private:
  std::vector<CorePartition> partitions_;
  std::vector<Op> ops_;
  std::vector<size_t> offsets_{0};  // deps of op i: deps_[offsets_[i], offsets_[i + 1])
  std::vector<OpId> deps_;
};

}  // namespace orrery

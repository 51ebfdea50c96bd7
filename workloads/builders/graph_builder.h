// Helpers to emit operators in program order into an OpGraph. Ops of one stream form a chain
// (each depends on the previous one), which is exactly the data order of an eager program.
#pragma once
#include <string>
#include <vector>

#include "sim/core/op.h"
#include "workloads/workload.h"

namespace orrery {

/// A GEMM C[M,N] = A[M,K] B[K,N] (x batch). Bytes: A and B read once, C written once.
[[nodiscard]] Op make_gemm(const std::string& name, double m, double n, double k, Dtype dt,
                           double batch = 1, bool a_transposed = false);
/// An element-wise style kernel over `elems` elements.
///   bytes = elems * bytes_per_elem (all reads and writes), flops = elems * flops_per_elem.
[[nodiscard]] Op make_vector(const std::string& name, const std::string& category, double elems,
                             double bytes_per_elem, double flops_per_elem, Dtype dt,
                             int kernels = 1);
/// `op` marked as one kernel reducing along each of `rows` rows of `len` elements (LayerNorm,
/// softmax, argmax: kernel family `f`); its cost gains the row model (row_reduction_time).
[[nodiscard]] Op row_reduce(Op op, RowReduce f, double rows, double len);
/// Fused (flash) attention, forward or backward (AttentionShape::elements and ::flops).
///   bytes forward  = (B*Hq*Sq*(dqk + dv) + B*Hkv*Skv*(dqk + dv)) * dtype (Q, O, K, V; V not
///                    again when it is part of K, as MLA's latent cache)
///   bytes backward = twice that (Q, O, dO, dQ, K, V, dK, dV)
///   multi-head attention (Hkv = Hq, dv = dqk = hd): B*H*hd*(2*Sq + 2*Skv), x2 backward
[[nodiscard]] Op make_attention(const std::string& name, const AttentionShape& a, Dtype dt);
/// Host-only work.
[[nodiscard]] Op make_host(const std::string& name, HostWork what, int units = 1);
/// A network transfer among ranks (see CommOp); one NCCL kernel launch.
[[nodiscard]] Op make_comm(const std::string& name, CommKind op, double bytes, CommGroup group,
                           int tag = 0);

/// Operators one run may simulate: about 300 bytes each, so 5 M is ~1.5 GB of the simulator's
/// own memory and tens of seconds (a 64-token GPT-2 XL decode has 43,520).
constexpr size_t kMaxOps = 5'000'000;
/// Throws a ConfigError naming the keys to change when `ops` is over the budget.
void check_op_budget(double ops);
/// The same check before anything is built, on a lower bound of the operators the workload
/// emits: at least 10 per layer per pass (norm, projections, attention, MLP, residual adds),
/// times every loop of the schedule:
///   ops >= 10 * layers/pp * passes * microbatches * grad_accum * iterations * decode_tokens
///   (passes: 2 for train, forward and backward; microbench: ops * repeat)
/// so that `layers: 1000000` or `grad_accum: 100000` stops at once with the key to change
/// instead of building operators for minutes.
void check_workload_size(const WorkloadSpec& w);

class GraphBuilder {
 public:
  /// Appends `op` (with the builder's current pass, layer and iteration) after the previous op.
  OpId add(Op op);
  void set_pass(Pass p) { pass_ = p; }
  void set_layer(int layer) { layer_ = layer; }
  void set_iteration(int it) { iteration_ = it; }
  /// Appends `op` on side stream `stream` (e.g. NCCL's): it waits for the last op of the main
  /// chain and for the previous op of its stream, but the main chain does not wait for it.
  OpId add_side(Op op, int stream);
  /// The next op added to the main chain also waits for every side op issued so far.
  void join_side();
  /// Chains: in-order sequences of ops, each on its own device stream and core partition (two
  /// micro-batches overlapping on split cores). Makes add() append to chain `chain` (0: the
  /// main chain, stream 0, whole device) after that chain's previous op; the next op also waits
  /// for `after` (ops of other chains whose data it needs).
  void use_chain(int chain, int stream, int partition, const std::vector<OpId>& after = {});
  /// The op added last on the current chain (-1: none yet).
  [[nodiscard]] long last() const { return last_; }
  /// Declares the core partitions the ops' `partition` refers to.
  void set_partitions(std::vector<CorePartition> p) { graph_.set_partitions(std::move(p)); }
  /// Marks the last op as synchronising (the host waits for it).
  void sync_last();
  [[nodiscard]] OpGraph take() { return std::move(graph_); }
  [[nodiscard]] const OpGraph& graph() const { return graph_; }

 private:
  OpGraph graph_;
  Pass pass_ = Pass::Forward;
  int layer_ = -1;
  int iteration_ = 0;
  long last_ = -1;                  // the current chain's last op
  struct Chain {
    long last = -1;
    int stream = 0;
    int partition = 0;
  };
  std::vector<Chain> chains_{Chain{}};
  size_t chain_ = 0;
  std::vector<long> side_last_;     // per side stream
  std::vector<OpId> pending_side_;  // side ops not yet joined
  std::vector<OpId> join_;          // side ops the next main op must wait for
};

}  // namespace orrery

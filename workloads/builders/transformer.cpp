#include "workloads/builders/transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "workloads/builders/graph_builder.h"
#include "workloads/builders/microbench.h"

namespace orrery {

Numerics numerics_of(const WorkloadSpec& w) {
  Numerics n;
  n.matmul = w.precision;
  n.weights = w.weights;
  const bool narrow = w.precision == Dtype::fp8 || w.precision == Dtype::int8;
  n.act = narrow ? Dtype::bf16 : (w.precision == Dtype::tf32 ? Dtype::fp32 : w.precision);
  // torch.autocast: weights stay in their dtype and are cast per use; norms, embeddings and the
  // residual stream stay in the weights' dtype.
  n.autocast = dtype_bytes(w.weights) != dtype_bytes(n.act) ||
               (w.weights != w.precision && w.precision != Dtype::tf32 && !narrow);
  n.residual = n.autocast ? w.weights : n.act;
  return n;
}

namespace {

/// A forward op with the ops autograd runs for it in the backward pass.
struct Step {
  Op fwd;
  std::vector<Op> bwd;
};

struct Dims {
  double B, S, T, d, f, h, hd, V;
};

/// Emits one model's ops. Byte counts per element use the Numerics dtypes; each op's equation
/// is in docs/models.md ("How a transformer becomes kernels").
class TransformerProgram {
 public:
  TransformerProgram(const WorkloadSpec& w, GraphBuilder& g, int stage)
      : w_(w), m_(w.model), n_(numerics_of(w)), g_(g), par_(w.parallel), stage_(stage) {
    rb_ = dtype_bytes(n_.residual);
    ab_ = dtype_bytes(n_.act);
    wb_ = dtype_bytes(n_.weights);
    tp_ = static_cast<double>(par_.tp);
    const auto range = stage_layers(m_.layers, par_.pp, stage);
    l0_ = range.first;
    l1_ = range.second;
  }

  void train_step(int it);
  void block_step(int it);
  void prefill(int it);
  void decode(int it);

 private:
  Dims dims(double batch, double tokens_per_seq) const {
    return {batch, tokens_per_seq, batch * tokens_per_seq, double(m_.hidden), double(m_.ffn),
            double(m_.heads), m_.head_dim(), double(m_.vocab)};
  }
  // ---- building blocks, each returning Steps (forward op + its backward ops) ----
  void linear(std::vector<Step>& p, const std::string& name, double T, double in, double out,
              bool bias, bool cast_input, bool cast_weight) const;
  Step layernorm(const std::string& name, double T, double d) const;
  void activation(std::vector<Step>& p, const std::string& name, double elems) const;
  Step residual_add(const std::string& name, double T, double d, int kernels) const;
  Step dropout(const std::string& name, double elems) const;
  Step copy(const std::string& name, double elems, double bytes_per_elem) const;
  std::vector<Step> layer(int l, const Dims& d, bool first_forward, double kv_len,
                          bool decode) const;
  std::vector<Step> embedding(const Dims& d) const;
  std::vector<Step> head(const Dims& d, bool loss, bool first_forward) const;
  std::vector<Step> optimizer_ops() const;
  // ---- parallelism: Megatron's conjugate operators around a tensor-parallel region ----
  /// "f": forward identity (all-gather with sp), backward all-reduce (reduce-scatter with sp).
  void enter_tp(std::vector<Step>& p, const std::string& name, double T, double d) const;
  /// "g": forward all-reduce (reduce-scatter with sp), backward identity (all-gather with sp).
  void leave_tp(std::vector<Step>& p, const std::string& name, double T, double d, double bytes) const;
  void emit_forward(const std::vector<Step>& p, int layer);
  void emit_backward(const std::vector<Step>& p, int layer);
  /// Backward of the stage with DDP gradient buckets issued on the NCCL stream as they fill.
  void stage_backward(const std::vector<Step>& emb, const std::vector<std::vector<Step>>& layers,
                      const std::vector<Step>& hd, bool reduce_grads);
  void add_gradients(double params, bool reduce_grads, bool flush);
  void bookkeeping(double batch);
  [[nodiscard]] bool first_stage() const { return stage_ == 0; }
  [[nodiscard]] bool last_stage() const { return stage_ == par_.pp - 1; }
  [[nodiscard]] bool sp() const { return par_.sp; }
  /// Parameters this pipeline stage holds (before tensor-parallel sharding).
  [[nodiscard]] double stage_params() const;
  [[nodiscard]] int tag(int it, long a, int j) const {
    return static_cast<int>((it * w_.grad_accum + a) * par_.microbatches + j);
  }
  [[nodiscard]] bool training() const { return w_.phase == Phase::train; }
  /// Train, prefill and decode run a Hugging Face *ForCausalLM model; block runs one bare block.
  [[nodiscard]] bool hf_model() const { return w_.phase != Phase::block; }

  const WorkloadSpec& w_;
  const ModelSpec& m_;
  Numerics n_;
  GraphBuilder& g_;
  const ParallelSpec& par_;
  int stage_ = 0;
  int l0_ = 0, l1_ = 0;      // layers [l0_, l1_) of this stage
  double tp_ = 1;
  double rb_ = 4, ab_ = 2, wb_ = 4;
  double bucket_ = 0;        // gradient bytes waiting for the next DDP bucket
};

void TransformerProgram::enter_tp(std::vector<Step>& p, const std::string& name, double T,
                                  double d) const {
  if (par_.tp == 1) return;
  const double bytes = T * d * ab_;
  if (sp()) {
    p.push_back({make_comm(name + ".tp_all_gather", "all_gather", bytes, CommGroup::Tensor),
                 {make_comm(name + ".tp_reduce_scatter.bwd", "reduce_scatter", bytes, CommGroup::Tensor)}});
  } else {
    p.push_back({Op{}, {make_comm(name + ".tp_all_reduce.bwd", "all_reduce", bytes, CommGroup::Tensor)}});
  }
}

void TransformerProgram::leave_tp(std::vector<Step>& p, const std::string& name, double T,
                                  double d, double bytes_per_elem) const {
  if (par_.tp == 1) return;
  const double bytes = T * d * bytes_per_elem;
  if (sp()) {
    p.push_back({make_comm(name + ".tp_reduce_scatter", "reduce_scatter", bytes, CommGroup::Tensor),
                 {make_comm(name + ".tp_all_gather.bwd", "all_gather", bytes, CommGroup::Tensor)}});
  } else {
    p.push_back({make_comm(name + ".tp_all_reduce", "all_reduce", bytes, CommGroup::Tensor), {}});
  }
}

double TransformerProgram::stage_params() const {
  return m_.stage_params(l1_ - l0_, first_stage(), last_stage());
}

Op with_modules(Op op, int modules) {
  op.modules = modules;
  return op;
}

/// A backward op and the autograd nodes the engine runs to produce it (its own node, the view
/// nodes in front of it, AccumulateGrad for the parameters it updates).
Op with_nodes(Op op, int nodes) {
  op.nodes = nodes;
  return op;
}

/// Marks an op that streams weights or the KV cache from device memory.
Op cold(Op op) {
  op.cold = true;
  return op;
}

void TransformerProgram::linear(std::vector<Step>& p, const std::string& name, double T,
                                double in, double out, bool bias, bool cast_input,
                                bool cast_weight) const {
  const Dtype mm = n_.matmul;
  if (n_.autocast && cast_input) {
    p.push_back({make_vector(name + ".cast_in", "cast", T * in, rb_ + ab_, 1, n_.act),
                 {with_nodes(make_vector(name + ".cast_in_grad", "cast", T * in, ab_ + rb_, 1, n_.act), 1)}});
  }
  if (n_.autocast && cast_weight) {
    p.push_back({cold(make_vector(name + ".cast_w", "cast", in * out, wb_ + ab_, 1, n_.act)),
                 {with_nodes(make_vector(name + ".cast_w_grad", "cast", in * out, ab_ + wb_, 1, n_.act), 2)}});
    if (bias)
      p.push_back({cold(make_vector(name + ".cast_b", "cast", out, wb_ + ab_, 1, n_.act)),
                   {with_nodes(make_vector(name + ".cast_b_grad", "cast", out, ab_ + wb_, 1, n_.act), 2)}});
  }
  Step s{with_modules(cold(make_gemm(name, T, out, in, mm)), 1), {}};
  // AddmmBackward with the input/output view nodes around it; without autocast the weight
  // and bias AccumulateGrad nodes run here too.
  const int accumulate = n_.autocast ? 0 : 1;
  s.bwd.push_back(with_nodes(cold(make_gemm(name + ".dX", T, in, out, mm)), 3));
  // dW = dY^T X: A is the transpose of the stored dY (row stride = out).
  s.bwd.push_back(with_nodes(make_gemm(name + ".dW", out, in, T, mm, 1, true), accumulate));
  if (bias)
    s.bwd.push_back(with_nodes(make_vector(name + ".db", "reduce", T * out, ab_, 1, n_.act), accumulate));
  p.push_back(std::move(s));
}

Step TransformerProgram::layernorm(const std::string& name, double T, double d) const {
  // Forward reads the row twice (statistics, then normalise) and writes once.
  Step s{with_modules(make_vector(name, "layernorm", T * d, 3 * rb_, 8, n_.residual), 1), {}};
  // Backward: input gradient (reads dy, x; writes dx) and gamma/beta gradients (2 kernels).
  s.bwd.push_back(with_nodes(
      make_vector(name + ".bwd", "layernorm_bwd", T * d, 5 * rb_, 12, n_.residual, 2), 3));
  return s;
}

void TransformerProgram::activation(std::vector<Step>& p, const std::string& name,
                                    double elems) const {
  if (m_.activation == Activation::gelu_new) {
    // HF NewGELUActivation: 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))) as 8 eager kernels:
    // 10 element reads and 8 writes; autograd runs ~13 kernels for its backward.
    p.push_back({with_modules(make_vector(name, "gelu", elems, 18 * ab_, 12, n_.act, 8), 1),
                 {with_nodes(make_vector(name + ".bwd", "gelu_bwd", elems, 39 * ab_, 20, n_.act, 13), 8)}});
  } else {
    p.push_back({with_modules(make_vector(name, "gelu", elems, 2 * ab_, 12, n_.act), 1),
                 {with_nodes(make_vector(name + ".bwd", "gelu_bwd", elems, 3 * ab_, 20, n_.act), 1)}});
  }
}

Step TransformerProgram::residual_add(const std::string& name, double T, double d,
                                      int kernels) const {
  // residual (fp32 under autocast) + branch output (act dtype) -> residual dtype.
  Step s{make_vector(name, "add", T * d * kernels, 2 * rb_ + ab_, 1, n_.residual, kernels), {}};
  // Backward: the branch's gradient is cast to the act dtype; the residual's gradient is
  // accumulated with the one from the norm that also read it.
  const int casts = rb_ != ab_ ? 1 : 0;
  s.bwd.push_back(with_nodes(make_vector(name + ".grad", "add", T * d,
                                         casts * (rb_ + ab_) + kernels * 3 * rb_, 1,
                                         n_.residual, casts + kernels),
                             casts + kernels));
  return s;
}

Step TransformerProgram::dropout(const std::string& name, double elems) const {
  // Reads x, writes y and a one-byte mask; backward multiplies by the mask.
  return {with_modules(make_vector(name, "dropout", elems, 2 * ab_ + 1, 3, n_.act), 1),
          {with_nodes(make_vector(name + ".bwd", "dropout_bwd", elems, 2 * ab_ + 1, 2, n_.act), 1)}};
}

Step TransformerProgram::copy(const std::string& name, double elems, double bytes_per_elem) const {
  // transpose + contiguous + view: three autograd nodes, one copy kernel.
  return {make_vector(name, "copy", elems, bytes_per_elem, 0, n_.act),
          {with_nodes(make_vector(name + ".bwd", "copy", elems, bytes_per_elem, 0, n_.act), 3)}};
}

std::vector<Step> TransformerProgram::layer(int l, const Dims& x, bool first_forward,
                                            double kv_len, bool decode) const {
  const std::string p = fmt::format("h{}", l);
  // Tensor parallel (Megatron): qkv and fc1 split by columns, proj and fc2 by rows; each rank
  // has heads/tp heads and ffn/tp channels. Sequence parallel: norms, dropout and residual
  // adds see T/tp tokens.
  const double T = x.T, d = x.d, f = x.f / tp_;
  const double Tn = sp() ? T / tp_ : T;
  const bool drop = training() && w_.dropout && m_.dropout > 0;
  std::vector<Step> prog;
  prog.push_back(layernorm(p + ".ln_1", Tn, d));
  // Hugging Face also calls the block, attention-output-dropout, MLP and MLP-dropout modules
  // (dropout modules are called even when they are identities in eval mode).
  const size_t block_start = prog.size() - 1;
  enter_tp(prog, p + ".attn", T, d);
  linear(prog, p + ".attn.qkv", T, d, 3 * d / tp_, true, true, first_forward);
  if (m_.rotary_fraction > 0) {
    // NeoX rotary on q and k: rotate_half (cat), two muls, add, cat with the pass-through part.
    const double rot = T * d / tp_ * m_.rotary_fraction * 2;
    prog.push_back({make_vector(p + ".attn.rotary", "rotary", rot, 10 * ab_, 3, n_.act, 10),
                    {with_nodes(make_vector(p + ".attn.rotary.bwd", "rotary", rot, 10 * ab_, 3, n_.act, 10), 10)}});
  }
  if (decode) {
    // KV cache update. eager (HF DynamicCache): torch.cat copies the whole cache for K and V.
    // graph (static cache): writes only the new token in place.
    const double per = x.B * d / tp_ * ab_;
    const double bytes = w_.framework == Framework::eager ? per * (kv_len - 1 + kv_len) : 2 * per;
    Op kv = cold(make_vector(p + ".attn.kv_update", "kv_cache", 2, bytes, 0, n_.act, 2));
    prog.push_back({kv, {}});
  }
  AttentionShape a;
  a.batch = x.B;
  a.heads = x.h / tp_;
  a.head_dim = x.hd;
  a.q_len = decode ? 1 : x.S;
  a.kv_len = decode ? kv_len : x.S;
  a.causal = !decode;
  Step attn{with_modules(make_attention(p + ".attn.sdpa", a, n_.matmul), 1), {}};
  attn.fwd.cold = decode;  // decode streams the whole KV cache
  a.backward = true;
  // The attention node plus split, view and transpose nodes of q, k and v.
  attn.bwd.push_back(with_nodes(make_attention(p + ".attn.sdpa.bwd", a, n_.matmul), 8));
  prog.push_back(std::move(attn));
  prog.push_back(copy(p + ".attn.merge_heads", T * d / tp_, 2 * ab_));
  linear(prog, p + ".attn.proj", T, d / tp_, d, true, false, first_forward);
  leave_tp(prog, p + ".attn", T, d, ab_);
  if (drop) prog.push_back(dropout(p + ".attn.dropout", Tn * d));
  if (!m_.parallel_residual) prog.push_back(residual_add(p + ".add_1", Tn, d, 1));
  prog.push_back(layernorm(p + ".ln_2", Tn, d));
  enter_tp(prog, p + ".mlp", T, d);
  linear(prog, p + ".mlp.fc1", T, d, f, true, true, first_forward);
  activation(prog, p + ".mlp.act", T * f);
  linear(prog, p + ".mlp.fc2", T, f, d, true, false, first_forward);
  leave_tp(prog, p + ".mlp", T, d, ab_);
  if (drop) prog.push_back(dropout(p + ".mlp.dropout", Tn * d));
  if (hf_model()) prog[block_start].fwd.modules += drop ? 2 : 4;
  // GPT-2: second residual add. NeoX parallel residual: x + attn + mlp (two adds).
  prog.push_back(residual_add(p + ".add_2", Tn, d, m_.parallel_residual ? 2 : 1));
  return prog;
}

std::vector<Step> TransformerProgram::embedding(const Dims& x) const {
  std::vector<Step> p;
  const double T = x.T, d = x.d;
  // Gather rows of the token table; backward zero-fills the table's gradient and index-adds
  // (embedding_dense_backward: about 4 kernels).
  // Module calls: the LM model, the base model, the token embedding (and the embedding
  // dropout, an identity outside training).
  const int model_modules = training() && w_.dropout && m_.dropout > 0 ? 3 : 4;
  p.push_back({with_modules(cold(make_vector("wte", "embedding", T * d, 2 * rb_, 0, n_.residual)), model_modules),
               {with_nodes(make_vector("wte.bwd", "embedding_bwd", x.V / tp_ * d + 3 * T * d, wb_, 1,
                                       n_.residual, 4), 2)}});
  // Vocab-parallel embedding: each rank looks up its rows; the partial sums are reduced.
  leave_tp(p, "wte", T, d, rb_);
  if (m_.learned_positions) {
    const double P = static_cast<double>(m_.max_positions);
    p.push_back({with_modules(make_vector("wpe", "embedding", T * d, 2 * rb_, 0, n_.residual), 1),
                 {with_nodes(make_vector("wpe.bwd", "embedding_bwd", P * d + 3 * T * d, wb_, 1,
                                         n_.residual, 4), 2)}});
    p.push_back({make_vector("embed.add", "add", T * d, 3 * rb_, 1, n_.residual), {}});
  }
  if (training() && w_.dropout && m_.dropout > 0) {
    Step s = dropout("embed.dropout", T * d);
    p.push_back(std::move(s));
  }
  return p;
}

std::vector<Step> TransformerProgram::head(const Dims& x, bool loss, bool first_forward) const {
  std::vector<Step> p;
  p.push_back(layernorm("ln_f", sp() ? x.T / tp_ : x.T, x.d));
  // Training computes logits for every token; generation only for the last one per sequence.
  const double rows = loss ? x.T : x.B;
  // Tensor parallel: the LM head is split by vocabulary columns (V/tp logits per rank).
  const double V = x.V / tp_;
  enter_tp(p, "lm_head", x.T, x.d);
  linear(p, "lm_head", rows, x.d, V, false, true, first_forward);
  // logits.float() (HF upcasts before the loss / sampling).
  p.push_back({make_vector("logits.float", "cast", rows * V, ab_ + 4, 1, Dtype::fp32),
               {with_nodes(make_vector("logits.float.bwd", "cast", rows * V, 4 + ab_, 1, n_.act), 1)}});
  if (par_.tp > 1) {
    if (loss) {
      // Vocab-parallel cross-entropy: all-reduce the row max, the sum of exponentials and the
      // target logit (fp32, one value per token each).
      for (const char* what : {"max", "sum_exp", "target"})
        p.push_back({make_comm(fmt::format("loss.tp_all_reduce_{}", what), "all_reduce", rows * 4,
                               CommGroup::Tensor), {}});
    } else {
      // Sampling needs the whole vocabulary row: gather the logits.
      p.push_back({make_comm("logits.tp_all_gather", "all_gather", rows * x.V * 4, CommGroup::Tensor), {}});
    }
  }
  if (loss) {
    // cross_entropy = log_softmax (two passes over the row, one write) + nll_loss.
    p.push_back({make_vector("loss.log_softmax", "softmax", rows * V, 12, 5, Dtype::fp32),
                 {with_nodes(make_vector("loss.log_softmax.bwd", "softmax_bwd", rows * V, 12, 3,
                                         Dtype::fp32), 1)}});
    p.push_back({make_vector("loss.nll", "loss", rows, 8, 2, Dtype::fp32, 4),
                 {with_nodes(make_vector("loss.nll.bwd", "loss", rows * V, 4, 1, Dtype::fp32, 2), 3)}});
    if (m_.tied_embeddings && first_stage()) {
      // The tied table gets gradients from the LM head and the embedding: one accumulation.
      p.front().bwd.push_back(
          make_vector("wte.grad_accumulate", "add", V * x.d, 3 * wb_, 1, n_.weights));
    }
  }
  return p;
}

std::vector<Step> TransformerProgram::optimizer_ops() const {
  std::vector<Step> p;
  // This stage's parameters, split over tensor-parallel ranks and, with ZeRO-1, over replicas.
  const double params = stage_params() / tp_ / (par_.zero == 1 ? par_.dp : 1);
  const double tensors = static_cast<double>(l1_ - l0_) * 12 + 4;
  // PyTorch multi_tensor_apply: up to 320 blocks of 65,536 elements or 36 tensors per launch.
  const int launches = static_cast<int>(std::max(std::ceil(tensors / 36.0),
                                                 std::ceil(params / (320.0 * 65536.0))));
  if (w_.optimizer == Optimizer::adamw) {
    // Fused AdamW: reads param, grad, exp_avg, exp_avg_sq (fp32); writes param and both moments.
    p.push_back({cold(make_vector("optimizer.adamw", "optimizer", params, 3 * wb_ + 16, 12,
                             Dtype::fp32, launches)), {}});
  } else if (w_.optimizer == Optimizer::sgd) {
    // SGD with momentum: reads param, grad, momentum; writes param and momentum.
    p.push_back({cold(make_vector("optimizer.sgd", "optimizer", params, 3 * wb_ + 8, 4, Dtype::fp32,
                                  launches)), {}});
  }
  return p;
}

void TransformerProgram::emit_forward(const std::vector<Step>& p, int layer) {
  g_.set_layer(layer);
  for (const auto& s : p)
    if (!s.fwd.name.empty()) g_.add(s.fwd);  // a backward-only step has no forward op
}

void TransformerProgram::add_gradients(double params, bool reduce_grads, bool flush) {
  // PyTorch DDP: gradients (in the weights' dtype) fill buckets of bucket_cap_mb in backward
  // order; a full bucket is all-reduced on the NCCL stream while backward goes on
  // (ZeRO-1: reduce-scattered, each replica keeping the shard it updates).
  if (!reduce_grads || par_.dp == 1) return;
  bucket_ += params / tp_ * wb_;
  if (bucket_ <= 0 || (bucket_ < par_.bucket_bytes && !flush)) return;
  g_.add_side(make_comm("dp.grad_bucket", par_.zero == 1 ? "reduce_scatter" : "all_reduce",
                        bucket_, CommGroup::Data), 1);
  bucket_ = 0;
}

void TransformerProgram::stage_backward(const std::vector<Step>& emb,
                                        const std::vector<std::vector<Step>>& layers,
                                        const std::vector<Step>& hd, bool reduce_grads) {
  const double d = double(m_.hidden), V = double(m_.vocab);
  if (last_stage()) {
    emit_backward(hd, -1);
    add_gradients(2 * d + ((!m_.tied_embeddings || !first_stage()) ? V * d : 0.0), reduce_grads, false);
  }
  const double f = double(m_.ffn);
  for (int l = l1_ - 1; l >= l0_; --l) {
    emit_backward(layers[static_cast<size_t>(l - l0_)], l);
    // DDP fills buckets tensor by tensor in backward order: fc2, fc1, proj, qkv (with their
    // biases), then the two norms.
    for (double t : {f * d + d, d * f + f, d * d + d, 3 * d * d + 3 * d, 4 * d})
      add_gradients(t, reduce_grads, false);
  }
  if (first_stage()) {
    emit_backward(emb, -1);
    add_gradients(V * d + (m_.learned_positions ? double(m_.max_positions) * d : 0.0), reduce_grads, false);
  }
  add_gradients(0, reduce_grads, true);
}

void TransformerProgram::emit_backward(const std::vector<Step>& p, int layer) {
  g_.set_layer(layer);
  for (auto it = p.rbegin(); it != p.rend(); ++it)
    for (const auto& op : it->bwd) g_.add(op);
}

void TransformerProgram::bookkeeping(double batch) {
  // HF generate per token: argmax, finished-sequence masking, cat of input_ids and attention
  // mask, cache position and stopping criteria: about 12 small kernels, then a host sync
  // (`unfinished_sequences.max() == 0`).
  g_.set_layer(-1);
  g_.add(make_vector("generate.bookkeeping", "bookkeeping", batch * 16, 8, 1, Dtype::fp32, 12));
  g_.sync_last();
}

void TransformerProgram::train_step(int it) {
  g_.set_iteration(it);
  const int m = par_.microbatches;
  const Dims x = dims(static_cast<double>(w_.batch) / m, static_cast<double>(w_.seq_len));
  std::vector<Step> emb, hd;
  std::vector<std::vector<Step>> layers;
  if (first_stage()) emb = embedding(x);
  for (int l = l0_; l < l1_; ++l) layers.push_back(layer(l, x, true, 0, false));
  if (last_stage()) hd = head(x, true, true);
  // Activations (and their gradients) cross a stage boundary in the residual dtype.
  const double boundary = x.T * x.d * rb_ / (sp() ? tp_ : 1.0);
  for (long a = 0; a < w_.grad_accum; ++a) {
    // Gradients are reduced once, in the last accumulation step (DDP no_sync before it).
    const bool last_accum = a + 1 == w_.grad_accum;
    const auto forward = [&](int j) {
      g_.set_pass(Pass::Forward);
      if (!first_stage())
        g_.add(make_comm("pp.recv_activations", "recv", boundary, CommGroup::PipelinePrev, tag(it, a, j)));
      emit_forward(emb, -1);
      for (int l = l0_; l < l1_; ++l) emit_forward(layers[static_cast<size_t>(l - l0_)], l);
      emit_forward(hd, -1);
      if (!last_stage())
        g_.add_side(make_comm("pp.send_activations", "send", boundary, CommGroup::PipelineNext, tag(it, a, j)), 2);
    };
    const auto backward = [&](int j) {
      g_.set_pass(Pass::Backward);
      if (!last_stage())
        g_.add(make_comm("pp.recv_gradients", "recv", boundary, CommGroup::PipelineNext, tag(it, a, j)));
      g_.add(make_host("autograd.start", HostWork::BackwardStart));
      stage_backward(emb, layers, hd, last_accum && j == m - 1);
      if (!first_stage())
        g_.add_side(make_comm("pp.send_gradients", "send", boundary, CommGroup::PipelinePrev, tag(it, a, j)), 2);
    };
    // 1F1B (PipeDream-flush, as Megatron-LM): stage s runs pp - s - 1 warm-up forwards, then
    // alternates one forward and one backward, then drains the remaining backwards.
    const int warmup = std::min(par_.pp - stage_ - 1, m);
    for (int j = 0; j < warmup; ++j) forward(j);
    for (int j = warmup; j < m; ++j) {
      forward(j);
      backward(j - warmup);
    }
    for (int j = m - warmup; j < m; ++j) backward(j);
  }
  g_.set_pass(Pass::Optimizer);
  g_.set_layer(-1);
  g_.join_side();  // the optimizer needs every reduced gradient
  emit_forward(optimizer_ops(), -1);
  if (par_.zero == 1 && par_.dp > 1)
    g_.add(make_comm("dp.weights_all_gather", "all_gather", stage_params() / tp_ * wb_, CommGroup::Data));
  // loss.item(): the host waits for the step to finish.
  g_.sync_last();
  g_.set_pass(Pass::Forward);
}

void TransformerProgram::block_step(int it) {
  g_.set_iteration(it);
  const Dims x = dims(static_cast<double>(w_.batch), static_cast<double>(w_.seq_len));
  g_.set_pass(Pass::Forward);
  const auto blk = layer(0, x, true, 0, false);
  emit_forward(blk, 0);
  if (w_.backward) {
    // y.float().sum(): one reduction; its backward is an expand (a node, no kernel).
    g_.add(make_vector("sum", "reduce", x.T * x.d, rb_, 1, n_.residual));
    g_.set_pass(Pass::Backward);
    g_.add(make_host("autograd.start", HostWork::BackwardStart));
    g_.add(make_host("sum.bwd", HostWork::AutogradNode));
    emit_backward(blk, 0);
    g_.set_pass(Pass::Forward);
  }
  g_.sync_last();
}

void TransformerProgram::prefill(int it) {
  g_.set_iteration(it);
  const int m = par_.microbatches;
  const Dims x = dims(static_cast<double>(w_.batch) / m, static_cast<double>(w_.seq_len));
  g_.set_pass(Pass::Forward);
  const double boundary = x.T * x.d * rb_ / (sp() ? tp_ : 1.0);
  for (int j = 0; j < m; ++j) {
    if (!first_stage())
      g_.add(make_comm("pp.recv_activations", "recv", boundary, CommGroup::PipelinePrev, tag(it, 0, j)));
    if (first_stage()) emit_forward(embedding(x), -1);
    for (int l = l0_; l < l1_; ++l) emit_forward(layer(l, x, true, 0, false), l);
    if (!last_stage())
      g_.add_side(make_comm("pp.send_activations", "send", boundary, CommGroup::PipelineNext, tag(it, 0, j)), 2);
    if (last_stage()) {
      emit_forward(head(x, false, true), -1);
      bookkeeping(x.B);
    }
  }
  g_.join_side();
}

void TransformerProgram::decode(int it) {
  g_.set_iteration(it);
  g_.set_pass(Pass::Forward);
  // One token per sequence per step; weights were cast at prefill and autocast caches them.
  // Pipeline parallel: micro-batches of sequences flow through the stages; the last stage
  // sends each micro-batch's new token ids (int64) back to the first.
  const int m = par_.microbatches;
  const Dims x = dims(static_cast<double>(w_.batch) / m, 1);
  const double boundary = x.T * x.d * rb_ / (sp() ? tp_ : 1.0);
  const bool piped = par_.pp > 1;
  for (long t = 0; t < w_.decode_tokens; ++t) {
    const double kv = static_cast<double>(w_.seq_len + t + 1);
    for (int j = 0; j < m; ++j) {
      const long n = it * w_.decode_tokens + t;  // token steps so far, over iterations
      const int k = static_cast<int>(n * m + j), prev = static_cast<int>((n - 1) * m + j);
      if (piped && first_stage() && (t > 0 || it > 0))
        g_.add(make_comm("pp.recv_tokens", "recv", x.B * 8, CommGroup::PipelinePrev, prev));
      if (piped && !first_stage())
        g_.add(make_comm("pp.recv_activations", "recv", boundary, CommGroup::PipelinePrev, k));
      if (first_stage()) emit_forward(embedding(x), -1);
      for (int l = l0_; l < l1_; ++l) emit_forward(layer(l, x, false, kv, true), l);
      if (!last_stage())
        g_.add_side(make_comm("pp.send_activations", "send", boundary, CommGroup::PipelineNext, k), 2);
      if (last_stage()) {
        emit_forward(head(x, false, false), -1);
        bookkeeping(x.B);
        if (piped) g_.add_side(make_comm("pp.send_tokens", "send", x.B * 8, CommGroup::PipelineNext, k), 2);
      }
    }
  }
  g_.join_side();
}

}  // namespace

std::pair<int, int> stage_layers(long layers, int pp, int stage) {
  const long base = layers / pp, extra = layers % pp;
  const long first = stage * base + std::min<long>(stage, extra);
  return {static_cast<int>(first), static_cast<int>(first + base + (stage < extra ? 1 : 0))};
}

OpGraph build_graph(const WorkloadSpec& w, int stage) {
  if (w.phase == Phase::microbench) return build_microbench(w);
  GraphBuilder g;
  TransformerProgram prog(w, g, stage);
  for (int it = 0; it < w.iterations; ++it) {
    switch (w.phase) {
      case Phase::train: prog.train_step(it); break;
      case Phase::block: prog.block_step(it); break;
      case Phase::prefill: prog.prefill(it); break;
      case Phase::decode: prog.decode(it); break;
      case Phase::microbench:
      case Phase::collective: break;
    }
  }
  return g.take();
}

}  // namespace orrery

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
  TransformerProgram(const WorkloadSpec& w, GraphBuilder& g)
      : w_(w), m_(w.model), n_(numerics_of(w)), g_(g) {
    rb_ = dtype_bytes(n_.residual);
    ab_ = dtype_bytes(n_.act);
    wb_ = dtype_bytes(n_.weights);
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
  void emit_forward(const std::vector<Step>& p, int layer);
  void emit_backward(const std::vector<Step>& p, int layer);
  void bookkeeping(double batch);
  [[nodiscard]] bool training() const { return w_.phase == Phase::train; }
  /// Train, prefill and decode run a Hugging Face *ForCausalLM model; block runs one bare block.
  [[nodiscard]] bool hf_model() const { return w_.phase != Phase::block; }

  const WorkloadSpec& w_;
  const ModelSpec& m_;
  Numerics n_;
  GraphBuilder& g_;
  double rb_ = 4, ab_ = 2, wb_ = 4;
};

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
  const double T = x.T, d = x.d, f = x.f;
  const bool drop = training() && w_.dropout && m_.dropout > 0;
  std::vector<Step> prog;
  prog.push_back(layernorm(p + ".ln_1", T, d));
  // Hugging Face also calls the block, attention-output-dropout, MLP and MLP-dropout modules
  // (dropout modules are called even when they are identities in eval mode).
  const size_t block_start = prog.size() - 1;
  linear(prog, p + ".attn.qkv", T, d, 3 * d, true, true, first_forward);
  if (m_.rotary_fraction > 0) {
    // NeoX rotary on q and k: rotate_half (cat), two muls, add, cat with the pass-through part.
    const double rot = T * d * m_.rotary_fraction * 2;
    prog.push_back({make_vector(p + ".attn.rotary", "rotary", rot, 10 * ab_, 3, n_.act, 10),
                    {with_nodes(make_vector(p + ".attn.rotary.bwd", "rotary", rot, 10 * ab_, 3, n_.act, 10), 10)}});
  }
  if (decode) {
    // KV cache update. eager (HF DynamicCache): torch.cat copies the whole cache for K and V.
    // graph (static cache): writes only the new token in place.
    const double per = x.B * d * ab_;
    const double bytes = w_.framework == Framework::eager ? per * (kv_len - 1 + kv_len) : 2 * per;
    Op kv = cold(make_vector(p + ".attn.kv_update", "kv_cache", 2, bytes, 0, n_.act, 2));
    prog.push_back({kv, {}});
  }
  AttentionShape a;
  a.batch = x.B;
  a.heads = x.h;
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
  prog.push_back(copy(p + ".attn.merge_heads", T * d, 2 * ab_));
  linear(prog, p + ".attn.proj", T, d, d, true, false, first_forward);
  if (drop) prog.push_back(dropout(p + ".attn.dropout", T * d));
  if (!m_.parallel_residual) prog.push_back(residual_add(p + ".add_1", T, d, 1));
  prog.push_back(layernorm(p + ".ln_2", T, d));
  linear(prog, p + ".mlp.fc1", T, d, f, true, true, first_forward);
  activation(prog, p + ".mlp.act", T * f);
  linear(prog, p + ".mlp.fc2", T, f, d, true, false, first_forward);
  if (drop) prog.push_back(dropout(p + ".mlp.dropout", T * d));
  if (hf_model()) prog[block_start].fwd.modules += drop ? 2 : 4;
  // GPT-2: second residual add. NeoX parallel residual: x + attn + mlp (two adds).
  prog.push_back(residual_add(p + ".add_2", T, d, m_.parallel_residual ? 2 : 1));
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
               {with_nodes(make_vector("wte.bwd", "embedding_bwd", x.V * d + 3 * T * d, wb_, 1,
                                       n_.residual, 4), 2)}});
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
  p.push_back(layernorm("ln_f", x.T, x.d));
  // Training computes logits for every token; generation only for the last one per sequence.
  const double rows = loss ? x.T : x.B;
  linear(p, "lm_head", rows, x.d, x.V, false, true, first_forward);
  // logits.float() (HF upcasts before the loss / sampling).
  p.push_back({make_vector("logits.float", "cast", rows * x.V, ab_ + 4, 1, Dtype::fp32),
               {with_nodes(make_vector("logits.float.bwd", "cast", rows * x.V, 4 + ab_, 1, n_.act), 1)}});
  if (loss) {
    // cross_entropy = log_softmax (two passes over the row, one write) + nll_loss.
    p.push_back({make_vector("loss.log_softmax", "softmax", rows * x.V, 12, 5, Dtype::fp32),
                 {with_nodes(make_vector("loss.log_softmax.bwd", "softmax_bwd", rows * x.V, 12, 3,
                                         Dtype::fp32), 1)}});
    p.push_back({make_vector("loss.nll", "loss", rows, 8, 2, Dtype::fp32, 4),
                 {with_nodes(make_vector("loss.nll.bwd", "loss", rows * x.V, 4, 1, Dtype::fp32, 2), 3)}});
    if (m_.tied_embeddings) {
      // The tied table gets gradients from the LM head and the embedding: one accumulation.
      p.front().bwd.push_back(
          make_vector("wte.grad_accumulate", "add", x.V * x.d, 3 * wb_, 1, n_.weights));
    }
  }
  return p;
}

std::vector<Step> TransformerProgram::optimizer_ops() const {
  std::vector<Step> p;
  const double params = m_.total_params();
  const double tensors = static_cast<double>(m_.layers) * 12 + 4;
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
  for (const auto& s : p) g_.add(s.fwd);
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
  const Dims x = dims(static_cast<double>(w_.batch), static_cast<double>(w_.seq_len));
  const auto emb = embedding(x);
  std::vector<std::vector<Step>> layers;
  g_.set_pass(Pass::Forward);
  emit_forward(emb, -1);
  for (int l = 0; l < m_.layers; ++l) {
    layers.push_back(layer(l, x, true, 0, false));
    emit_forward(layers.back(), l);
  }
  const auto hd = head(x, true, true);
  emit_forward(hd, -1);
  g_.set_pass(Pass::Backward);
  g_.add(make_host("autograd.start", HostWork::BackwardStart));
  emit_backward(hd, -1);
  for (int l = static_cast<int>(m_.layers) - 1; l >= 0; --l) emit_backward(layers[l], l);
  emit_backward(emb, -1);
  g_.set_pass(Pass::Optimizer);
  emit_forward(optimizer_ops(), -1);
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
  const Dims x = dims(static_cast<double>(w_.batch), static_cast<double>(w_.seq_len));
  g_.set_pass(Pass::Forward);
  emit_forward(embedding(x), -1);
  for (int l = 0; l < m_.layers; ++l) emit_forward(layer(l, x, true, 0, false), l);
  emit_forward(head(x, false, true), -1);
  bookkeeping(x.B);
}

void TransformerProgram::decode(int it) {
  g_.set_iteration(it);
  g_.set_pass(Pass::Forward);
  // One token per sequence per step; weights were cast at prefill and autocast caches them.
  const Dims x = dims(static_cast<double>(w_.batch), 1);
  for (long t = 0; t < w_.decode_tokens; ++t) {
    const double kv = static_cast<double>(w_.seq_len + t + 1);
    emit_forward(embedding(x), -1);
    for (int l = 0; l < m_.layers; ++l) emit_forward(layer(l, x, false, kv, true), l);
    emit_forward(head(x, false, false), -1);
    bookkeeping(x.B);
  }
}

}  // namespace

OpGraph build_graph(const WorkloadSpec& w) {
  if (w.phase == Phase::microbench) return build_microbench(w);
  GraphBuilder g;
  TransformerProgram prog(w, g);
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

// The last stage's blocks: final norm, LM head, logits upcast, loss (training) or the logits
// for sampling (generation). Declared in blocks/embedding.h.
#include <fmt/format.h>

#include "workloads/blocks/embedding.h"
#include "workloads/blocks/ops.h"
#include "workloads/builders/graph_builder.h"

namespace orrery::transformer {

namespace {

/// Tensor parallel: the vocabulary is split, so the loss or the sampler needs collectives.
/// `logit_bytes`: bytes of one gathered logit (4 after the fp32 upcast; the head's activation
/// dtype when a plain forward returns the logits as the head wrote them).
void vocab_parallel_collectives(const BlockContext& c, Steps& p, const Dims& x, double rows, bool loss,
                                double logit_bytes) {
  if (c.tp.size() == 1) return;
  if (loss) {
    // Vocab-parallel cross-entropy: all-reduce the row max, the sum of exponentials and the
    // target logit (fp32, one value per token each).
    for (const char* what : {"max", "sum_exp", "target"})
      p.push_back({make_comm(fmt::format("loss.tp_all_reduce_{}", what), CommKind::AllReduce, rows * 4,
                             CommGroup::Tensor), {}});
  } else {
    // Sampling needs the whole vocabulary row: gather the logits.
    p.push_back({make_comm("logits.tp_all_gather", CommKind::AllGather, rows * x.V * logit_bytes,
                           CommGroup::Tensor), {}});
  }
}

/// cross_entropy = log_softmax (two passes over the row, one write) + nll_loss.
void cross_entropy(const BlockContext& c, Steps& p, const Dims& x, double rows, double V) {
  p.push_back({row_reduce(make_vector("loss.log_softmax", "softmax", rows * V, 12, 5, Dtype::fp32),
                          RowReduce::softmax, rows, V),
               {with_nodes(make_vector("loss.log_softmax.bwd", "softmax_bwd", rows * V, 12, 3,
                                       Dtype::fp32), 1)}});
  p.push_back({make_vector("loss.nll", "loss", rows, 8, 2, Dtype::fp32, 4),
               {with_nodes(make_vector("loss.nll.bwd", "loss", rows * V, 4, 1, Dtype::fp32, 2), 3)}});
  if (c.m.tied_embeddings && c.stage.first()) {
    // The tied table gets gradients from the LM head and the embedding: one accumulation.
    p.front().bwd.push_back(
        make_vector("wte.grad_accumulate", "add", V * x.d, 3 * c.wb, 1, c.n.weights));
  }
}

}  // namespace

Steps head_block(const BlockContext& c, const Dims& x, bool loss, bool first_forward, bool every_position) {
  Steps p;
  p.push_back(norm(c, "ln_f", c.tp.norm_tokens(x.T), x.d));
  // Training computes logits for every token; generation only for the last one per sequence.
  // A plain forward (`every_position`) returns every token's logits as the head wrote them
  // (bf16: no upcast, nothing sampled).
  const double rows = loss || every_position ? x.T : x.B;
  // Tensor parallel: the LM head is split by vocabulary columns (V/tp logits per rank).
  const double V = c.tp.shard(x.V);
  c.tp.enter(p, "lm_head", x.T, x.d, c.ab);
  linear(c, p, "lm_head", rows, x.d, V, false, true, first_forward);
  // logits.float() (HF upcasts before the loss / sampling).
  if (!every_position)
    p.push_back({make_vector("logits.float", "cast", rows * V, c.ab + 4, 1, Dtype::fp32),
                 {with_nodes(make_vector("logits.float.bwd", "cast", rows * V, 4 + c.ab, 1, c.n.act), 1)}});
  vocab_parallel_collectives(c, p, x, rows, loss, every_position && !loss ? c.ab : 4.0);
  if (loss) cross_entropy(c, p, x, rows, V);
  return p;
}

double head_gradients(const BlockContext& c) {
  const double d = double(c.m.hidden), V = double(c.m.vocab);
  const double ln_f = c.m.norm == Norm::rmsnorm ? d : 2 * d;  // RMSNorm: weight only
  return ln_f + ((!c.m.tied_embeddings || !c.stage.first()) ? V * d : 0.0);
}

}  // namespace orrery::transformer

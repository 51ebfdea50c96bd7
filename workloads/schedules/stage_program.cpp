#include "workloads/schedules/stage_program.h"

#include "workloads/blocks/transformer_layer.h"

namespace orrery::transformer {

void StageProgram::forward(const Steps& p, int layer) {
  g.set_layer(layer);
  for (const auto& s : p)
    if (!s.fwd.name.empty()) g.add(s.fwd);  // a backward-only step has no forward op
}

void StageProgram::backward(const Steps& p, int layer) {
  g.set_layer(layer);
  for (auto it = p.rbegin(); it != p.rend(); ++it)
    for (const auto& op : it->bwd) g.add(op);
}

void StageProgram::bookkeeping(double batch) {
  // HF generate, greedy (GenerationMixin._sample), per new token, op by op. Each is one eager
  // launch on `batch` elements (int64) unless noted; the logits upcast over the last position
  // is head_block's logits.float().
  //   argmax(next_token_scores, -1)                    reads batch x V fp32        1
  //   next * unfinished + pad * (1 - unfinished)       finished-sequence masking   4
  //   input_ids = cat([input_ids, next[:, None]])      (copies batch x length)     1
  //   attention_mask = cat([mask, mask.new_ones(B,1)])                             2
  //   cache_position = cache_position[-1:] + 1                                     1
  //   stopping criteria: is_done = full(False); | max-length full(); | isin(ids[:, -1], eos)
  //                                                                                 4
  //   unfinished &= ~is_done                                                       2
  //   this_peer_finished = unfinished.max() == 0, then bool(): the host waits      2
  // (and, before the next step's forward, prepare_inputs below)
  // The host pays one eager launch each (hw/host), the device a tiny kernel each; the int64
  // tensors are counted by their bytes (8 B per element read or written).
  g.set_layer(-1);
  const double V = double(w.model.vocab) / ctx.tp.ways();
  const double kv = double(w.seq_len + w.decode_tokens);
  g.add(row_reduce(make_vector("generate.argmax", "reduce", batch * V, 4, 1, Dtype::fp32),
                   RowReduce::select, batch, V));
  g.add(make_vector("generate.finished_mask", "bookkeeping", batch, 24, 1, Dtype::fp32, 4));
  g.add(make_vector("generate.cat_input_ids", "bookkeeping", batch * kv, 16, 0, Dtype::fp32));
  g.add(make_vector("generate.cat_attention_mask", "bookkeeping", batch * kv, 16, 0, Dtype::fp32, 2));
  g.add(make_vector("generate.cache_position", "bookkeeping", 1, 16, 1, Dtype::fp32));
  g.add(make_vector("generate.stopping_criteria", "bookkeeping", batch, 16, 1, Dtype::fp32, 4));
  g.add(make_vector("generate.unfinished_update", "bookkeeping", batch, 16, 1, Dtype::fp32, 2));
  g.add(make_vector("generate.finished_check", "bookkeeping", batch, 8, 1, Dtype::fp32, 2));
  // The stopping check reads one bool on the host: it waits for the device to drain.
  g.sync_last();
}

void StageProgram::prepare_inputs(double batch) {
  // prepare_inputs_for_generation before each decode step's forward: input_ids[:, cache_position];
  // position_ids = attention_mask.long().cumsum(-1) - 1, masked_fill_(mask == 0, 1): 6 launches.
  g.set_layer(-1);
  const double kv = double(w.seq_len + w.decode_tokens);
  g.add(make_vector("generate.prepare_inputs", "bookkeeping", batch * kv, 24, 1, Dtype::fp32, 6));
}

void overlapped_layers(StageProgram& s, const Dims& x, const LayerCall& call,
                       std::vector<std::vector<OpId>>& ready) {
  // Chains 1 and 2 run on device streams of their own, on partitions 1 and 2.
  // With split cores (CloudMatrix-Infer on a 910C die) the MoE stream's own vector cores write
  // the tokens into remote memory, so a micro-batch's dispatch or combine in flight holds that
  // stream: one feed-forward chain serves every micro-batch in turn. With shared cores (GPUs)
  // the transfers run on SMs set aside for communication (DeepSeek's prefill) or from the NICs
  // (DeepEP's low-latency kernels), so each micro-batch gets a feed-forward chain and stream of
  // its own: one micro-batch's combine in flight does not hold back the other's gate and dispatch.
  constexpr int kAttentionChain = 1, kFeedForwardChain = 2;
  // Device streams 1 and 2 are the gradient and pipeline streams (workloads/layouts/); 11 the
  // attention stream, 100 + j micro-batch j's feed-forward stream.
  constexpr int kAttentionStream = 11, kFeedForwardStream = 100;
  s.g.set_partitions(s.w.overlap);
  const bool shared = s.w.overlap_shared_cores;
  const PipelineStage& st = s.stage();
  for (int l = st.l0; l < st.l1; ++l)
    for (size_t j = 0; j < ready.size(); ++j) {
      auto& r = ready[j];
      LayerHalves h = transformer_layer_halves(s.ctx, l, x, call);
      s.g.use_chain(kAttentionChain, kAttentionStream, 1, r);
      s.forward(h.attention, l);
      r = {static_cast<OpId>(s.g.last())};
      const int mb = shared ? static_cast<int>(j) : 0;
      s.g.use_chain(kFeedForwardChain + mb, kFeedForwardStream + mb, shared ? 1 : 2, r);
      s.forward(h.feed_forward, l);
      r = {static_cast<OpId>(s.g.last())};
    }
  std::vector<OpId> all;
  for (const auto& r : ready) all.insert(all.end(), r.begin(), r.end());
  s.g.use_chain(0, 0, 0, all);
}

}  // namespace orrery::transformer

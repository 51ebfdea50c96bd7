// Byte conservation of the parallel layouts on the built op graphs (no simulation): the bytes
// the Comm ops move must equal what the parallel algorithm has to move, computed here by hand
// for a small model:
//   data parallel: every gradient reduced once per optimizer step (the last DDP bucket too);
//   Megatron TP:   two collectives of B*S*h activations per layer and pass;
//   pipeline:      one micro-batch of activations per boundary crossing and direction.
#include <catch2/catch.hpp>

#include "sim/config/yaml_doc.h"
#include "workloads/builders/transformer.h"

using namespace orrery;

namespace {

// The hand-sized model: d = 256, ffn 1024, 4 layers, vocabulary 1000, 128 positions, tied
// embeddings (GPT-2 structure). Autocast bf16 with fp32 weights unless a test says otherwise.
// DDP closes a bucket once it holds at least bucket_cap bytes and flushes the partial last one
// when backward ends. With 8 MiB buckets and at most 13.8 MB of gradients (< 2 x 8 MiB) the
// last bucket is always partial, so only the flush reduces it: a lost flush loses bytes.
const std::string kTiny =
    "model: {name: tiny, layers: 4, hidden: 256, heads: 4, ffn: 1024, vocab: 1000, "
    "max_positions: 128}\nphase: train\nprecision: bf16\n";

// Parameters by hand (weights + biases):
//   qkv 3*256*256 + 3*256 = 197,376     proj 256*256 + 256 = 65,792
//   fc1 256*1024 + 1024 = 263,168       fc2 1024*256 + 256 = 262,400
//   ln_1 + ln_2 (gamma, beta) 4*256 = 1,024           -> one layer: 789,760
//   wte 1000*256 = 256,000   wpe 128*256 = 32,768   ln_f 2*256 = 512
constexpr double kLayer = 789'760;
constexpr double kWte = 256'000, kWpe = 32'768, kLnF = 512;
// Whole model (tied head): 4 * 789,760 + 256,000 + 32,768 + 512 = 3,448,320.
constexpr double kModel = 3'448'320;

WorkloadSpec workload(const std::string& extra, int devices) {
  // fp32 master weights unless the test sets them (a YAML key may appear only once).
  const std::string weights = extra.find("weights:") == std::string::npos ? "weights: fp32\n" : "";
  return read_workload(load_yaml_text(kTiny + weights + extra, "test.yaml"), "workload", devices);
}

/// Sum of the bytes of Comm ops of `op` over `group` in iteration `it` (layer: -2 = any).
double comm_bytes(const OpGraph& g, const std::string& op, CommGroup group, int it = 0,
                  int layer = -2, int pass = -1) {
  double b = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const Op& o = g[i];
    if (o.kind != OpKind::Comm || comm_kind_name(o.comm.op) != op || o.comm.group != group || o.iteration != it)
      continue;
    if (layer != -2 && o.layer != layer) continue;
    if (pass >= 0 && static_cast<int>(o.pass) != pass) continue;
    b += o.comm.bytes;
  }
  return b;
}

double comm_bytes_named(const OpGraph& g, const std::string& name) {
  double b = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].kind == OpKind::Comm && g[i].name == name) b += g[i].comm.bytes;
  return b;
}

int count_named(const OpGraph& g, const std::string& name) {
  int n = 0;
  for (size_t i = 0; i < g.size(); ++i) n += g[i].name == name;
  return n;
}

constexpr int kFwd = static_cast<int>(Pass::Forward), kBwd = static_cast<int>(Pass::Backward);

}  // namespace

// ---- data parallel --------------------------------------------------------------------------

TEST_CASE("ddp_all_reduces_every_gradient_byte_once_per_optimizer_step", "[graph][bytes]") {
  CHECK(4 * kLayer + kWte + kWpe + kLnF == kModel);
  // Gradients are in the weights' dtype (fp32: 4 bytes): 3,448,320 * 4 = 13,793,280 bytes.
  const double grads = kModel * 4;
  CHECK(grads == 13'793'280);
  SECTION("default 25 MiB buckets (everything in the final, flushed bucket)") {
    const OpGraph g = build_graph(workload("batch: 4\nseq_len: 64\nparallel: {dp: 2}\n", 2));
    CHECK(comm_bytes(g, "all_reduce", CommGroup::Data) == Approx(grads));
    CHECK(comm_bytes(g, "reduce_scatter", CommGroup::Data) == 0);
  }
  SECTION("1 MiB buckets (many buckets closed during backward)") {
    const OpGraph g = build_graph(workload("batch: 4\nseq_len: 64\nparallel: {dp: 2, bucket: 1 MiB}\n", 2));
    // 13.2 MiB of gradients in buckets closed once they reach 1 MiB: several buckets.
    CHECK(count_named(g, "dp.grad_bucket") > 3);
    CHECK(comm_bytes(g, "all_reduce", CommGroup::Data) == Approx(grads));
  }
  SECTION("weights bf16: 2 bytes per gradient") {
    const OpGraph g = build_graph(workload("batch: 4\nseq_len: 64\nweights: bf16\nparallel: {dp: 2, bucket: 8 MiB}\n", 2));
    CHECK(comm_bytes(g, "all_reduce", CommGroup::Data) == Approx(kModel * 2));
  }
  SECTION("tensor parallel 2: each rank reduces its half of every tensor") {
    const OpGraph g = build_graph(workload("batch: 4\nseq_len: 64\nparallel: {dp: 2, tp: 2, bucket: 8 MiB}\n", 4));
    CHECK(comm_bytes(g, "all_reduce", CommGroup::Data) == Approx(grads / 2));
  }
}

TEST_CASE("ddp_reduces_each_pipeline_stage_parameters", "[graph][bytes]") {
  // pp 2: stage 0 holds wte, wpe and layers 0-1; stage 1 layers 2-3, ln_f and its own copy of
  // the (tied) LM head table.
  const double stage0 = 2 * kLayer + kWte + kWpe;  // 1,868,288
  const double stage1 = 2 * kLayer + kLnF + kWte;  // 1,836,032
  CHECK(stage0 == 1'868'288);
  CHECK(stage1 == 1'836'032);
  const WorkloadSpec w = workload("batch: 8\nseq_len: 64\nparallel: {dp: 2, pp: 2, microbatches: 4, bucket: 8 MiB}\n", 4);
  CHECK(comm_bytes(build_graph(w, 0), "all_reduce", CommGroup::Data) == Approx(stage0 * 4));
  CHECK(comm_bytes(build_graph(w, 1), "all_reduce", CommGroup::Data) == Approx(stage1 * 4));
}

TEST_CASE("zero1_reduce_scatters_gradients_and_all_gathers_weights_once", "[graph][bytes]") {
  // nccl-tests sizes: reduce_scatter counts its input (the full gradient buffer), all_gather
  // its output (the full weights): both are the model's parameters x 4 bytes.
  const OpGraph g = build_graph(workload("batch: 4\nseq_len: 64\nparallel: {dp: 4, zero: 1, bucket: 8 MiB}\n", 4));
  CHECK(comm_bytes(g, "reduce_scatter", CommGroup::Data) == Approx(kModel * 4));
  CHECK(comm_bytes(g, "all_gather", CommGroup::Data) == Approx(kModel * 4));
  CHECK(comm_bytes(g, "all_reduce", CommGroup::Data) == 0);
}

TEST_CASE("gradient_accumulation_reduces_once_per_optimizer_step", "[graph][bytes]") {
  // grad_accum 3 micro-steps, 2 optimizer steps: each optimizer step reduces the gradients
  // once (DDP no_sync in the first two micro-steps), not three times.
  const OpGraph g =
      build_graph(workload("batch: 4\nseq_len: 64\ngrad_accum: 3\niterations: 2\nparallel: {dp: 2, bucket: 8 MiB}\n", 2));
  for (int it = 0; it < 2; ++it) CHECK(comm_bytes(g, "all_reduce", CommGroup::Data, it) == Approx(kModel * 4));
  CHECK(count_named(g, "autograd.start") == 6);
}

// ---- Megatron tensor parallelism -------------------------------------------------------------

TEST_CASE("megatron_tp_moves_two_activation_collectives_per_layer_and_pass", "[graph][bytes]") {
  // B = 2 sequences of S = 64 tokens, h = 256, activations bf16 (2 bytes):
  //   one collective = B*S*h*2 = 2*64*256*2 = 65,536 bytes.
  const double act = 2.0 * 64 * 256 * 2;
  CHECK(act == 65'536);
  SECTION("tp 2: f/g conjugates are all-reduces") {
    // Forward: g after attention and after the MLP (2 all-reduces); backward: f before each
    // (2 all-reduces of the input gradient).
    const OpGraph g = build_graph(workload("batch: 2\nseq_len: 64\nparallel: {tp: 2}\n", 2));
    for (int l = 0; l < 4; ++l) {
      CHECK(comm_bytes(g, "all_reduce", CommGroup::Tensor, 0, l, kFwd) == Approx(2 * act));
      CHECK(comm_bytes(g, "all_reduce", CommGroup::Tensor, 0, l, kBwd) == Approx(2 * act));
      CHECK(comm_bytes(g, "all_gather", CommGroup::Tensor, 0, l) == 0);
      CHECK(comm_bytes(g, "reduce_scatter", CommGroup::Tensor, 0, l) == 0);
    }
    // Outside the layers: the vocab-parallel embedding all-reduces its fp32 output
    // (2*64*256*4 = 131,072) and the loss three fp32 values per token (3*128*4 = 1,536);
    // backward, the LM head's f all-reduces its bf16 input gradient (65,536).
    CHECK(comm_bytes(g, "all_reduce", CommGroup::Tensor, 0, -1, kFwd) == Approx(131'072 + 1'536));
    CHECK(comm_bytes(g, "all_reduce", CommGroup::Tensor, 0, -1, kBwd) == Approx(act));
  }
  SECTION("tp 2 with sequence parallelism: all-gather + reduce-scatter of the same size") {
    // Forward: f = all-gather, g = reduce-scatter (nccl-tests sizes: the full T x h buffer);
    // backward mirrors: f' = reduce-scatter, g' = all-gather.
    const OpGraph g = build_graph(workload("batch: 2\nseq_len: 64\nparallel: {tp: 2, sp: true}\n", 2));
    for (int l = 0; l < 4; ++l) {
      CHECK(comm_bytes(g, "all_gather", CommGroup::Tensor, 0, l, kFwd) == Approx(2 * act));
      CHECK(comm_bytes(g, "reduce_scatter", CommGroup::Tensor, 0, l, kFwd) == Approx(2 * act));
      CHECK(comm_bytes(g, "reduce_scatter", CommGroup::Tensor, 0, l, kBwd) == Approx(2 * act));
      CHECK(comm_bytes(g, "all_gather", CommGroup::Tensor, 0, l, kBwd) == Approx(2 * act));
      CHECK(comm_bytes(g, "all_reduce", CommGroup::Tensor, 0, l) == 0);
    }
    // The LM head's f is an all-gather forward and a reduce-scatter backward.
    CHECK(comm_bytes_named(g, "lm_head.tp_all_gather") == Approx(act));
    CHECK(comm_bytes_named(g, "lm_head.tp_reduce_scatter.bwd") == Approx(act));
  }
}

TEST_CASE("tp_prefill_gathers_the_logits_in_the_dtype_they_are_returned_in", "[graph][bytes]") {
  // tp 2 prefill, B = 2 sequences of S = 64 tokens, V = 1,000, bf16 activations.
  const std::string prefill =
      "model: {name: tiny, layers: 4, hidden: 256, heads: 4, ffn: 1024, vocab: 1000, "
      "max_positions: 128}\nphase: prefill\nprecision: bf16\nweights: bf16\nbatch: 2\nseq_len: 64\n"
      "parallel: {tp: 2}\n";
  const auto gathered = [&](const std::string& logits) {
    return comm_bytes_named(
        build_graph(read_workload(load_yaml_text(prefill + "logits: " + logits + "\n", "test.yaml"), "workload", 2)),
        "logits.tp_all_gather");
  };
  // A plain forward returns every position's logits as the head wrote them (bf16):
  // 2 * 64 rows * 1,000 * 2 B = 256,000 bytes.
  CHECK(gathered("all") == Approx(256'000));
  // Generate's step gathers the last position's logits after the fp32 upcast: 2 * 1,000 * 4 B.
  CHECK(gathered("last") == Approx(8'000));
}

// ---- pipeline parallelism --------------------------------------------------------------------

TEST_CASE("pipeline_sends_one_micro_batch_of_activations_per_boundary_crossing", "[graph][bytes]") {
  // pp 2, batch 8 in m = 4 micro-batches of B/m = 2 sequences of S = 64 tokens, h = 256. The
  // hidden state crosses the boundary in the residual-stream dtype: fp32 under autocast with
  // fp32 weights (4 bytes), bf16 with bf16 weights (2 bytes).
  //   per micro-batch and direction: 2*64*256*4 = 131,072 bytes (fp32), 65,536 (bf16).
  const auto check = [](const std::string& extra, int devices, double per_micro_batch, int m) {
    const WorkloadSpec w = workload("batch: 8\nseq_len: 64\n" + extra, devices);
    const OpGraph s0 = build_graph(w, 0), s1 = build_graph(w, 1);
    // Forward: stage 0 sends activations, stage 1 receives them.
    CHECK(comm_bytes(s0, "send", CommGroup::PipelineNext) == Approx(m * per_micro_batch));
    CHECK(comm_bytes(s1, "recv", CommGroup::PipelinePrev) == Approx(m * per_micro_batch));
    // Backward: stage 1 sends the activations' gradients back, stage 0 receives them.
    CHECK(comm_bytes(s1, "send", CommGroup::PipelinePrev) == Approx(m * per_micro_batch));
    CHECK(comm_bytes(s0, "recv", CommGroup::PipelineNext) == Approx(m * per_micro_batch));
    // Nothing else crosses: no stage sends the other way in training.
    CHECK(comm_bytes(s0, "send", CommGroup::PipelinePrev) == 0);
    CHECK(comm_bytes(s1, "send", CommGroup::PipelineNext) == 0);
  };
  SECTION("fp32 residual stream") { check("parallel: {pp: 2, microbatches: 4}\n", 2, 131'072, 4); }
  SECTION("bf16 weights, bf16 residual stream") {
    check("weights: bf16\nparallel: {pp: 2, microbatches: 4}\n", 2, 65'536, 4);
  }
  SECTION("sequence parallel tp 2: each rank sends its T/tp tokens") {
    check("parallel: {pp: 2, tp: 2, sp: true, microbatches: 4}\n", 4, 65'536, 4);
  }
  SECTION("grad_accum 2: two passes of 4 micro-batches per optimizer step") {
    check("grad_accum: 2\nparallel: {pp: 2, microbatches: 4}\n", 2, 131'072, 8);
  }
}

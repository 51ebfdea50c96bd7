#include "workloads/workload.h"

#include <cmath>

#include <fmt/format.h>

#include "sim/config/errors.h"
#include "sim/config/yaml_doc.h"
#include "workloads/parallel.h"

namespace orrery {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::train: return "train";
    case Phase::prefill: return "prefill";
    case Phase::decode: return "decode";
    case Phase::block: return "block";
    case Phase::microbench: return "microbench";
    case Phase::collective: return "collective";
  }
  return "?";
}

namespace {
const std::vector<std::string> kModelPhases = {"train", "prefill", "decode", "block"};
}  // namespace

const ParamTable& workload_params() {
  static const ParamTable t{
      "workload",
      "What to run on the system.",
      {
          {"model", ParamType::Any, Dim::Dimensionless, "", "a model preset name, {preset: name, overrides} or full dimensions (see `model`)", {}, true},
          {"phase", ParamType::Enum, Dim::Dimensionless, "", "train: forward, backward, optimizer step; prefill: forward over the prompt; decode: decode_tokens tokens one at a time; block: one transformer block; microbench: single kernels in a loop; collective: one collective on the network", {"train", "prefill", "decode", "block", "microbench", "collective"}},
          {"batch", ParamType::Integer, Dim::Dimensionless, "1", "sequences per step"},
          {"seq_len", ParamType::Integer, Dim::Dimensionless, "1024", "tokens per sequence (decode: prompt length already in the KV cache)"},
          {"decode_tokens", ParamType::Integer, Dim::Dimensionless, "16", "decode: tokens generated"},
          {"logits", ParamType::Enum, Dim::Dimensionless, "", "prefill: prompt positions the LM head runs over. all: every position, as a plain Hugging Face forward model(input_ids) returns them; last: each sequence's last position only (serving engines). Default: all with framework eager, last with graph", {"last", "all"}, true},
          {"precision", ParamType::Enum, Dim::Dimensionless, "bf16", "compute precision of matmuls (autocast dtype)", dtype_names()},
          {"weights", ParamType::Enum, Dim::Dimensionless, "fp32", "dtype the weights are stored in; differing from precision means autocast casts them every forward (fp32 master weights)", dtype_names()},
          {"optimizer", ParamType::Enum, Dim::Dimensionless, "adamw", "train: optimizer (adamw is PyTorch's fused AdamW)", {"adamw", "sgd", "none"}},
          {"framework", ParamType::Enum, Dim::Dimensionless, "eager", "eager: one host dispatch per kernel; graph: captured graph replay", {"eager", "graph"}},
          {"backward", ParamType::Bool, Dim::Dimensionless, "false", "block: forward + backward"},
          {"dropout", ParamType::Bool, Dim::Dimensionless, "true", "train: apply the model's dropout (as model.train() does)"},
          {"iterations", ParamType::Integer, Dim::Dimensionless, "1", "steps simulated back to back (each ends in a host sync); the report gives the last"},
          {"ops", ParamType::Any, Dim::Dimensionless, "", "microbench: list of single kernels (see `microbench op`)", {}, true},
          {"collective", ParamType::Any, Dim::Dimensionless, "", "collective: {op, bytes, group, algorithm, plane} (see `collective`)", {}, true},
          {"parallel", ParamType::Any, Dim::Dimensionless, "", "train/prefill/decode/block on several devices: {dp, tp, pp, sp, ep, attention, attention_group, microbatches, zero, bucket, simulate} (see `parallel`); default: data parallel over every device", {}, true},
          {"moe", ParamType::Section, Dim::Dimensionless, "", "MoE models: routing and expert placement (see `moe_routing`)", {}, true},
          {"overlap", ParamType::Section, Dim::Dimensionless, "", "prefill/decode: split the cores into an attention and a feed-forward partition whose streams overlap micro-batches (see `overlap`; needs parallel.microbatches >= 2)", {}, true},
          {"mtp", ParamType::Section, Dim::Dimensionless, "", "decode with multi-token prediction (see `mtp`)", {}, true},
          {"grad_accum", ParamType::Integer, Dim::Dimensionless, "1", "train: forward-backward micro-steps per optimizer step; gradients are reduced once, in the last"},
          {"repeat", ParamType::Integer, Dim::Dimensionless, "10", "microbench: synchronised calls of each op (framework graph: graph replays); the mean of all but the first is reported"},
          {"graph_calls", ParamType::Integer, Dim::Dimensionless, "1", "microbench, framework graph: calls of each op captured back to back in one graph; the time per call is a replay's device time divided by it"},
      },
      // Keys given for a phase that does not read them are errors (sim/config: check_applies).
      "phase",
      {
          {"model", kModelPhases}, {"batch", kModelPhases}, {"seq_len", kModelPhases},
          {"precision", kModelPhases}, {"weights", kModelPhases}, {"iterations", kModelPhases},
          {"parallel", kModelPhases}, {"moe", kModelPhases},
          {"decode_tokens", {"decode"}}, {"mtp", {"decode"}}, {"logits", {"prefill"}},
          {"optimizer", {"train"}}, {"grad_accum", {"train"}}, {"dropout", {"train", "block"}},
          {"backward", {"block"}},
          {"framework", {"train", "prefill", "decode", "block", "microbench"}},
          {"ops", {"microbench"}}, {"repeat", {"microbench"}}, {"graph_calls", {"microbench"}},
          {"overlap", {"prefill", "decode"}},
          {"collective", {"collective"}},
      }};
  return t;
}

const ParamTable& micro_op_params() {
  static const ParamTable t{
      "microbench op",
      "One kernel of a micro-benchmark workload.",
      {
          {"kind", ParamType::Enum, Dim::Dimensionless, "", "kernel", {"gemm", "attention", "layernorm", "gelu", "add", "add_", "softmax", "argmax"}},
          {"m", ParamType::Integer, Dim::Dimensionless, "1", "gemm: rows of A and C"},
          {"n", ParamType::Integer, Dim::Dimensionless, "1", "gemm: columns of B and C"},
          {"k", ParamType::Integer, Dim::Dimensionless, "1", "gemm: inner dimension"},
          {"batch", ParamType::Integer, Dim::Dimensionless, "1", "gemm/attention: batch (gemm: experts of one grouped GEMM kernel)"},
          {"heads", ParamType::Integer, Dim::Dimensionless, "1", "attention: heads"},
          {"seq", ParamType::Integer, Dim::Dimensionless, "1", "attention: query length"},
          {"kv", ParamType::Integer, Dim::Dimensionless, "0", "attention: key/value length (0: same as seq)", {}, false, 0, true},
          {"grouped", ParamType::Bool, Dim::Dimensionless, "false", "gemm: one grouped-GEMM kernel over `batch` experts, each with its own weight (torch._grouped_mm), not a batched GEMM"},
          {"kv_heads", ParamType::Integer, Dim::Dimensionless, "0", "attention: key/value heads, each shared by heads/kv_heads query heads (0: heads)", {}, false, 0, true},
          {"head_dim", ParamType::Integer, Dim::Dimensionless, "64", "attention: head dimension"},
          {"mask", ParamType::Bool, Dim::Dimensionless, "false", "attention: an explicit boolean attn_mask (SDPA then runs the memory-efficient kernel, not flash)"},
          {"causal", ParamType::Bool, Dim::Dimensionless, "true", "attention: causal mask"},
          {"backward", ParamType::Bool, Dim::Dimensionless, "false", "attention: forward + backward"},
          {"rows", ParamType::Integer, Dim::Dimensionless, "1", "element-wise: rows (tokens)"},
          {"cols", ParamType::Integer, Dim::Dimensionless, "1", "element-wise: columns (channels)"},
          {"dtype", ParamType::Enum, Dim::Dimensionless, "bf16", "data type", dtype_names()},
          {"cold", ParamType::Bool, Dim::Dimensionless, "false", "operands come from device memory, never from a cache (the benchmark cycles through distinct buffers)"},
      }};
  return t;
}

namespace {

MicroOp read_micro_op(const YAML::Node& node, const std::string& path) {
  const Section s(node, path, micro_op_params());
  MicroOp m;
  m.kind = s.string("kind");
  m.dtype = parse_dtype(s.string("dtype"));
  m.gemm = {static_cast<double>(s.integer("m")), static_cast<double>(s.integer("n")),
            static_cast<double>(s.integer("k")), static_cast<double>(s.integer("batch"))};
  m.gemm.grouped = s.boolean("grouped");
  m.attn.batch = static_cast<double>(s.integer("batch"));
  m.attn.heads = static_cast<double>(s.integer("heads"));
  m.attn.q_len = static_cast<double>(s.integer("seq"));
  const long kv = s.integer("kv");
  m.attn.kv_len = kv > 0 ? static_cast<double>(kv) : m.attn.q_len;
  m.attn.head_dim = static_cast<double>(s.integer("head_dim"));
  m.attn.causal = s.boolean("causal");
  m.attn.kv_heads = static_cast<double>(s.integer("kv_heads"));
  if (m.attn.kv_heads > 0 && std::fmod(m.attn.heads, m.attn.kv_heads) != 0)
    s.fail("kv_heads", fmt::format("{} query heads are not a multiple of {} key/value heads", m.attn.heads, m.attn.kv_heads));
  m.attn.masked = s.boolean("mask");
  m.cold = s.boolean("cold");
  m.attn.backward = s.boolean("backward");
  m.rows = static_cast<double>(s.integer("rows"));
  m.cols = static_cast<double>(s.integer("cols"));
  return m;
}

/// The sp_tp_sp attention layout: an MLA model with a query latent (stage 1 gathers latents,
/// not hidden states), in prefill, with the heads split evenly over the attention group.
void check_sp_tp_sp(const WorkloadSpec& w, const Section& s) {
  const ParallelSpec& p = w.parallel;
  const ModelSpec& m = w.model;
  if (w.phase != Phase::prefill)
    s.fail("attention", fmt::format("sp_tp_sp is MLA's prefill layout; phase {} runs attention as dp (or with tp)",
                                    phase_name(w.phase)));
  if (!m.mla.enabled())
    s.fail("attention", fmt::format("sp_tp_sp splits multi-head latent attention; model '{}' has no mla section", m.name));
  if (m.mla.q_lora_rank == 0)
    s.fail("attention", fmt::format("sp_tp_sp gathers the query latent; model '{}' has no query compression "
                                    "(mla.q_lora_rank = 0)", m.name));
  if (m.heads % p.attention_group != 0)
    s.fail("attention_group", fmt::format("attention_group = {} does not divide the model's {} attention heads; "
                                          "stage 2 gives every rank of the group the same number of heads",
                                          p.attention_group, m.heads));
}

/// What a parallel layout requires of the model and the batch.
void check_parallel(const WorkloadSpec& w, const Section& s) {
  const ParallelSpec& p = w.parallel;
  const ModelSpec& m = w.model;
  if (m.heads % p.tp != 0)
    s.fail("tp", fmt::format("tp = {} does not divide the model's {} attention heads", p.tp, m.heads));
  if (m.kv_heads > 0 && m.kv_heads % p.tp != 0)
    s.fail("tp", fmt::format("tp = {} does not divide the model's {} key/value heads (model.kv_heads); Megatron "
                             "splits k_proj and v_proj by whole heads: choose a tp that divides kv_heads",
                             p.tp, m.kv_heads));
  if (m.hidden % p.tp != 0)
    s.fail("tp", fmt::format("tp = {} does not divide the model's hidden size {} (Megatron splits it evenly)", p.tp, m.hidden));
  if (m.ffn % p.tp != 0)
    s.fail("tp", fmt::format("tp = {} does not divide the model's ffn width {}", p.tp, m.ffn));
  if (p.sp && w.seq_len % p.tp != 0 && w.phase != Phase::decode)
    s.fail("sp", fmt::format("sequence parallel splits the {} tokens of a sequence over tp = {}; they must divide", w.seq_len, p.tp));
  if (p.pp > m.layers)
    s.fail("pp", fmt::format("pp = {} stages but the model has only {} layers", p.pp, m.layers));
  if (w.batch % p.microbatches != 0)
    s.fail("microbatches", fmt::format("{} micro-batches do not divide the batch of {}", p.microbatches, w.batch));
  if (p.zero == 1 && w.phase != Phase::train) s.fail("zero", "ZeRO shards optimizer state: phase train only");
  if (p.attention == AttentionLayout::sp_tp_sp) check_sp_tp_sp(w, s);
  if (w.phase == Phase::block && (p.pp > 1 || p.dp > 1))
    s.fail(p.pp > 1 ? "pp" : "dp", "phase block runs one transformer block: only tensor parallelism (tp) applies");
}

}  // namespace

const ParamTable& mtp_params() {
  static const ParamTable t{
      "mtp",
      "Decode with multi-token prediction: the model's MTP modules draft tokens, the next step verifies them with the main model.",
      {
          {"draft_tokens", ParamType::Integer, Dim::Dimensionless, "1", "tokens drafted per step (at most the model's mtp_modules; 0: no multi-token prediction)", {}, false, 0, true},
          {"acceptance", ParamType::Real, Dim::Dimensionless, "", "probability that a draft is accepted (DeepSeek-V3 reports 0.85-0.9; CloudMatrix-Infer assumes 0.7)", {}, false, 0, true},
      }};
  return t;
}

const ParamTable& overlap_params() {
  static const ParamTable t{
      "overlap",
      "Micro-batch overlap on partitioned cores (CloudMatrix-Infer's decode): layer by layer, micro-batch j's feed-forward (MLP or MoE: gate, dispatch, experts, combine) runs on its partition while micro-batch j+1's attention runs on the other. Ops outside the layers use the whole device.",
      {
          {"enabled", ParamType::Bool, Dim::Dimensionless, "true", "false: the micro-batches run one after the other on the whole device (the partitions are still checked), e.g. --set workload.overlap.enabled=false"},
          {"cores", ParamType::Enum, Dim::Dimensionless, "split", "split: the attention and feed-forward streams each run on their own partition (CloudMatrix-Infer); shared: both streams take turns on the `attention` partition's cores and the rest are left to communication kernels (DeepSeek-V3 on H800 keeps 24 of 132 SMs for communication): one stream's transfers overlap the other's compute", {"split", "shared"}},
          {"attention", ParamType::Section, Dim::Dimensionless, "", "cores of the attention stream (norms, attention, output projection); with cores: shared, of both streams (see `core_partition`)"},
          {"ffn", ParamType::Section, Dim::Dimensionless, "", "cores of the feed-forward stream (see `core_partition`); not with cores: shared", {}, true},
      }};
  return t;
}

const ParamTable& core_partition_params() {
  static const ParamTable t{
      "core_partition",
      "A share of the device's cores; each is costed as the device with that many units and that share of each engine's peak (memory bandwidth is shared).",
      {
          {"matrix_units", ParamType::Integer, Dim::Dimensionless, "", "units of the matrix engine (cube cores, SMs)"},
          {"vector_units", ParamType::Integer, Dim::Dimensionless, "", "units of the vector engine (vector cores; a GPU's SMs)"},
      }};
  return t;
}

double accepted_tokens_per_step(const WorkloadSpec& w) {
  double tokens = 1, p = 1;
  for (long i = 0; i < w.mtp_drafts; ++i) tokens += (p *= w.mtp_acceptance);
  return tokens;
}

namespace {

void read_mtp(const Section& ws, WorkloadSpec& w) {
  const Section s(ws.node("mtp"), ws.path_of("mtp"), mtp_params());
  if (w.phase != Phase::decode) ws.fail("mtp", "multi-token prediction drafts tokens in phase decode only");
  w.mtp_drafts = s.integer("draft_tokens");
  w.mtp_acceptance = s.real("acceptance");
  if (w.mtp_drafts == 0) return;  // switched off (e.g. --set workload.mtp.draft_tokens=0)
  if (w.mtp_drafts > w.model.mtp_modules)
    s.fail("draft_tokens", fmt::format("value {}: model '{}' has {} MTP module(s); 1..{} drafts", w.mtp_drafts,
                                       w.model.name, w.model.mtp_modules, w.model.mtp_modules));
  if (!(w.mtp_acceptance >= 0 && w.mtp_acceptance <= 1)) s.fail("acceptance", "a probability: 0 to 1");
}

void read_overlap(const Section& ws, WorkloadSpec& w) {
  const Section s(ws.node("overlap"), ws.path_of("overlap"), overlap_params());
  const bool enabled = s.boolean("enabled");
  if (enabled && w.parallel.microbatches < 2)
    ws.fail("overlap", fmt::format("overlap needs parallel.microbatches >= 2 (it is {})", w.parallel.microbatches));
  if (enabled && w.parallel.pp > 1) ws.fail("overlap", "overlap with pipeline parallelism (pp > 1) is not modelled");
  if (enabled && w.model.parallel_residual)
    ws.fail("overlap", fmt::format("model '{}' has a parallel residual: its attention and MLP read the same input", w.model.name));
  const bool shared = s.string("cores") == "shared";
  if (shared && s.has("ffn")) s.fail("ffn", "with cores: shared both streams run on the attention partition; remove ffn");
  if (!shared && !s.has("ffn")) s.fail("cores", "cores: split needs an ffn partition (or set cores: shared)");
  w.overlap_shared_cores = shared;
  for (const char* name : {"attention", "ffn"}) {
    if (shared && std::string(name) == "ffn") break;
    const Section p(s.node(name), s.path_of(name), core_partition_params());
    const long mu = p.integer("matrix_units"), vu = p.integer("vector_units");
    if (mu < 1) p.fail("matrix_units", "at least 1");
    if (vu < 1) p.fail("vector_units", "at least 1");
    w.overlap.push_back({name, double(mu), double(vu)});
  }
  if (!enabled) w.overlap.clear();
}

}  // namespace

namespace {

/// The model phases' keys (train, prefill, decode, block): model, MTP and MoE routing.
void read_model_phase(const Section& s, const std::string& phase, WorkloadSpec& w) {
  if (!s.has("model")) s.fail("model", fmt::format("phase {} needs a model", phase));
  w.model = read_model(s.node("model"), s.path_of("model"));
  if (w.phase == Phase::decode && w.decode_tokens < 1) s.fail("decode_tokens", "must be >= 1");
  // A whole model reads positions 0..seq_len-1 (phase block times one block of any length).
  if (w.phase != Phase::block && w.seq_len > w.model.max_positions)
    s.fail("seq_len", fmt::format("{} tokens exceed the model's context of {} (model.max_positions); shorten "
                                  "the sequence or raise model.max_positions", w.seq_len, w.model.max_positions));
  if (s.has("mtp")) read_mtp(s, w);
  if (s.has("moe") && !w.model.moe.enabled())
    s.fail("moe", fmt::format("model '{}' has no experts; remove the key", w.model.name));
  if (w.model.moe.enabled()) {
    const YAML::Node mn = s.has("moe") ? s.node("moe") : YAML::Node(YAML::NodeType::Map);
    w.moe = read_moe_routing(mn, s.path_of("moe"), w.model.moe);
    if (w.phase == Phase::train || w.phase == Phase::block)
      s.fail("phase", fmt::format("MoE model '{}': phase {} is not modelled yet (prefill and decode are)", w.model.name, phase));
  }
}

/// Expert parallelism against the model and the routing's expert slots.
void check_expert_layout(const Section& s, const WorkloadSpec& w) {
  if (w.parallel.ep > 1 && !w.model.moe.enabled())
    s.fail("parallel", fmt::format("parallel.ep = {} but model '{}' has no experts", w.parallel.ep, w.model.name));
  if (w.moe.shared_replicas > 0 && w.parallel.ep == 1)
    s.fail("moe", "shared_replicas dispatch tokens to the ranks that host the shared expert: they need parallel.ep > 1");
  const long slots = w.moe.shared_replicas + w.moe.redundant_experts + w.model.moe.experts;
  if (w.model.moe.enabled() && w.parallel.ep > 1 && slots < w.parallel.ep)
    s.fail("moe", fmt::format("{} expert slots (routed + redundant + shared replicas) leave ranks of ep = {} without an expert",
                              slots, w.parallel.ep));
}

}  // namespace

// Keys that do not apply to the phase (ops, collective, optimizer, grad_accum, backward,
// overlap, ...) are refused by the table's `applies` list before anything here reads them.
WorkloadSpec read_workload(const YAML::Node& node, const std::string& path, int devices) {
  const Section s(node, path, workload_params());
  WorkloadSpec w;
  const std::string phase = s.string("phase");
  w.phase = phase == "train"     ? Phase::train
            : phase == "prefill" ? Phase::prefill
            : phase == "decode"  ? Phase::decode
            : phase == "block"   ? Phase::block
            : phase == "collective" ? Phase::collective
                                 : Phase::microbench;
  w.batch = s.integer("batch");
  w.seq_len = s.integer("seq_len");
  w.decode_tokens = s.integer("decode_tokens");
  w.precision = parse_dtype(s.string("precision"));
  w.weights = parse_dtype(s.string("weights"));
  const std::string opt = s.string("optimizer");
  w.optimizer = opt == "adamw" ? Optimizer::adamw : opt == "sgd" ? Optimizer::sgd : Optimizer::none;
  w.framework = s.string("framework") == "graph" ? Framework::graph : Framework::eager;
  // Without the key, eager (a Hugging Face forward) computes every position's logits and a
  // captured-graph serving engine only the sampled ones.
  w.prefill_all_logits = s.has("logits") ? s.string("logits") == "all" : w.framework == Framework::eager;
  w.backward = s.boolean("backward");
  w.dropout = s.boolean("dropout");
  w.iterations = s.integer("iterations");
  w.repeat = s.integer("repeat");
  w.graph_calls = s.integer("graph_calls");
  w.grad_accum = s.integer("grad_accum");
  if (w.graph_calls < 1) s.fail("graph_calls", "at least 1 call per graph");
  if (s.has("graph_calls") && w.framework != Framework::graph)
    s.fail("graph_calls", "graph_calls is for phase microbench with framework: graph");
  const bool model_phase = w.phase != Phase::microbench && w.phase != Phase::collective;
  if (w.phase == Phase::microbench) {
    if (!s.has("ops")) s.fail("ops", "phase microbench needs a list of ops");
    const YAML::Node ops = s.node("ops");
    if (!ops.IsSequence() || ops.size() == 0) s.fail("ops", "expected a non-empty list");
    for (size_t i = 0; i < ops.size(); ++i)
      w.micro.push_back(read_micro_op(ops[i], fmt::format("{}.ops[{}]", path, i)));
    if (w.repeat < 2) s.fail("repeat", "need at least 2 calls to time the steady state");
  } else if (w.phase == Phase::collective) {
    if (!s.has("collective")) s.fail("collective", "phase collective needs a collective: {op, bytes, group}");
    if (devices < 2) s.fail("collective", "a collective needs a system with at least two devices");
    w.collective = read_collective(s.node("collective"), s.path_of("collective"), devices);
  } else {
    read_model_phase(s, phase, w);
  }
  if (model_phase && (devices > 1 || s.has("parallel"))) {
    const YAML::Node pn = s.has("parallel") ? s.node("parallel") : YAML::Node(YAML::NodeType::Map);
    w.parallel = read_parallel(pn, s.path_of("parallel"), devices);
    check_parallel(w, Section(pn, s.path_of("parallel"), parallel_params()));
  }
  check_expert_layout(s, w);
  if (s.has("overlap")) read_overlap(s, w);
  if ((w.precision == Dtype::fp8 || w.precision == Dtype::int8) && w.phase == Phase::train)
    s.fail("precision", "training in fp8/int8 is not modelled; use bf16, fp16, tf32 or fp32");
  return w;
}

}  // namespace orrery

#include "hw/compute/matrix_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "sim/config/errors.h"

namespace orrery {

const ParamTable& matrix_engine_params() {
  static const ParamTable t{
      "matrix",
      "Matrix engine (tensor cores / MME / cube units) executing GEMMs tile by tile.",
      {
          {"type", ParamType::Enum, Dim::Dimensionless, "matrix", "component type", {"matrix"}},
          {"units", ParamType::Integer, Dim::Dimensionless, "", "parallel cores, each computing one output tile at a time (SMs on a GPU)"},
          {"peak", ParamType::QuantityMap, Dim::Throughput, "", "dense peak per dtype of the whole engine", dtype_names()},
          {"tiles", ParamType::Any, Dim::Dimensionless, "[[128, 256]]", "output tile shapes [m, n] the GEMM kernels choose from"},
          {"max_efficiency", ParamType::Real, Dim::Dimensionless, "0.8", "fraction of peak a full wave of full tiles reaches (fitted on large GEMMs)"},
          {"efficiency", ParamType::QuantityMap, Dim::Dimensionless, "", "per-dtype override of max_efficiency (a datapath that reaches a different fraction, e.g. fp32 on SIMT cores)", dtype_names(), true},
          {"attention_efficiency", ParamType::Real, Dim::Dimensionless, "0.65", "fraction of peak for the matmuls of fused (flash) attention"},
          {"unaligned_efficiency", ParamType::Real, Dim::Dimensionless, "1", "factor applied when an operand's row stride is not a multiple of alignment (no vectorised/TMA loads)"},
          {"unaligned_bandwidth", ParamType::Quantity, Dim::Bandwidth, "", "rate at which an unaligned GEMM kernel streams its operands, bound by its element-wise loads (no vectorised/TMA copies), for M above unaligned_gemv_max_m; absent: the memory's rate", {}, true},
          {"unaligned_gemv_max_m", ParamType::Integer, Dim::Dimensionless, "0", "unaligned GEMMs with M at or below this run the library's matrix-vector kernel, which streams at full bandwidth (cuBLAS: a few rows); 0: none", {}, false, 0, true},
          {"alignment", ParamType::Integer, Dim::Dimensionless, "8", "elements a dimension must be a multiple of for the fast path"},
          {"min_split_k", ParamType::Integer, Dim::Dimensionless, "256", "smallest K slice when K is split across idle units"},
          {"split_k_max_m", ParamType::Integer, Dim::Dimensionless, "0", "GEMMs with M at or below this run as split-K plus a separate reduction kernel (one more launch); 0: never", {}, false, 0, true},
          {"pipeline_latency", ParamType::Quantity, Dim::Time, "0 s", "device time per GEMM kernel to fill its load pipeline and drain its epilogue (fitted on small GEMMs replayed from a graph)", {}, false, 0, true},
          {"split_k_fixup", ParamType::Quantity, Dim::Time, "0 s", "device time per extra K split of a GEMM with too few output tiles to fill the units: its partial tiles are reduced one after another (stream-K fixup)", {}, false, 0, true},
          {"grouped_efficiency", ParamType::Real, Dim::Dimensionless, "1", "fraction of the memory's sustained bandwidth a grouped GEMM kernel (one kernel over all experts, torch._grouped_mm) reaches"},
          {"grouped_small_tile", ParamType::Any, Dim::Dimensionless, "", "grouped GEMM kernel: output tile [m, n] of a small group (PyTorch on Hopper: [64, 128], ping-pong); with grouped_large_tile, grouped GEMMs run persistent waves of one tile, no split-K", {}, true},
          {"grouped_large_tile", ParamType::Any, Dim::Dimensionless, "", "grouped GEMM kernel: output tile [m, n] of a group that is not small (PyTorch on Hopper: [128, 256], cooperative); absent: grouped GEMMs are costed like dense ones", {}, true},
          {"grouped_small_max", ParamType::Integer, Dim::Dimensionless, "0", "a group is small when its rows (tokens per expert) or its N are at most this (PyTorch: 128); 0: no group is small", {}, false, 0, true},
          {"grouped_small_slots", ParamType::Integer, Dim::Dimensionless, "1", "tiles one unit works on at once with the small tile (ping-pong: 2 consumer warp groups)"},
          {"grouped_setup_kernels", ParamType::Integer, Dim::Dimensionless, "0", "kernels a grouped GEMM launches before the GEMM itself (PyTorch: 1, which writes the per-group pointers and shapes)", {}, false, 0, true},
          {"grouped_dtypes", ParamType::Any, Dim::Dimensionless, "", "dtypes the declared grouped kernel serves (PyTorch's torch._grouped_mm: [bf16]); grouped GEMMs of other dtypes are costed as dense ones; required with grouped_large_tile", {}, true},
          {"decode_flash_latency", ParamType::Quantity, Dim::Time, "0 s", "fixed device time of a decode attention call (<= 16 queries) with the flash kernel (split-KV: partial and combine passes), beyond one kernel's overhead", {}, false, 0, true},
          {"decode_flash_bandwidth", ParamType::Real, Dim::Dimensionless, "1", "fraction of the memory's sustained bandwidth the flash kernel reaches streaming a KV cache"},
          {"decode_masked_latency", ParamType::Quantity, Dim::Time, "0 s", "same, for the memory-efficient kernel SDPA runs when an explicit attn_mask is given (e.g. a static KV cache)", {}, false, 0, true},
          {"decode_masked_bandwidth", ParamType::Real, Dim::Dimensionless, "1", "fraction of the memory's sustained bandwidth the memory-efficient kernel reaches streaming a KV cache"},
          {"scheduler", ParamType::Enum, Dim::Dimensionless, "waves", "how GEMM work is spread over units: waves of whole tiles (with split-K when tiles are few) or stream_k (even split, no wave quantisation)", {"waves", "stream_k"}},
      }};
  return t;
}

namespace {

/// A tile [m, n] of positive integers under `key`, or (0, 0) when the key is absent.
std::pair<int, int> read_tile(const Section& s, const char* key) {
  YAML::Node t = s.node(key);
  if (!t) return {0, 0};
  const char* what = "expected a tile [m, n] of two positive integers";
  if (!t.IsSequence() || t.size() != 2 || !t[0].IsScalar() || !t[1].IsScalar()) s.fail(key, what);
  long m = 0, n = 0;
  try {
    m = t[0].as<long>();
    n = t[1].as<long>();
  } catch (const YAML::Exception&) {
    s.fail(key, what);
  }
  if (m <= 0 || n <= 0 || m > 65536 || n > 65536) s.fail(key, what + std::string(" (at most 65536)"));
  return {static_cast<int>(m), static_cast<int>(n)};
}

void read_grouped_kernel(const Section& s, GroupedKernelSpec& g) {
  g.small_tile = read_tile(s, "grouped_small_tile");
  g.large_tile = read_tile(s, "grouped_large_tile");
  g.small_max = static_cast<int>(s.integer("grouped_small_max"));
  g.small_slots = static_cast<int>(s.integer("grouped_small_slots"));
  g.setup_kernels = static_cast<int>(s.integer("grouped_setup_kernels"));
  if (g.small_slots < 1 || g.small_slots > 64) s.fail("grouped_small_slots", "expected 1 to 64 tiles per unit");
  if (g.setup_kernels > 16) s.fail("grouped_setup_kernels", "expected at most 16 kernels");
  if (YAML::Node d = s.node("grouped_dtypes")) {
    if (!g.declared()) s.fail("grouped_dtypes", "needs grouped_large_tile (the kernel whose dtypes these are)");
    const char* what = "expected a list of dtype names, e.g. [bf16]";
    if (!d.IsSequence() || d.size() == 0 || d.size() > 16) s.fail("grouped_dtypes", what);
    for (const auto& x : d) {
      if (!x.IsScalar()) s.fail("grouped_dtypes", what);
      try {
        g.dtypes.push_back(parse_dtype(x.as<std::string>()));
      } catch (const std::exception&) {
        s.fail("grouped_dtypes", std::string(what) + "; '" + x.as<std::string>() + "' is not a dtype");
      }
    }
  } else if (g.declared()) {
    s.fail("grouped_large_tile", "needs grouped_dtypes too (the dtypes the grouped kernel serves, e.g. [bf16])");
  }
  if (g.small_tile.first > 0 && !g.declared())
    s.fail("grouped_small_tile", "needs grouped_large_tile too (the tile of the groups that are not small)");
  if (g.small_max > 0 && g.small_tile.first == 0)
    s.fail("grouped_small_max", "needs grouped_small_tile (the tile a small group runs)");
}

}  // namespace

MatrixEngineSpec read_matrix_engine(const Section& s, const std::string& name) {
  MatrixEngineSpec e;
  e.name = name;
  e.units = static_cast<int>(s.integer("units"));
  for (const auto& [k, v] : s.quantity_map("peak")) e.peak[parse_dtype(k)] = v;
  if (e.peak.empty()) s.fail("peak", "at least one dtype peak is required");
  e.max_efficiency = s.real("max_efficiency");
  for (const auto& [k, v] : s.quantity_map("efficiency")) {
    if (v > 1) s.fail("efficiency", "an efficiency cannot exceed 1");
    e.efficiency[parse_dtype(k)] = v;
  }
  e.attention_efficiency = s.real("attention_efficiency");
  e.unaligned_efficiency = s.real("unaligned_efficiency");
  for (const char* k : {"max_efficiency", "attention_efficiency", "unaligned_efficiency"})
    if (s.real(k) > 1) s.fail(k, "an efficiency cannot exceed 1");
  e.alignment_elements = static_cast<int>(s.integer("alignment"));
  e.min_split_k = static_cast<int>(s.integer("min_split_k"));
  e.stream_k = s.string("scheduler") == "stream_k";
  e.split_k_max_m = static_cast<int>(s.integer("split_k_max_m"));
  e.pipeline_latency = s.quantity("pipeline_latency");
  e.split_k_fixup = s.quantity("split_k_fixup");
  e.grouped_efficiency = s.real("grouped_efficiency");
  read_grouped_kernel(s, e.grouped);
  e.decode.flash_latency = s.quantity("decode_flash_latency");
  e.decode.flash_bandwidth = s.real("decode_flash_bandwidth");
  e.decode.masked_latency = s.quantity("decode_masked_latency");
  e.decode.masked_bandwidth = s.real("decode_masked_bandwidth");
  if (s.has("unaligned_bandwidth")) e.unaligned_bandwidth = s.quantity("unaligned_bandwidth");
  e.unaligned_gemv_max_m = static_cast<int>(s.integer("unaligned_gemv_max_m"));
  for (const char* k : {"grouped_efficiency", "decode_flash_bandwidth", "decode_masked_bandwidth"})
    if (s.real(k) > 1) s.fail(k, "a fraction cannot exceed 1");
  YAML::Node tiles = s.node("tiles");
  if (!tiles) {
    e.tiles = {{128, 256}};
  } else {
    if (!tiles.IsSequence() || tiles.size() == 0) s.fail("tiles", "expected a list of [m, n] pairs");
    for (const auto& t : tiles) {
      if (!t.IsSequence() || t.size() != 2) s.fail("tiles", "expected a list of [m, n] pairs");
      int m = 0, n = 0;
      try {
        m = t[0].as<int>();
        n = t[1].as<int>();
      } catch (const YAML::Exception&) {
        s.fail("tiles", "tile sizes must be integers");
      }
      if (m <= 0 || n <= 0) s.fail("tiles", "tile sizes must be positive");
      e.tiles.emplace_back(m, n);
    }
  }
  return e;
}

double gemm_k_splits(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt) {
  if (g.grouped && e.grouped.serves(dt)) return 1;  // the grouped kernel never splits K
  auto skinny = e.tiles.front();
  for (const auto& t : e.tiles)
    if (t.first < skinny.first || (t.first == skinny.first && t.second < skinny.second)) skinny = t;
  const double tiles = g.batch * std::ceil(g.m / skinny.first) * std::ceil(g.n / skinny.second);
  if (tiles >= e.units) return 1;
  return std::max(1.0, std::min(std::floor(e.units / tiles), std::floor(g.k / e.min_split_k)));
}

int gemm_kernels(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt) {
  if (g.grouped && e.grouped.serves(dt)) return 1 + e.grouped.setup_kernels;
  return g.m <= e.split_k_max_m ? 2 : 1;
}

namespace {

/// The grouped kernel's tile and tiles per unit for this shape (GroupedKernelSpec).
struct GroupedLayout {
  int tm, tn, slots;
};

GroupedLayout grouped_layout(const GroupedKernelSpec& k, const GemmShape& g) {
  const bool small = k.small_max > 0 && (g.m <= k.small_max || g.n <= k.small_max);
  if (small) return {k.small_tile.first, k.small_tile.second, k.small_slots};
  return {k.large_tile.first, k.large_tile.second, 1};
}

}  // namespace

double gemm_compute_time(const MatrixEngineSpec& e, const GemmShape& g, Dtype dt) {
  const auto it = e.peak.find(dt);
  if (it == e.peak.end())
    throw ConfigError(std::string("matrix engine '") + e.name + "' has no peak for dtype " +
                      dtype_name(dt) + "; add it under peak:");
  const double per_unit = it->second / e.units;
  const auto override_eff = e.efficiency.find(dt);
  double eff = override_eff != e.efficiency.end() ? override_eff->second : e.max_efficiency;
  if (!g.aligned(e.alignment_elements)) eff *= e.unaligned_efficiency;
  if (g.grouped && e.grouped.serves(dt)) {
    // Persistent waves of one tile, `slots` tiles per unit (GroupedKernelSpec).
    const auto [tm, tn, slots] = grouped_layout(e.grouped, g);
    const double tiles = g.batch * std::ceil(g.m / tm) * std::ceil(g.n / tn);
    const double waves = std::ceil(tiles / (static_cast<double>(e.units) * slots));
    return waves * slots * 2.0 * tm * tn * g.k / (per_unit * eff);
  }
  double best = std::numeric_limits<double>::infinity();
  if (e.stream_k) {
    for (const auto& [tm, tn] : e.tiles) {
      // Whole tiles are computed: M and N are padded up to the tile.
      const double padded = std::ceil(g.m / tm) * tm * std::ceil(g.n / tn) * tn;
      const double total = 2.0 * padded * g.k * g.batch / (it->second * eff);
      const double one_slice = 2.0 * tm * tn * std::min<double>(e.min_split_k, g.k) / (per_unit * eff);
      best = std::min(best, std::max(total, one_slice));
    }
    return best;
  }
  for (const auto& [tm, tn] : e.tiles) {
    const double tiles = g.batch * std::ceil(g.m / tm) * std::ceil(g.n / tn);
    double split = 1;
    if (tiles < e.units) {
      split = std::max(1.0, std::min(std::floor(e.units / tiles),
                                     std::floor(g.k / e.min_split_k)));
    }
    const double waves = std::ceil(tiles * split / e.units);
    const double t = waves * (2.0 * tm * tn * (g.k / split)) / (per_unit * eff);
    best = std::min(best, t);
  }
  return best;
}

}  // namespace orrery

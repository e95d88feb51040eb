#include "apps/common_options.h"

#include "core/mask_spec.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace ringlab::cli {

namespace {

// The reason `text` is not a whole number in [lo, hi], or "" when it is one (*value set).
std::string WholeNumberProblem(const std::string& text, int64_t lo, int64_t hi, int64_t* value) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  const size_t digits = text.starts_with('-') ? 1 : 0;
  if (text.size() <= digits || text.find_first_not_of("0123456789", digits) != std::string::npos)
    return "'" + text + "' is not a whole number; allowed: " + range;
  // "0064" read as 64 (and "010" is octal 8 to some readers): a value is written one way, so lists compare as text.
  if (text[digits] == '0' && text.size() > digits + 1)
    return "'" + text + "' has a leading zero; allowed: " + range + ", written without leading zeros";
  errno = 0;
  const long long v = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE || v < lo || v > hi) return "'" + text + "' is out of range; allowed: " + range;
  *value = v;
  return "";
}

}  // namespace

Status ParseWholeNumber(const std::string& what, const std::string& text, int64_t lo, int64_t hi, int64_t* value) {
  const std::string problem = WholeNumberProblem(text, lo, hi, value);
  if (problem.empty()) return Status::Ok();
  return Status::InvalidArgument(what + ": " + problem);
}

CLI::Validator IntegerIn(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        int64_t v = 0;
        return WholeNumberProblem(text, lo, hi, &v);
      },
      "INT in " + range);
}

CLI::Validator FiniteIn(double lo, double hi) {
  const std::string range = "[" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < lo || v > hi)
          return "'" + text + "' is not a finite number in " + range;
        return "";
      },
      "NUMBER in " + range);
}

std::vector<std::pair<std::string, std::string>> MaskInputs(const std::string& mask) {
  std::vector<std::pair<std::string, std::string>> inputs;
  for (std::string& file : MaskSpecFiles(mask)) inputs.emplace_back("--mask", std::move(file));
  return inputs;
}

Status CheckListText(const std::string& flag, const std::string& text) {
  if (text.empty() || text.front() == ',' || text.back() == ',' || text.find(",,") != std::string::npos)
    return Status::InvalidArgument(flag + " '" + text + "': a comma-separated list with no empty item (e.g. 1,2,4)");
  // A value twice ran its configurations twice (`plan --methods alltoall,alltoall`). Compared as text: numbers have
  // no leading zeros (ParseWholeNumber), so "64,064" is refused there.
  std::vector<std::string_view> items;
  for (size_t begin = 0; begin <= text.size();) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view item = std::string_view(text).substr(begin, end - begin);
    if (std::find(items.begin(), items.end(), item) != items.end())
      return Status::InvalidArgument(flag + " '" + text + "': '" + std::string(item) +
                                     "' is listed twice (each value once)");
    items.push_back(item);
    begin = end + 1;
  }
  return Status::Ok();
}

void AddCommonOptions(CLI::App* app, CommonOptions* o, bool placement_alias) {
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  app->add_option("--world,-w", o->world, "number of ranks (GPUs)")
      ->capture_default_str()
      ->check(IntegerIn(1, kIntMax));
  app->add_option("--batch,-b", o->batch, "batch size")->capture_default_str()->check(IntegerIn(1, kIntMax));
  app->add_option("--heads", o->heads, "query heads")->capture_default_str()->check(IntegerIn(1, kIntMax));
  app->add_option("--kv-heads", o->kv_heads, "key/value heads (GQA when fewer than --heads; must divide it)")
      ->capture_default_str()
      ->check(IntegerIn(1, kIntMax));
  app->add_option("--dim,-d", o->dim, "head dim")->capture_default_str()->check(IntegerIn(1, kIntMax));
  app->add_option("--seq,-s", o->seq, "global sequence length in tokens")
      ->capture_default_str()
      ->check(IntegerIn(1, std::numeric_limits<int64_t>::max()));
  app->add_flag("--causal,!--no-causal", o->causal, "causal mask (default) or full attention")
      ->capture_default_str()
      ->each([o](const std::string&) { o->causal_given = true; });
  app->add_option("--mask", o->mask,
                  "mask terms joined by '+': causal | full | window:L,R (keys in [q-L, q+R], -1 unlimited) | "
                  "docs:FILE (a 'length weight' histogram) | docs-synthetic:NAME[:SEED] (uniform | lognormal | "
                  "pretrain-mix | fixed-N) | cu-seqlens:FILE (exact document boundaries 0 ... seq, e.g. one batch's "
                  "cu_seqlens); without causal/full, --causal decides");
  app->add_option("--method,-m", o->method, "how K/V move: allgather | alltoall (ring pass-KV) | both")
      ->capture_default_str();
  app->add_option("--sharding", o->sharding,
                  "token layout: contiguous | head-tail (causal load balancing; the default, or contiguous when the "
                  "mask is not causal) | balanced (4 chunks per rank handed out by their work under --mask: packed "
                  "documents, windows)")
      ->capture_default_str()
      ->each([o](const std::string&) { o->sharding_given = true; });
  app->add_option("--pass", o->pass, "forward | backward | both")->capture_default_str();
  app->add_option("--dtype", o->dtype, "element type: bf16 | fp16 | fp32 | fp64")->capture_default_str();
  app->add_flag("--unfused-merge", o->unfused_merge, "merge partial outputs in separate ops (as PyTorch does)");
  app->add_flag("--pack-kv", o->pack_kv, "copy K and V into one buffer before each send (as PyTorch does)");
  app->add_option("--ulysses,-u", o->ulysses,
                  "Ulysses degree U: head all-to-all inside groups of U ranks (U = world: pure Ulysses; must divide "
                  "world and heads)")
      ->capture_default_str()
      ->check(IntegerIn(1, kIntMax));
  app->add_option("--ring,-r", o->ring, "ring degree R across the groups (0: world / ulysses; else U × R = world)")
      ->capture_default_str()
      ->check(IntegerIn(0, kIntMax));
  app->add_option(placement_alias ? "--placement,--ulysses-placement" : "--ulysses-placement", o->placement,
                  "consecutive (Ulysses groups of consecutive ranks: inside a node) | strided (the ring inside a node)")
      ->capture_default_str();
}

Status CausalFromMask(const CommonOptions& o, const ParsedMask& mask, bool* causal) {
  *causal = o.causal;
  if (!mask.causal) return Status::Ok();
  if (o.causal_given && *mask.causal != o.causal)
    return Status::InvalidArgument(std::string("--mask ") + (*mask.causal ? "causal" : "full") + " and " +
                                   (o.causal ? "--causal" : "--no-causal") +
                                   " disagree (give one of them, or the same mask in both)");
  *causal = *mask.causal;
  return Status::Ok();
}

Status MakeConfigs(const CommonOptions& o, std::vector<ScheduleConfig>* configs) {
  configs->clear();
  std::vector<Method> methods;
  if (o.method == "both") {
    methods = {Method::kAllGather, Method::kAllToAll};
  } else if (auto m = ParseMethod(o.method)) {
    methods = {*m};
  } else {
    return Status::InvalidArgument("--method '" + o.method + "' is not one of allgather, alltoall, both");
  }
  std::vector<Pass> passes;
  if (o.pass == "forward") passes = {Pass::kForward};
  else if (o.pass == "backward") passes = {Pass::kBackward};
  else if (o.pass == "both") passes = {Pass::kForward, Pass::kBackward};
  else return Status::InvalidArgument("--pass '" + o.pass + "' is not one of forward, backward, both");
  auto sharding = ParseSharding(o.sharding);
  if (!sharding) return Status::InvalidArgument("--sharding '" + o.sharding + "' is not one of " + kShardingChoices);
  auto dtype = ParseDType(o.dtype);
  if (!dtype) return Status::InvalidArgument("--dtype '" + o.dtype + "' is not one of bf16, fp16, fp32, fp64");
  auto placement = ParsePlacement(o.placement);
  if (!placement)
    return Status::InvalidArgument("--ulysses-placement '" + o.placement + "' is not one of consecutive, strided");
  Problem p{.batch = o.batch, .heads = o.heads, .kv_heads = o.kv_heads, .seq = o.seq, .head_dim = o.dim,
            .dtype = *dtype, .causal = o.causal};
  if (!o.mask.empty()) {
    if (o.seq < 1) return Status::InvalidArgument("--seq must be >= 1 (got " + std::to_string(o.seq) + ")");
    ParsedMask parsed;
    RINGLAB_RETURN_IF_ERROR(ParseMaskSpec(o.mask, o.seq, &parsed));
    RINGLAB_RETURN_IF_ERROR(CausalFromMask(o, parsed, &p.causal));
    p.mask = parsed.shape;
  }
  // Head-tail balances the causal triangle; full attention has none to balance, so its default layout is contiguous
  // (asked for explicitly, head-tail with full attention is still refused by ValidateConfig, naming the flag).
  if (!o.sharding_given && !p.causal && *sharding == ShardingKind::kHeadTail) sharding = ShardingKind::kContiguous;
  for (Method m : methods)
    for (Pass pass : passes) {
      ScheduleConfig cfg{.problem = p, .world = o.world, .sharding = *sharding, .method = m, .pass = pass,
                         .variants = {.fused_merge = !o.unfused_merge, .pack_kv = o.pack_kv},
                         .ulysses = o.ulysses, .ring = o.ring, .placement = *placement};
      RINGLAB_RETURN_IF_ERROR(ValidateConfig(cfg));
      configs->push_back(cfg);
    }
  return Status::Ok();
}

}  // namespace ringlab::cli

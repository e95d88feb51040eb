// The problem flags every ringlab subcommand shares (--world --batch --heads ... --pass --dtype), and their
// translation into validated ScheduleConfigs. Each subcommand lives in its own file; ringlab_main.cc lists them
// (apps/subcommand.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/mask_spec.h"
#include "core/schedule.h"
#include "core/status.h"

namespace ringlab::cli {

struct CommonOptions {
  int world = 8;
  int batch = 1;
  int heads = 32;
  int kv_heads = 8;
  int dim = 128;
  int64_t seq = 131072;
  bool causal = true;
  bool causal_given = false;  // --causal or --no-causal was given: a --mask naming causal or full must agree
  std::string mask;  // core/mask_spec.h: causal | full | window:L,R | docs:FILE | docs-synthetic:NAME, joined by '+'
  std::string method = "alltoall";     // allgather | alltoall | both
  std::string sharding = "head-tail";  // contiguous | head-tail | balanced
  bool sharding_given = false;  // not given: full attention (no causal imbalance to balance) takes contiguous
  std::string pass = "forward";        // forward | backward | both
  std::string dtype = "bf16";
  bool unfused_merge = false;
  bool pack_kv = false;
  int ulysses = 1;                        // Ulysses degree U (head all-to-all group size)
  int ring = 0;                           // ring degree R (0: world / ulysses)
  std::string placement = "consecutive";  // consecutive | strided (where the Ulysses groups lie)
};

// Parses `text` as a whole number in [lo, hi]: digits with an optional leading '-', nothing else (no spaces, '+',
// exponent, suffix or leading zero: "0064" is refused, "0" is fine). On failure the message names `what` (a flag,
// or "--shard '1/x': n") and the allowed range.
Status ParseWholeNumber(const std::string& what, const std::string& text, int64_t lo, int64_t hi, int64_t* value);

// A check for an integer flag: the text must be a whole number in [lo, hi]. Runs on the text as given, so that
// "--seq 1e20" or "--seq 99999999999999999999" is reported as typed, not as a converted or clamped number.
CLI::Validator IntegerIn(int64_t lo, int64_t hi);

// A check for a real-valued flag: a finite number in [lo, hi] (CLI::Range lets NaN through).
CLI::Validator FiniteIn(double lo, double hi);

// A comma-separated list flag's text: not empty, no empty item ("2,,4", "a,", ",a"), no item twice ("4,4",
// "alltoall,alltoall"); names the flag.
Status CheckListText(const std::string& flag, const std::string& text);

// The files --mask's docs:FILE and cu-seqlens:FILE terms read, as {"--mask", path}: inputs no output may replace
// (core/output_file.h CheckOutputsAreNotInputs).
std::vector<std::pair<std::string, std::string>> MaskInputs(const std::string& mask);

// Adds the shared flags to `app` (a subcommand), writing into `opts`. The Ulysses placement is
// --ulysses-placement, also spelled --placement unless `placement_alias` is false (sim and sweep, whose --placement
// already places ranks on GPUs: block | round-robin).
void AddCommonOptions(CLI::App* app, CommonOptions* opts, bool placement_alias = true);

// The causal flag a parsed --mask leaves: its causal or full term, else --causal/--no-causal. A term that contradicts
// a given --causal/--no-causal is an error naming both (the term used to win silently).
Status CausalFromMask(const CommonOptions& opts, const ParsedMask& mask, bool* causal);

// One config per (method, pass) the flags select, in the order allgather, alltoall × forward, backward.
// Errors name the flag and the allowed values.
Status MakeConfigs(const CommonOptions& opts, std::vector<ScheduleConfig>* configs);

}  // namespace ringlab::cli

#include "apps/sim_flags.h"

#include <limits>
#include <sstream>
#include <stdexcept>

#include "core/mask_spec.h"
#include "core/sharding.h"

namespace ringlab::cli {

Status LoadProfileFlag(const std::string& profile, sim::HardwareProfile* hw) {
  if (Status st = sim::LoadProfile(profile, hw); !st.ok()) return Status::InvalidArgument("--profile: " + st.message());
  return Status::Ok();
}

template <typename T>
Status ParseList(const std::string& flag, const std::string& text, std::vector<T>* out) {
  out->clear();
  RINGLAB_RETURN_IF_ERROR(CheckListText(flag, text));
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    int64_t v = 0;
    RINGLAB_RETURN_IF_ERROR(ParseWholeNumber(flag + " '" + text + "'", item, 1, std::numeric_limits<T>::max(), &v));
    out->push_back(T(v));
  }
  return Status::Ok();
}

template Status ParseList<int>(const std::string&, const std::string&, std::vector<int>*);
template Status ParseList<int64_t>(const std::string&, const std::string&, std::vector<int64_t>*);

Status ParseTopology(int nodes, int gpn, const std::string& placement, sim::TopologyConfig* t) {
  auto p = sim::ParsePlacement(placement);
  if (!p) return Status::InvalidArgument("--placement '" + placement + "' is not one of block, round-robin");
  if (nodes != kNotGiven && nodes < 1)
    return Status::InvalidArgument("--nodes must be >= 1 (leave it out for as many as the world needs), got " +
                                   std::to_string(nodes));
  if (gpn != kNotGiven && gpn < 1)
    return Status::InvalidArgument("--gpus-per-node must be >= 1 (leave it out for the profile's), got " +
                                   std::to_string(gpn));
  *t = sim::TopologyConfig{
      .nodes = nodes == kNotGiven ? 0 : nodes, .gpus_per_node = gpn == kNotGiven ? 0 : gpn, .placement = *p};
  return Status::Ok();
}

namespace {

// The sweep's --mask, checked at every seq of the grid (cu_seqlens must end at each; documents are drawn to fill each,
// which a mask parsed once for a placeholder seq would not). A mask with documents is drawn again per job
// (spec->mask_for_seq), one seq at a time, rather than kept for every seq at once.
Status SweepMask(const std::string& text, sim::SweepSpec* spec, ParsedMask* mask) {
  *mask = {};
  spec->mask_for_seq = nullptr;
  if (text.empty()) return Status::Ok();
  for (int64_t seq : spec->seqs)
    if (Status st = ParseMaskSpec(text, seq, mask); !st.ok())
      return Status::InvalidArgument(st.message() + " (for --seqs value " + std::to_string(seq) + ")");
  if (mask->shape.HasDocuments())
    spec->mask_for_seq = [text](int64_t seq, MaskShape* shape) {
      ParsedMask parsed;
      RINGLAB_RETURN_IF_ERROR(ParseMaskSpec(text, seq, &parsed));
      *shape = parsed.shape;
      return Status::Ok();
    };
  return Status::Ok();
}

}  // namespace

Status MakeSweepGrid(const CommonOptions& common, const SweepLists& lists, sim::SweepSpec* spec) {
  CommonOptions c = common;
  c.method = "alltoall";
  c.pass = "forward";
  std::vector<ScheduleConfig> base;
  c.world = 1;  // the lists below replace world and seq; validate the rest of the problem once
  c.seq = kBalancedChunksPerRank;  // a seq every sharding splits over one rank (balanced: 4 chunks; a seq of 2 was not)
  c.ulysses = 1;  // checked per job (U must divide each world)
  c.ring = 0;
  c.mask.clear();  // its documents depend on seq: SweepMask, over the grid's seqs
  RINGLAB_RETURN_IF_ERROR(ParseList("--worlds", lists.worlds, &spec->worlds));
  RINGLAB_RETURN_IF_ERROR(ParseList("--seqs", lists.seqs, &spec->seqs));
  ParsedMask mask;
  RINGLAB_RETURN_IF_ERROR(SweepMask(common.mask, spec, &mask));
  RINGLAB_RETURN_IF_ERROR(CausalFromMask(common, mask, &c.causal));
  RINGLAB_RETURN_IF_ERROR(MakeConfigs(c, &base));
  spec->base = base.front();
  spec->base.problem.mask = mask.shape;
  spec->base.ulysses = common.ulysses;
  spec->base.ring = common.ring;
  RINGLAB_RETURN_IF_ERROR(CheckListText("--methods", lists.methods));
  RINGLAB_RETURN_IF_ERROR(CheckListText("--passes", lists.passes));
  spec->methods.clear();
  std::stringstream ms(lists.methods);
  for (std::string m; std::getline(ms, m, ',');) {
    auto method = ParseMethod(m);
    if (!method) return Status::InvalidArgument("--methods: '" + m + "' is not one of allgather, alltoall");
    spec->methods.push_back(*method);
  }
  spec->passes.clear();
  std::stringstream ps(lists.passes);
  for (std::string p; std::getline(ps, p, ',');) {
    if (p == "forward") spec->passes.push_back(sim::SweepPass::kForward);
    else if (p == "backward") spec->passes.push_back(sim::SweepPass::kBackward);
    else if (p == "both") spec->passes.push_back(sim::SweepPass::kBoth);
    else return Status::InvalidArgument("--passes: '" + p + "' is not one of forward, backward, both");
  }
  return Status::Ok();
}

}  // namespace ringlab::cli

#include "sim/topology.h"

#include <cmath>

namespace ringlab::sim {

std::string_view PlacementName(Placement p) { return p == Placement::kBlock ? "block" : "round-robin"; }

std::optional<Placement> ParsePlacement(std::string_view name) {
  if (name == "block") return Placement::kBlock;
  if (name == "round-robin") return Placement::kRoundRobin;
  return std::nullopt;
}

Status Topology::Make(const HardwareProfile& hw, int world, const TopologyConfig& cfg, Topology* out) {
  Topology t;
  t.world_ = world;
  t.gpus_per_node_ = cfg.gpus_per_node > 0 ? cfg.gpus_per_node : hw.gpus_per_node;
  if (cfg.gpus_per_node < 0) return Status::InvalidArgument("--gpus-per-node must be positive");
  if (cfg.nodes < 0) return Status::InvalidArgument("--nodes must be positive");
  t.nodes_ = cfg.nodes > 0 ? cfg.nodes : (world + t.gpus_per_node_ - 1) / t.gpus_per_node_;
  if (int64_t(t.nodes_) * t.gpus_per_node_ < world)
    return Status::InvalidArgument("--nodes " + std::to_string(t.nodes_) + " × --gpus-per-node " +
                                   std::to_string(t.gpus_per_node_) + " GPUs cannot hold world " +
                                   std::to_string(world));
  t.placement_ = cfg.placement;
  t.nvl_bytes_per_ps_ = hw.nvlink_gbps * 1e9 / 1e12;
  t.nic_bytes_per_ps_ = hw.nic_gbps * 1e9 / 1e12;
  t.nvl_latency_ps_ = std::llround(hw.nvlink_latency_us * 1e6);
  t.nic_latency_ps_ = std::llround(hw.nic_latency_us * 1e6);
  *out = t;
  return Status::Ok();
}

int Topology::GpuOf(int rank) const {
  if (placement_ == Placement::kBlock) return rank;
  // Round robin over the nodes the world occupies.
  const int used_nodes = std::min(nodes_, world_);
  const int node = rank % used_nodes, local = rank / used_nodes;
  return node * gpus_per_node_ + local;
}

void Topology::Route(int a, int b, int* out_port, int* in_port, int64_t* latency_ps) const {
  const int ga = GpuOf(a), gb = GpuOf(b);
  if (ga / gpus_per_node_ == gb / gpus_per_node_) {
    *out_port = Port(ga, kNvlOut);
    *in_port = Port(gb, kNvlIn);
    *latency_ps = nvl_latency_ps_;
  } else {
    *out_port = Port(ga, kNicOut);
    *in_port = Port(gb, kNicIn);
    *latency_ps = nic_latency_ps_;
  }
}

std::string Topology::Describe() const {
  return std::to_string(nodes_) + " node(s) × " + std::to_string(gpus_per_node_) + " GPUs, " +
         std::string(PlacementName(placement_)) + " placement";
}

}  // namespace ringlab::sim

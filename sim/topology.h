// Topology: nodes of G GPUs joined inside a node by NVLink (through NVSwitch: every GPU has one NVLink port per
// direction) and between nodes by one NIC per GPU. A transfer from GPU a to GPU b uses a's egress port and b's ingress
// port (NVLink inside a node, NIC across nodes); bandwidth on a port is shared equally by the flows using it.
//
//   Topology topo(profile, /*world=*/16, /*nodes=*/2, /*gpus_per_node=*/8, Placement::kBlock);
//   topo.SameNode(7, 8);  // false: rank 7 is the last GPU of node 0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/profile.h"

namespace ringlab::sim {

// How ranks map to GPUs. kBlock: rank r on node r / G (a ring crosses nodes W/G times); kRoundRobin: rank r on node
// r % nodes (every ring hop crosses nodes, the worst case).
enum class Placement { kBlock, kRoundRobin };
std::string_view PlacementName(Placement p);
std::optional<Placement> ParsePlacement(std::string_view name);

struct TopologyConfig {
  int nodes = 0;          // 0: as many as the world needs
  int gpus_per_node = 0;  // 0: the profile's
  Placement placement = Placement::kBlock;
};

class Topology {
 public:
  enum PortKind { kNvlOut = 0, kNvlIn = 1, kNicOut = 2, kNicIn = 3 };
  static Status Make(const HardwareProfile& hw, int world, const TopologyConfig& cfg, Topology* out);

  int world() const { return world_; }
  Placement placement() const { return placement_; }
  int nodes() const { return nodes_; }
  int gpus_per_node() const { return gpus_per_node_; }
  int GpuOf(int rank) const;  // global GPU index = node·G + local
  int NodeOf(int rank) const { return GpuOf(rank) / gpus_per_node_; }
  bool SameNode(int a, int b) const { return NodeOf(a) == NodeOf(b); }
  int PortCount() const { return 4 * nodes_ * gpus_per_node_; }
  int Port(int gpu, PortKind k) const { return 4 * gpu + int(k); }
  double PortBytesPerPs(int port) const { return (port % 4) < 2 ? nvl_bytes_per_ps_ : nic_bytes_per_ps_; }
  // The two ports a transfer from rank a to rank b occupies, and its fixed latency in picoseconds.
  void Route(int a, int b, int* out_port, int* in_port, int64_t* latency_ps) const;
  std::string Describe() const;

 private:
  int world_ = 1, nodes_ = 1, gpus_per_node_ = 8;
  Placement placement_ = Placement::kBlock;
  double nvl_bytes_per_ps_ = 0, nic_bytes_per_ps_ = 0;
  int64_t nvl_latency_ps_ = 0, nic_latency_ps_ = 0;
};

}  // namespace ringlab::sim

// The engine's all-to-all (OpKind::kAllToAll, one Ulysses group; core/ulysses_layout.h).
//
// Model: U−1 concurrent flows per member, as NCCL runs it (ncclGroupStart, U−1 sends and U−1 receives, one launch):
// every member sends op.bytes/(U−1) to each other member at once, NVLink to those on its node, its NIC to the others.
// Concurrent rather than pairwise steps because that is what grouped send/recv does (one latency, not U−1), and the
// bytes of a balanced exchange share each port equally either way. The U−1 flows of one member through one port kind
// all start together, carry equal bytes and share that port equally (every member sends and receives the same), so
// they end together: the engine carries them as one flow of their summed bytes on the member's egress and ingress
// port of that kind (rate = the port's line, or all it gets beside other traffic). That keeps an all-to-all at two
// flows per member instead of U−1, so U = 128 at W = 1,024 stays cheap. Time alone:
//   latency + max(local bytes / NVLink, remote bytes / NIC), local bytes = op.bytes · (peers on the node)/(U−1).
// The exchange starts when every member has posted (each member's transfer waits for the last one's SMs) and
// completes on every member when the last member's flows are done (a member's receives end with the others' sends).
// Costs: the NVLink/NIC line (extrapolated) unless the profile has network.alltoall_time_us (measured, NVLink part).
#include <algorithm>

#include "sim/collective_groups.h"
#include "sim/engine.h"

namespace ringlab::sim {

void Engine::PostAllToAll(int r, int pos, TimePs now, TimePs ready) {
  const SimOp& op = OpAt(r, 1, pos);
  const int n = op.group_size, stride = op.group_stride;
  const int key = CollectiveKey(op.tag, GroupFirst(r, stride, n));
  AllToAll& a = alltoalls_[key];
  if (a.pos.empty()) {
    a.first = GroupFirst(r, stride, n);
    a.stride = stride;
    a.size = n;
    a.bytes = op.bytes;
    a.pos.assign(n, -1);
    a.ready.assign(n, 0);
  }
  const int i = GroupIndex(r, stride, n);
  a.pos[i] = pos;
  a.ready[i] = ready;
  if (++a.arrived < n) return;
  const TimePs wait = std::max<TimePs>(0, *std::max_element(a.ready.begin(), a.ready.end()) - now);
  const int64_t chunk = n > 1 ? a.bytes / (n - 1) : 0;
  for (int m = 0; m < n; ++m) {
    const int x = a.first + m * stride;
    int local_peer = -1, remote_peer = -1, local = 0, remote = 0;
    for (int k = 0; k < n; ++k) {
      const int y = a.first + k * stride;
      if (y == x) continue;
      if (topo_.SameNode(x, y)) ++local, local_peer = y;
      else ++remote, remote_peer = y;
    }
    // One flow per port kind, from x's egress to x's ingress of that kind (the route to a peer of that kind).
    if (local > 0) {
      ++a.flows_left;
      StartFlow(x, x, x, local_peer, chunk * local, wait, true, x, key, now, false, true);
    }
    if (remote > 0) {
      ++a.flows_left;
      StartFlow(x, x, x, remote_peer, chunk * remote, wait, true, x, key, now, false, true);
    }
  }
  if (a.flows_left == 0) {  // nothing to move (zero bytes still takes the flows above; only n = 1 gets here)
    const AllToAll done = a;
    alltoalls_.erase(key);
    for (int m = 0; m < n; ++m) CompleteComm(done.first + m * done.stride, done.pos[m], now);
  }
}

void Engine::FinishAllToAllFlow(const Flow& fl, TimePs now) {
  const int key = fl.dst_pos;
  AllToAll& a = alltoalls_.at(key);
  if (--a.flows_left > 0) return;
  const AllToAll done = a;
  alltoalls_.erase(key);
  for (int m = 0; m < done.size; ++m) CompleteComm(done.first + m * done.stride, done.pos[m], now);
}

}  // namespace ringlab::sim

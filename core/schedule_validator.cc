#include "core/schedule_validator.h"

#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

#include "core/ulysses_layout.h"

namespace ringlab {
namespace {

std::string Where(int rank, const Op& op) {
  std::ostringstream s;
  s << "rank " << rank << " op " << op.id << " (" << OpKindName(op.kind) << " step " << op.step;
  if (op.peer >= 0) s << " peer " << op.peer;
  if (op.tag >= 0) s << " tag " << op.tag;
  s << ")";
  return s.str();
}

Status Fail(const std::string& m) { return Status::Internal("schedule invalid: " + m); }

bool OnComputeStream(OpKind k) { return !IsCommunication(k); }

bool IsCollective(OpKind k) {
  return k == OpKind::kAllGather || k == OpKind::kReduceScatter || k == OpKind::kAllToAll;
}

// A collective instance: (kind, first rank of its communicator, tag).
using CollectiveKey = std::tuple<int, int, int>;
CollectiveKey KeyOf(const ScheduleConfig& cfg, int rank, const Op& op) {
  return {int(op.kind), CollectiveGroup(cfg, rank, op.kind).first, op.tag};
}

std::string HeadGroupName(const UlyssesLayout& layout, int group) {
  if (layout.Ulysses() == 1) return "";
  return " for head group " + std::to_string(group) + " (query heads " + std::to_string(layout.FirstQueryHead(group)) +
         ".." + std::to_string(layout.FirstQueryHead(group) + layout.QueryHeads() - 1) + ")";
}

}  // namespace

Status CheckStructure(const Schedule& schedule) {
  const int w = schedule.config.world;
  if (int(schedule.ranks.size()) != w)
    return Fail("has " + std::to_string(schedule.ranks.size()) + " ranks, world is " + std::to_string(w));
  for (int r = 0; r < w; ++r) {
    const RankSchedule& rs = schedule.ranks[r];
    for (size_t i = 0; i < rs.ops.size(); ++i) {
      const Op& op = rs.ops[i];
      if (op.id != int(i)) return Fail(Where(r, op) + " has id " + std::to_string(op.id) + " at index " + std::to_string(i));
      for (int32_t d : op.deps)
        if (d < 0 || d >= op.id) return Fail(Where(r, op) + " depends on op " + std::to_string(d) + ", not an earlier op");
      const bool compute = op.stream == StreamKind::kCompute;
      if (compute != OnComputeStream(op.kind))
        return Fail(Where(r, op) + " runs on the " + std::string(StreamName(op.stream)) + " stream");
      if ((op.kind == OpKind::kSend || op.kind == OpKind::kRecv) && (op.peer < 0 || op.peer >= w || op.peer == r))
        return Fail(Where(r, op) + " has peer " + std::to_string(op.peer) + " (allowed: another rank in 0.." +
                    std::to_string(w - 1) + ")");
      if (IsCollective(op.kind) && (op.reads.size() != 1 || op.writes.size() != 1))
        return Fail(Where(r, op) + " must read one buffer and write one");
      if (op.kind == OpKind::kAllToAll && !AllToAllPairs(op.reads[0].kind, op.writes[0].kind))
        return Fail(Where(r, op) + " exchanges " + BufferRefName(op.reads[0]) + " into " + BufferRefName(op.writes[0]) +
                    " (allowed: a buffer and its head-sharded form, either way)");
      for (const BufferRef& b : op.reads)
        if (!rs.FindBuffer(b)) return Fail(Where(r, op) + " reads undeclared buffer " + BufferRefName(b));
      for (const BufferRef& b : op.writes)
        if (!rs.FindBuffer(b)) return Fail(Where(r, op) + " writes undeclared buffer " + BufferRefName(b));
      if (op.group >= 0 && i > 0) {
        // A group's members must be consecutive on their stream: find this stream's previous op.
        for (size_t j = i; j-- > 0;) {
          if (rs.ops[j].stream != op.stream) continue;
          if (rs.ops[j].group != op.group) {
            for (size_t k = 0; k < j; ++k)
              if (rs.ops[k].group == op.group)
                return Fail(Where(r, op) + " is in group " + std::to_string(op.group) +
                            " but another op separates it from the group's earlier ops");
          }
          break;
        }
      }
    }
  }
  return Status::Ok();
}

// Per head group (the Ulysses index: each group of ranks with one index attends its own query heads), every
// (query chunk, key chunk) pair of the ring sharding exactly once. With ulysses = 1 there is one head group and the
// ring sharding is the world's.
Status CheckCoverage(const Schedule& schedule) {
  const ScheduleConfig& cfg = schedule.config;
  // Balanced sharding cuts blocks chunk pair by chunk pair through the masked path even under a plain mask (the
  // builder's BlocksFor), so it is checked by the mask's classification too.
  if (!cfg.problem.mask.IsPlain() || cfg.sharding == ShardingKind::kBalanced) return CheckMaskedCoverage(schedule);
  const UlyssesLayout layout(cfg);
  const Sharding sh = layout.RingSharding();
  const int64_t c = sh.ChunkTokens();
  const int chunks = layout.Ring() * sh.ChunksPerRank();
  enum Rel : uint8_t { kNone, kDiag, kFull, kPartial };
  auto truth = [&](int qc, int kc) -> Rel {
    if (!cfg.problem.causal) return kFull;
    return qc > kc ? kFull : qc == kc ? kDiag : kNone;
  };
  std::vector<uint16_t> count(size_t(layout.Ulysses()) * chunks * chunks, 0);
  for (int r = 0; r < cfg.world; ++r) {
    const int ring_index = layout.RingIndex(r), head_group = layout.UlyssesIndex(r);
    for (const Op& op : schedule.ranks[r].ops) {
      if (op.kind != OpKind::kAttend) continue;
      const AttendBlock& b = op.attend;
      if (b.q_begin % c || b.q_end % c || b.kv_begin % c || b.kv_end % c)
        return Fail(Where(r, op) + " block is not aligned to the sharding's chunks of " + std::to_string(c) + " tokens");
      if (b.q_begin < 0 || b.q_end > sh.ShardTokens() || b.kv_begin < 0 || b.kv_end > sh.ShardTokens() ||
          b.kv_origin < 0 || b.kv_origin >= layout.Ring())
        return Fail(Where(r, op) + " block lies outside the shards");
      for (int64_t qt = b.q_begin; qt < b.q_end; qt += c)
        for (int64_t kt = b.kv_begin; kt < b.kv_end; kt += c) {
          Rel rel = kFull;
          if (b.causal) {
            // The diagonal first: a chunk of one token on it is also wholly visible, and truth() calls it kDiag.
            const int64_t qa = qt - b.q_begin, kb = kt - b.kv_begin, d = b.diagonal_offset;
            rel = kb - qa == d ? kDiag : kb + c - 1 <= qa + d ? kFull : kb > qa + c - 1 + d ? kNone : kPartial;
          }
          if (rel == kNone) continue;
          const int qc = sh.Chunk(ring_index, int(qt / c)), kc = sh.Chunk(b.kv_origin, int(kt / c));
          const Rel want = truth(qc, kc);
          if (rel == kPartial || want != rel)
            return Fail(Where(r, op) + " computes query chunk " + std::to_string(qc) + " against key chunk " +
                        std::to_string(kc) + " with the wrong mask");
          if (++count[(size_t(head_group) * chunks + qc) * chunks + kc] > 1)
            return Fail(Where(r, op) + " computes query chunk " + std::to_string(qc) + " against key chunk " +
                        std::to_string(kc) + " a second time" + HeadGroupName(layout, head_group));
        }
    }
  }
  for (int g = 0; g < layout.Ulysses(); ++g)
    for (int qc = 0; qc < chunks; ++qc)
      for (int kc = 0; kc < chunks; ++kc)
        if (truth(qc, kc) != kNone && count[(size_t(g) * chunks + qc) * chunks + kc] != 1)
          return Fail("query chunk " + std::to_string(qc) + " against key chunk " + std::to_string(kc) +
                      " is never computed" + HeadGroupName(layout, g));
  return Status::Ok();
}

Status CheckMatching(const Schedule& schedule) {
  const ScheduleConfig& cfg = schedule.config;
  const int w = cfg.world;
  std::map<std::tuple<int, int, int>, std::pair<const Op*, const Op*>> p2p;  // (src, dst, tag) -> (send, recv)
  std::map<CollectiveKey, std::vector<std::pair<int, const Op*>>> collectives;  // -> (rank, op) in rank order
  for (int r = 0; r < w; ++r)
    for (const Op& op : schedule.ranks[r].ops) {
      if (op.kind == OpKind::kSend || op.kind == OpKind::kRecv) {
        const bool send = op.kind == OpKind::kSend;
        auto& slot = p2p[{send ? r : op.peer, send ? op.peer : r, op.tag}];
        const Op*& mine = send ? slot.first : slot.second;
        if (mine) return Fail(Where(r, op) + " duplicates an earlier " + std::string(OpKindName(op.kind)));
        mine = &op;
      } else if (IsCollective(op.kind)) {
        auto& v = collectives[KeyOf(cfg, r, op)];
        if (!v.empty() && v.back().first == r)
          return Fail(Where(r, op) + " joins collective tag " + std::to_string(op.tag) + " twice");
        v.push_back({r, &op});
      }
    }
  for (const auto& [key, pair] : p2p) {
    const auto& [src, dst, tag] = key;
    if (!pair.first)
      return Fail("rank " + std::to_string(dst) + " receives tag " + std::to_string(tag) + " from rank " +
                  std::to_string(src) + " which never sends it");
    if (!pair.second)
      return Fail("rank " + std::to_string(src) + " sends tag " + std::to_string(tag) + " to rank " +
                  std::to_string(dst) + " which never receives it");
    if (pair.first->bytes != pair.second->bytes)
      return Fail(Where(src, *pair.first) + " sends " + std::to_string(pair.first->bytes) + " bytes but the receive expects " +
                  std::to_string(pair.second->bytes));
  }
  for (const auto& [key, ops] : collectives) {
    const auto& [kind, first, tag] = key;
    const CommGroup group = CollectiveGroup(cfg, first, OpKind(kind));
    const std::string name = std::string(OpKindName(OpKind(kind))) + " tag " + std::to_string(tag) +
                             " of the group from rank " + std::to_string(first);
    if (int(ops.size()) != group.size)
      return Fail(name + " is joined by " + std::to_string(ops.size()) + " of " + std::to_string(group.size) + " ranks");
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].first != group.Rank(int(i)))
        return Fail(name + " is joined by rank " + std::to_string(ops[i].first) + ", not a member");
      const Op& a = *ops[i].second;
      const Op& b = *ops[0].second;
      if (a.bytes != b.bytes || !(a.reads == b.reads) || !(a.writes == b.writes))
        return Fail(name + " differs in bytes or buffers between ranks");
    }
  }
  return Status::Ok();
}

Status CheckBufferHazards(const Schedule& schedule) {
  for (int r = 0; r < schedule.config.world; ++r) {
    const RankSchedule& rs = schedule.ranks[r];
    const size_t n = rs.ops.size();
    // Two streams, each totally ordered: op a happens before op x iff pos(a) <= clock[x][stream(a)].
    std::vector<std::array<int32_t, kStreamCount>> clock(n, {-1, -1});
    std::vector<int32_t> pos(n);
    std::array<int32_t, kStreamCount> next_pos{0, 0}, last_on_stream{-1, -1};
    for (size_t i = 0; i < n; ++i) {
      const Op& op = rs.ops[i];
      const int s = int(op.stream);
      auto join = [&](int32_t pred) {
        for (int k = 0; k < kStreamCount; ++k) clock[i][k] = std::max(clock[i][k], clock[pred][k]);
      };
      if (last_on_stream[s] >= 0) join(last_on_stream[s]);
      for (int32_t d : op.deps) join(d);
      pos[i] = next_pos[s]++;
      clock[i][s] = pos[i];
      last_on_stream[s] = int32_t(i);
    }
    auto before = [&](int32_t a, size_t x) { return pos[a] <= clock[x][int(rs.ops[a].stream)]; };
    for (const BufferInfo& buf : rs.buffers) {
      int32_t last_write = -1;
      std::vector<int32_t> reads_since;
      for (size_t i = 0; i < n; ++i) {
        const Op& op = rs.ops[i];
        bool reads = false, writes = false;
        for (const BufferRef& b : op.reads) reads |= b == buf.ref;
        for (const BufferRef& b : op.writes) writes |= b == buf.ref;
        const std::string name = BufferRefName(buf.ref);
        if (reads) {
          if (last_write < 0 && (buf.init == BufferInit::kNone))
            return Fail(Where(r, op) + " reads " + name + " before anything fills it");
          if (last_write >= 0 && !before(last_write, i))
            return Fail(Where(r, op) + " reads " + name + " without waiting for op " + std::to_string(last_write) +
                        " that writes it");
        }
        if (writes) {
          if (last_write >= 0 && !before(last_write, i))
            return Fail(Where(r, op) + " writes " + name + " while op " + std::to_string(last_write) + " may still write it");
          for (int32_t rd : reads_since)
            if (rd != int32_t(i) && !before(rd, i))
              return Fail(Where(r, op) + " overwrites " + name + " while op " + std::to_string(rd) + " may still read it");
          last_write = int32_t(i);
          reads_since.clear();
        }
        if (reads && !writes) reads_since.push_back(int32_t(i));
      }
    }
  }
  return Status::Ok();
}

Status CheckProgress(const Schedule& schedule) {
  // Executes the schedule with zero-time ops and rendezvous semantics until nothing moves.
  const int w = schedule.config.world;
  std::vector<std::vector<uint8_t>> done(w), posted(w);
  std::vector<std::array<int32_t, kStreamCount>> head(w);
  std::vector<std::array<std::vector<int32_t>, kStreamCount>> stream_ops(w);
  std::map<std::tuple<int, int, int>, int> p2p_posted;  // (src, dst, tag) -> count of posted sides
  std::map<CollectiveKey, int> collective_posted;
  const ScheduleConfig& cfg = schedule.config;
  for (int r = 0; r < w; ++r) {
    const auto& ops = schedule.ranks[r].ops;
    done[r].assign(ops.size(), 0);
    posted[r].assign(ops.size(), 0);
    head[r] = {0, 0};
    for (const Op& op : ops) stream_ops[r][int(op.stream)].push_back(op.id);
  }
  auto key = [](int r, const Op& op) {
    return op.kind == OpKind::kSend ? std::make_tuple(r, op.peer, op.tag) : std::make_tuple(op.peer, r, op.tag);
  };
  bool moved = true;
  while (moved) {
    moved = false;
    for (int r = 0; r < w; ++r) {
      const auto& ops = schedule.ranks[r].ops;
      for (int s = 0; s < kStreamCount; ++s) {
        const auto& list = stream_ops[r][s];
        while (head[r][s] < int32_t(list.size())) {
          // The unit at the head: one op, or a whole group of consecutive ops.
          int32_t first = head[r][s], last = first;
          const int group = ops[list[first]].group;
          while (group >= 0 && last + 1 < int32_t(list.size()) && ops[list[last + 1]].group == group) ++last;
          bool deps_done = true;
          for (int32_t k = first; k <= last; ++k)
            for (int32_t d : ops[list[k]].deps) deps_done &= bool(done[r][d]);
          if (!deps_done) break;
          for (int32_t k = first; k <= last; ++k) {
            const Op& op = ops[list[k]];
            if (posted[r][op.id]) continue;
            posted[r][op.id] = 1;
            moved = true;
            if (op.kind == OpKind::kSend || op.kind == OpKind::kRecv) ++p2p_posted[key(r, op)];
            if (IsCollective(op.kind)) ++collective_posted[KeyOf(cfg, r, op)];
          }
          bool all_done = true;
          for (int32_t k = first; k <= last; ++k) {
            const Op& op = ops[list[k]];
            bool ok = true;
            if (op.kind == OpKind::kSend || op.kind == OpKind::kRecv) ok = p2p_posted[key(r, op)] == 2;
            if (IsCollective(op.kind))
              ok = collective_posted[KeyOf(cfg, r, op)] == CollectiveGroup(cfg, r, op.kind).size;
            all_done &= ok;
          }
          if (!all_done) break;
          for (int32_t k = first; k <= last; ++k) done[r][list[k]] = 1;
          head[r][s] = last + 1;
          moved = true;
        }
      }
    }
  }
  for (int r = 0; r < w; ++r)
    for (int s = 0; s < kStreamCount; ++s)
      if (head[r][s] < int32_t(stream_ops[r][s].size())) {
        const Op& op = schedule.ranks[r].ops[stream_ops[r][s][head[r][s]]];
        return Fail("deadlock: " + Where(r, op) + " on the " + std::string(StreamName(StreamKind(s))) +
                    " stream can never finish");
      }
  return Status::Ok();
}

Status CheckBalance(const Schedule& schedule) {
  const ScheduleConfig& cfg = schedule.config;
  if (cfg.sharding != ShardingKind::kHeadTail || !cfg.problem.mask.IsPlain()) return Status::Ok();
  std::vector<double> flops(cfg.world, 0);
  for (int r = 0; r < cfg.world; ++r)
    for (const Op& op : schedule.ranks[r].ops) flops[r] += op.flops;
  for (int r = 1; r < cfg.world; ++r)
    if (std::abs(flops[r] - flops[0]) > 1e-9 * flops[0])
      return Fail("head-tail rank " + std::to_string(r) + " has " + std::to_string(flops[r]) + " FLOPs, rank 0 has " +
                  std::to_string(flops[0]));
  return Status::Ok();
}

Status ValidateSchedule(const Schedule& schedule) {
  RINGLAB_RETURN_IF_ERROR(CheckStructure(schedule));
  RINGLAB_RETURN_IF_ERROR(CheckCoverage(schedule));
  RINGLAB_RETURN_IF_ERROR(CheckMatching(schedule));
  RINGLAB_RETURN_IF_ERROR(CheckBufferHazards(schedule));
  RINGLAB_RETURN_IF_ERROR(CheckProgress(schedule));
  RINGLAB_RETURN_IF_ERROR(CheckMaskedHops(schedule));
  return CheckBalance(schedule);
}

}  // namespace ringlab

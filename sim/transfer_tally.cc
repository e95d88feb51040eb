#include "sim/transfer_tally.h"

#include <cstdio>

namespace ringlab::sim {

const char* TransferExtrapolationName(TransferExtrapolation e) {
  switch (e) {
    case TransferExtrapolation::kNone: return "measured";
    case TransferExtrapolation::kSizeOutsideTable: return "size outside the measured NCCL table";
    case TransferExtrapolation::kNoTable: return "no measured NCCL table (line)";
    case TransferExtrapolation::kNic: return "across nodes (NIC line, not measured)";
  }
  return "?";
}

const char* TransferExtrapolationKey(TransferExtrapolation e) {
  switch (e) {
    case TransferExtrapolation::kNone: return "none";
    case TransferExtrapolation::kSizeOutsideTable: return "size";
    case TransferExtrapolation::kNoTable: return "no_table";
    case TransferExtrapolation::kNic: return "nic";
  }
  return "?";
}

void TransferTally::Add(int64_t b, TransferExtrapolation why) {
  ++transfers;
  bytes += double(b);
  if (why == TransferExtrapolation::kNone) return;
  ++extrapolated[int(why)];
  extrapolated_bytes[int(why)] += double(b);
}

void TransferTally::Scale(int64_t times) {
  transfers *= times;
  bytes *= double(times);
  for (int i = 0; i < kTransferExtrapolationKinds; ++i) {
    extrapolated[i] *= times;
    extrapolated_bytes[i] *= double(times);
  }
}

void TransferTally::Merge(const TransferTally& o) {
  transfers += o.transfers;
  bytes += o.bytes;
  for (int i = 0; i < kTransferExtrapolationKinds; ++i) {
    extrapolated[i] += o.extrapolated[i];
    extrapolated_bytes[i] += o.extrapolated_bytes[i];
  }
  if (first.empty()) first = o.first;
}

int64_t TransferTally::ExtrapolatedCount() const {
  int64_t n = 0;
  for (int64_t x : extrapolated) n += x;
  return n;
}

double TransferTally::ExtrapolatedBytes() const {
  double s = 0;
  for (double x : extrapolated_bytes) s += x;
  return s;
}

nlohmann::json TransferExtrapolationJson(const TransferTally& t) {
  nlohmann::json by = nlohmann::json::object();
  for (int i = 1; i < kTransferExtrapolationKinds; ++i)
    if (t.extrapolated_bytes[i] > 0 && t.bytes > 0)
      by[TransferExtrapolationKey(TransferExtrapolation(i))] = t.extrapolated_bytes[i] / t.bytes;
  return {{"share", t.Share()},
          {"transfers", t.transfers},
          {"extrapolated_transfers", t.ExtrapolatedCount()},
          {"by_reason", by}};
}

std::string TransferExtrapolationLine(const TransferTally& t) {
  if (t.ExtrapolatedCount() == 0) return "transfers extrapolated: none (every transfer's time from measured data)";
  char buf[160];
  snprintf(buf, sizeof buf, "transfers extrapolated: %.1f%% of bytes (", 100 * t.Share());
  std::string s = buf;
  bool first = true;
  for (int i = 1; i < kTransferExtrapolationKinds; ++i) {
    if (t.extrapolated[i] == 0) continue;
    snprintf(buf, sizeof buf, "%s%s %.1f%%", first ? "" : ", ", TransferExtrapolationName(TransferExtrapolation(i)),
             t.bytes > 0 ? 100 * t.extrapolated_bytes[i] / t.bytes : 0.0);
    s += buf;
    first = false;
  }
  return s + ")";
}

}  // namespace ringlab::sim

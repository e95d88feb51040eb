// Which simulated transfers take their time from measured data and which do not (issue 15: no silent extrapolation).
//
// A transfer's time is measured when a table of the profile covers its size: NVLink point-to-point inside
// network.p2p_time_us (pair or ring), an all-to-all inside network.alltoall_time_us. A collective ring step on NVLink
// uses the line fitted to real traces (nvlink_gbps, collective_hop_latency_us) and counts as measured. Everything else
// is extrapolated: a size below or above the table (the line's slope beyond its ends), no table (the line), and every
// transfer over the NIC (nothing across nodes was measured: one-GPU and one-node calibration only).
//
//   TransferTally t;  t.Add(rank, bytes, TransferExtrapolation::kSizeOutsideTable, "...");
//   std::cout << TransferExtrapolationLine(t);   // "transfers extrapolated: 100.0% of bytes (...)"
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ringlab::sim {

enum class TransferExtrapolation : uint8_t { kNone, kSizeOutsideTable, kNoTable, kNic };
inline constexpr int kTransferExtrapolationKinds = 4;

// "size outside the measured NCCL table", ...; the JSON key ("size", "no_table", "nic").
const char* TransferExtrapolationName(TransferExtrapolation e);
const char* TransferExtrapolationKey(TransferExtrapolation e);

// Transfers and their bytes, and how many of them are extrapolated, per reason. The first extrapolated transfer is
// kept in words for --strict.
struct TransferTally {
  int64_t transfers = 0;
  double bytes = 0;
  std::array<int64_t, kTransferExtrapolationKinds> extrapolated{};
  std::array<double, kTransferExtrapolationKinds> extrapolated_bytes{};
  std::string first;  // "rank 3 sends 524288 bytes to rank 4 over NVLink: ...", or empty
  void Add(int64_t bytes, TransferExtrapolation why);
  // Multiplies every count (a symmetric run stands for W/P ranks per simulated one).
  void Scale(int64_t times);
  // Adds another run's counts (the first extrapolated transfer stays the earlier one).
  void Merge(const TransferTally& o);
  int64_t ExtrapolatedCount() const;
  double ExtrapolatedBytes() const;
  double Share() const { return bytes > 0 ? ExtrapolatedBytes() / bytes : 0; }
};

// {"share": extrapolated bytes / bytes, "transfers": n, "extrapolated_transfers": n, "by_reason": {"size": share}}.
nlohmann::json TransferExtrapolationJson(const TransferTally& t);
// "transfers extrapolated: 100.0% of bytes (size outside the measured NCCL table 100.0%)", or
// "transfers extrapolated: none (every transfer's time from measured data)".
std::string TransferExtrapolationLine(const TransferTally& t);

}  // namespace ringlab::sim

// The GPU executor's rank runner (internal to kernels/cuda): what one rank's thread does in a Run. It allocates the
// schedule's buffers, fills the inputs, issues the rank's ops of each pass on its two streams (rank_runner.cc; one op
// at a time in rank_ops.cc), times the warm-up and timed iterations, and gathers the timings, timelines and outputs
// to rank 0, which assembles the RunResult (rank_results.cc). gpu_executor.h describes the executor.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/schedule_builder.h"
#include "core/status.h"
#include "core/ulysses_layout.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/gpu_executor.h"
#include "kernels/cuda/rank_resources.h"
#include "kernels/cuda/watchdog.h"

namespace ringlab::gpu::detail {

// An injected fault (testing only): RINGLAB_FAULT="RANK:OP:KIND" makes rank RANK fail before op OP of the forward.
struct Fault {
  int rank = -1, op = -1;
  std::string kind;  // error | hang | exit
};

Fault FaultFromEnv();

// Bytes of the all-to-all staging buffer rank `rank` of `s` needs (0 without all-to-alls; rank_alltoall.cc).
int64_t AllToAllStagingBytes(const Schedule& s, int rank);

// What every rank thread of one Run needs.
struct Job {
  int world = 1;
  const RunRequest* request = nullptr;
  const InputSource* inputs = nullptr;
  const Schedule* fwd = nullptr;
  const Schedule* bwd = nullptr;  // null: forward only
  Fault fault;
};

class RankRunner {
 public:
  RankRunner(Rank& r, const Job& job, AbortState& shared)
      : r_(r), job_(job), shared_(shared), cfg_(job.fwd->config), p_(cfg_.problem), layout_(cfg_),
        ap_(layout_.LocalProblem()),
        operands_(cfg_.ulysses > 1 ? AttentionOperands::HeadSharded() : AttentionOperands::Inputs()),
        piece_(layout_.PieceTokens()), s_(layout_.RingShardTokens()) {
    elem_ = p_.dtype == DType::kFloat16 ? cuda::ElementType::kFloat16 : cuda::ElementType::kBFloat16;
  }

  // Runs the job on this rank; the root (rank 0) fills *result.
  Status Main(RunResult* result);

 private:
  // This rank's timings of the job: per pass (0 forward only, 1 forward+backward) the median and per-iteration
  // times and the warm-up iterations run.
  struct Timings {
    double median_ms[2] = {0, 0};
    std::vector<double> iter_ms[2];
    int warmups[2] = {0, 0};
  };
  // What the root receives from every rank (index = rank).
  struct Gathered {
    std::vector<std::vector<char>> stats, times[2];
    std::vector<std::vector<float>> out, lse, dq, dkv;
  };

  // Failures: each records the first failure of the job (the other ranks see the abort) and names the rank.
  Status Error(const std::string& what);
  Status Cuda(cudaError_t e, const char* what);
  Status Nccl(ncclResult_t res, const char* what);
  Status Kernel(const Status& launched, const char* what);
  Status Aborted() { return Status::Internal(shared_.Message()); }

  int64_t Es() const { return 2; }
  // Elements of one half (K or V) of the K/V shard attention reads (the rank's KV heads over the ring shard), and of
  // the rank's K/V input piece (every KV head over S/W tokens). The same when ulysses = 1.
  int64_t KvHalf() const { return int64_t(ap_.batch) * ap_.kv_heads * s_ * ap_.head_dim; }
  int64_t PieceKvHalf() const { return int64_t(p_.batch) * p_.kv_heads * piece_ * p_.head_dim; }
  const Buffer* Find(BufferRef ref) const {
    auto it = r_.buffers.find({int(ref.kind), int(ref.slot)});
    return it == r_.buffers.end() ? nullptr : &it->second;
  }
  char* Ptr(BufferRef ref) const { return static_cast<char*>(Find(ref)->ptr); }
  cudaStream_t StreamOf(const Op& op) const { return op.stream == StreamKind::kCompute ? r_.compute : r_.comm_stream; }
  const RankSchedule& Sched(int pass) const { return (pass == 0 ? job_.fwd : job_.bwd)->ranks[r_.rank]; }
  size_t MaxOps(int pass) const;

  // rank_runner.cc: buffers, inputs, the passes and the timed iterations.
  Status Allocate();
  void FreeBuffers();
  Status FillInputs();
  Status WaitEvent(cudaEvent_t ev, const char* what);
  Status Barrier();
  Status InjectFault(const Op& op);
  Status IssuePass(int pass);
  Status Iterate(bool with_bwd, bool record, double* ms);
  Status AgreeMax(double* x);
  Status TimeIterations(bool with_bwd, int* warmups, std::vector<double>* ms);

  // rank_ops.cc: one op of the schedule.
  const char* KvOf(const Op& op) const;  // the K/V shard an attend op reads (K, then V), or null
  Status Execute(const Op& op, cudaStream_t st);
  Status AttendForward(const Op& op, cudaStream_t st);
  Status AttendBackward(const Op& op, cudaStream_t st);
  Status NcclOp(const Op& op);
  // The communicator of the ring dimension's collectives: the world's, or with ulysses > 1 the rank's ring group
  // (split once per Run; rank_alltoall.cc).
  ncclComm_t RingComm() const { return ring_comm_ ? ring_comm_ : r_.comm; }
  Status SplitRingComm();
  void ReleaseRingComm(bool failed);
  // rank_alltoall.cc: the Ulysses all-to-all, through the staging buffer kAllToAllStaging.
  Status AllToAll(const Op& op);
  static constexpr BufferRef kAllToAllStaging{BufferKind::kQ, 255};
  // rank_mask.cc: a window/document mask's device side.
  static constexpr BufferRef kMaskDocuments{BufferKind::kQ, 254};
  Status UploadMaskDocuments();
  cuda::TokenMask MaskOf(const AttendBlock& b) const;

  // rank_results.cc: results to the root and the root's RunResult.
  Status GatherToRoot(const void* host, int64_t bytes, std::vector<std::vector<char>>* out);
  Status GatherBufferToRoot(BufferRef ref, int64_t offset_bytes, int64_t bytes, std::vector<std::vector<float>>* out);
  Status GatherResults(const Timings& timings, Gathered* g);
  void AssembleResult(const Gathered& g, RunResult* result) const;
  void AssembleTraces(int pass, const Gathered& g, const std::string& gpu_name, RunResult* result) const;
  void AssembleOutputs(const Gathered& g, Outputs* o) const;

  Rank& r_;
  const Job& job_;
  AbortState& shared_;
  const ScheduleConfig& cfg_;
  const Problem& p_;   // the whole problem: inputs and outputs (the rank's piece, every head)
  UlyssesLayout layout_;
  Problem ap_;         // what attention runs on: the rank's heads (all of them when ulysses = 1)
  AttentionOperands operands_;  // the buffers attention reads and writes (head-sharded when ulysses > 1)
  int64_t piece_;      // tokens of the rank's input/output piece (S/W)
  int64_t s_;          // tokens attention runs over: the ring shard (S/R; = piece_ when ulysses = 1)
  ncclComm_t ring_comm_ = nullptr;
  cuda::ElementType elem_;
  bool fault_armed_ = true;
  // Per pass (0 from the forward-only iterations, 1 from the forward+backward ones): per timed iteration, each op's
  // start and end (ms from the iteration start).
  std::vector<std::vector<double>> times_[2];
  // Per pass, per op: the comm ops whose start the op waits for (core/start_order.h), derived once from the schedule.
  std::vector<std::vector<int32_t>> go_first_[2];
};

}  // namespace ringlab::gpu::detail

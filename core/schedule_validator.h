// Schedule validation: checks every invariant of DESIGN.md and names the first violation in words.
//
// Invariants:
//   1. structure: op ids are list indices, dependencies point to earlier ops, kinds run on their stream, buffers are
//      declared, a group's ops are consecutive on one stream;
//   2. coverage: every (query, key) pair the mask allows is computed exactly once and no masked pair is computed, per
//      head group (Ulysses index) when ulysses > 1, over the ring dimension's chunks;
//   3. matching: every send has exactly one receive with the same bytes, every collective is joined by exactly the
//      members of its communicator (ulysses_layout.h) with the same bytes and buffers; an all-to-all exchanges a
//      buffer and its head-sharded form;
//   4. buffers: no op reads a buffer before it is filled or overwrites one still being read (happens-before through
//      dependencies and stream order, within the rank);
//   5. progress: the dependency graph with rendezvous send/recv and collectives has no cycle and no cross-rank deadlock;
//   6. balance: head-tail sharding gives every rank equal FLOPs (plain masks only);
//   7. under a window or document mask (schedule_validator_mask.cc): coverage follows the mask's classification of
//      each chunk pair (empty pairs never computed, partial ones masked with the right global tokens and pair count),
//      and no ring hop carries K/V that no query of the receiving or a later rank on its path sees.
#pragma once

#include "core/schedule.h"
#include "core/status.h"

namespace ringlab {

Status ValidateSchedule(const Schedule& schedule);

// Individual checks, for tests and for tools that need only one.
Status CheckStructure(const Schedule& schedule);
Status CheckCoverage(const Schedule& schedule);
Status CheckMatching(const Schedule& schedule);
Status CheckBufferHazards(const Schedule& schedule);
Status CheckProgress(const Schedule& schedule);
Status CheckBalance(const Schedule& schedule);
Status CheckMaskedCoverage(const Schedule& schedule);  // CheckCoverage's path for window and document masks
Status CheckMaskedHops(const Schedule& schedule);

}  // namespace ringlab

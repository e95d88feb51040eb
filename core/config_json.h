// JSON forms of Problem, ScheduleConfig and Schedule (nlohmann::json), shared by traces, schedules and summaries.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/schedule.h"
#include "core/status.h"

namespace ringlab {

nlohmann::json ToJson(const Problem& p);
nlohmann::json ToJson(const ScheduleConfig& cfg);
nlohmann::json ToJson(const Op& op);
nlohmann::json ToJson(const Schedule& schedule);

// Parse with field-naming errors ("problem.heads must be an integer").
Status FromJson(const nlohmann::json& j, Problem* p);
Status FromJson(const nlohmann::json& j, ScheduleConfig* cfg);
// A trace's "ringlab" metadata object: version a whole number this build reads (core/trace.h's oldest to current;
// get<int>() would read 2.5 or 4294967298 as 2) and schedule_op_count, when present, a non-negative whole number.
// Both trace readers (ReadTraceJson, the viewer's loader) check it; `where` prefixes the message.
Status CheckTraceMetaNumbers(const nlohmann::json& ringlab, const std::string& where);

}  // namespace ringlab

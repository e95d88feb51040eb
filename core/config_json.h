// JSON forms of Problem, ScheduleConfig and Schedule (nlohmann::json), shared by traces, schedules and summaries.
#pragma once

#include <nlohmann/json.hpp>

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

}  // namespace ringlab

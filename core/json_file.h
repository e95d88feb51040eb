// Reading the JSON input files ringlab is given (profiles, calibration samples, base profiles) with the checks a
// careless edit needs: a directory or unreadable path, invalid JSON, and duplicate keys (nlohmann keeps the last one
// silently) are errors naming the file; UnknownKeys names keys a reader does not know, with the nearest known one.
//
//   nlohmann::json j;
//   RINGLAB_RETURN_IF_ERROR(ReadJsonFile(path, "profile", &j));  // "profile FILE: duplicate key network.nic_gbps"
//   if (std::string bad = UnknownKeys(j["network"], "network", {"nic_gbps", ...}); !bad.empty())
//     return Status::InvalidArgument("profile " + path + ": " + bad);  // "unknown key network.nic_gpbs (did you ..."
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ringlab {

// Parses `path`; errors read "<what> <path>: <reason>".
Status ReadJsonFile(const std::string& path, const std::string& what, nlohmann::json* out);
// Parses `text` with the same duplicate-key check; `origin` prefixes errors ("<origin>: <reason>").
Status ParseJsonText(std::string_view text, const std::string& origin, nlohmann::json* out);

// "" when every key of `object` is in `known`; else "unknown key FIELD.KEY (did you mean NEAREST?)" for the first
// unknown one (`field` is the object's dotted name, "" for the top level). Non-objects pass.
std::string UnknownKeys(const nlohmann::json& object, const std::string& field,
                        std::initializer_list<std::string_view> known);

}  // namespace ringlab

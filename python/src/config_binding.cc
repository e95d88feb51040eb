// ringlab.Config's validation: the flags the Python side builds from its keyword arguments are parsed by the CLI's own
// flag table (apps/common_options.h) and turned into ScheduleConfigs by the CLI's MakeConfigs, so every range check
// and every message is the CLI's ("--world: '0' is out of range; allowed: [1, 2147483647]").
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "apps/common_options.h"
#include "core/config_json.h"
#include "core/schedule.h"
#include "python/src/binding.h"

namespace ringlab::python {

cli::CommonOptions ParseCommonFlags(const std::vector<std::string>& flags) {
  cli::CommonOptions opts;
  CLI::App app{"ringlab"};
  cli::AddCommonOptions(&app, &opts);
  std::vector<std::string> args(flags.rbegin(), flags.rend());  // CLI11 takes the arguments last first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    ThrowIfError(Status::InvalidArgument(e.what()));
  }
  return opts;
}

namespace {

std::vector<ScheduleConfig> ConfigsFromFlags(const std::vector<std::string>& flags) {
  std::vector<ScheduleConfig> configs;
  ThrowIfError(cli::MakeConfigs(ParseCommonFlags(flags), &configs));
  return configs;
}

}  // namespace

void BindConfig(nb::module_& m) {
  nb::class_<ScheduleConfig>(m, "ScheduleConfig",
                             "One validated schedule configuration (one method and one pass): core/schedule.h.")
      .def("to_json", [](const ScheduleConfig& c) { return ToJson(c).dump(); },
           "The configuration as core's config JSON text (the `config` object of traces and summaries).")
      .def("describe", [](const ScheduleConfig& c) { return Describe(c); }, "One line, as the CLI prints it.")
      .def("__repr__", [](const ScheduleConfig& c) { return "<ScheduleConfig " + Describe(c) + ">"; });
  m.def("configs_from_flags", &ConfigsFromFlags, nb::arg("flags"),
        "Parses the CLI's common flags (--world 8 --seq 131072 ...) and returns one validated ScheduleConfig per "
        "(method, pass) they select, allgather before alltoall, forward before backward. Raises ValueError with the "
        "CLI's message on bad input.");
}

}  // namespace ringlab::python

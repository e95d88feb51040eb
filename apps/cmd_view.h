// `ringlab view`: hands over to the `ringlab-view` program installed beside `ringlab`, so that this CLI (which also
// runs on GPU machines) never links GL or GLFW.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace ringlab::cli {

struct ViewOptions;
std::shared_ptr<ViewOptions> SetupView(CLI::App* cmd);
int RunView(const ViewOptions& options);

}  // namespace ringlab::cli

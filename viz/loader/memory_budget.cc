#include "viz/loader/memory_budget.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringlab::viz::loader {

MemoryBudget ViewerMemoryBudget() {
  if (const char* env = std::getenv("RINGLAB_VIEW_MEMORY_MB")) {
    uint64_t mb = 0;
    auto r = std::from_chars(env, env + std::strlen(env), mb);
    if (r.ec == std::errc() && *r.ptr == '\0' && mb > 0 && mb < (uint64_t(1) << 40))
      return {mb << 20, "RINGLAB_VIEW_MEMORY_MB"};
  }
  MemoryBudget b{uint64_t(1) << 62, "unlimited"};
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) b = {uint64_t(pages) * uint64_t(page) / 2, "half the physical memory"};
  struct rlimit lim;
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur / 10 * 6 < b.bytes)
    b = {lim.rlim_cur / 10 * 6, "60% of the address-space limit (ulimit -v)"};
  b.source += "; set RINGLAB_VIEW_MEMORY_MB to change it";
  return b;
}

uint64_t EstimateLoadBytes(std::string_view json) {
  const uint64_t objects = uint64_t(std::count(json.begin(), json.end(), '{'));
  return json.size() + objects * kModelBytesPerObject;
}

std::string FormatMegabytes(uint64_t bytes) {
  char buf[48];
  if (bytes >= (uint64_t(1) << 30)) snprintf(buf, sizeof buf, "%.1f GB", double(bytes) / double(1 << 30));
  else snprintf(buf, sizeof buf, "%.0f MB", double(bytes) / double(1 << 20));
  return buf;
}

Status CheckTraceFits(const std::string& path, uint64_t needed, uint64_t already, const MemoryBudget& budget) {
  if (already + needed <= budget.bytes) return Status::Ok();
  return Status::InvalidArgument("trace file '" + path + "': loading it needs up to " + FormatMegabytes(needed) +
                                 (already ? " (" + FormatMegabytes(already) + " for the files before it)" : "") +
                                 ", above the viewer's memory budget of " + FormatMegabytes(budget.bytes) + " (" +
                                 budget.source + ")");
}

}  // namespace ringlab::viz::loader

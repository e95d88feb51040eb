#include <cuda_runtime.h>
#include <nccl.h>

#include <fstream>
#include <regex>

#include "calibrate/microbench/checks.h"
#include "calibrate/microbench/microbench.h"

namespace ringlab::calibrate {
namespace {

// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  ..." -> "580.159.04"; empty when not readable.
std::string KernelModuleVersion() {
  std::ifstream f("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(f, line)) return "";
  std::smatch m;
  if (std::regex_search(line, m, std::regex(R"((\d+\.\d+(\.\d+)?))"))) return m[1];
  return "";
}

std::string ApiVersion(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

Status QueryDevices(DeviceFacts* facts) {
  DeviceFacts f;
  const cudaError_t e = cudaGetDeviceCount(&f.visible);
  if (e != cudaSuccess || f.visible == 0)
    return Status::Unavailable(std::string("no CUDA GPU visible (") +
                               (e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount returned 0") + ")");
  cudaDeviceProp prop;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, 0));
  f.card = prop.name;
  f.sms = prop.multiProcessorCount;
  int driver = 0, runtime = 0;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaDriverGetVersion(&driver));
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaRuntimeGetVersion(&runtime));
  const std::string module = KernelModuleVersion();
  f.driver = module.empty() ? "CUDA driver API " + ApiVersion(driver) : module + " (CUDA " + ApiVersion(driver) + ")";
  f.cuda_runtime = ApiVersion(runtime);
  int nccl = 0;
  RINGLAB_NCCL_RETURN_IF_ERROR(ncclGetVersion(&nccl));
  // NCCL_VERSION_CODE: major*10000 + minor*100 + patch since 2.9
  f.nccl = std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." + std::to_string(nccl % 100);
  *facts = f;
  return Status::Ok();
}

}  // namespace ringlab::calibrate

# Sourced at the start of every command on a lent GPU machine (the repository root is the working folder):
# NCCL's NVLink multicast stays off (the machines are shared; see the device notes), Python prints unbuffered,
# and a CMake or nvcc build finds the NCCL and cuDNN headers and libraries that PyTorch's wheels ship.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
nvidia_pkg=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__file__) if nvidia.__file__ else list(nvidia.__path__)[0])' 2>/dev/null)
if [ -n "$nvidia_pkg" ]; then
  export NCCL_INCLUDE_DIR=$nvidia_pkg/nccl/include NCCL_LIB_DIR=$nvidia_pkg/nccl/lib
  export CUDNN_INCLUDE_DIR=$nvidia_pkg/cudnn/include CUDNN_LIB_DIR=$nvidia_pkg/cudnn/lib
fi
export CMAKE_GENERATOR=Ninja CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
# The card and driver every result names.
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader

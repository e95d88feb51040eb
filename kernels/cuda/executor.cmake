# CMake 3.25 predates nvcc's C++20 flag table (CMAKE_CUDA20_*_COMPILE_OPTION unset), so a CUDA target under
# CMAKE_CXX_STANDARD 20 fails to generate ("requires the language dialect CUDA20"). Teach it the flag, globally.
if(CMAKE_CUDA_COMPILER_ID STREQUAL "NVIDIA" AND NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20" CACHE INTERNAL "")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20" CACHE INTERNAL "")
endif()
# GPU executor (NCCL + CUDA streams) over the shared Schedule; included from kernels/cuda/CMakeLists.txt.
# gpu_executor.cc: the executor and its rank threads; rank_runner/rank_ops/rank_results.cc: what one rank does;
# rank_resources.cc: its streams, events, buffers; watchdog.cc: faults; launch_environment.cc: finding the peers.
# NCCL: the CUDA toolkit's folder by default; NCCL_INCLUDE_DIR / NCCL_LIB_DIR (environment or cache) point elsewhere
# (bench/device_env.sh sets them to PyTorch's copy on GPU machines).
find_path(RINGLAB_NCCL_INCLUDE nccl.h HINTS $ENV{NCCL_INCLUDE_DIR} ${NCCL_INCLUDE_DIR} ${CUDAToolkit_INCLUDE_DIRS})
find_library(RINGLAB_NCCL_LIB NAMES nccl libnccl.so.2 HINTS $ENV{NCCL_LIB_DIR} ${NCCL_LIB_DIR} ${CUDAToolkit_LIBRARY_DIR})
if(NOT RINGLAB_NCCL_INCLUDE OR NOT RINGLAB_NCCL_LIB)
  message(FATAL_ERROR "ringlab: NCCL not found (nccl.h / libnccl); set NCCL_INCLUDE_DIR and NCCL_LIB_DIR")
endif()
ringlab_library(ringlab_gpu_executor
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/gpu_executor.cc ${CMAKE_CURRENT_LIST_DIR}/rank_runner.cc
          ${CMAKE_CURRENT_LIST_DIR}/rank_ops.cc ${CMAKE_CURRENT_LIST_DIR}/rank_alltoall.cc
          ${CMAKE_CURRENT_LIST_DIR}/rank_mask.cc
          ${CMAKE_CURRENT_LIST_DIR}/rank_results.cc
          ${CMAKE_CURRENT_LIST_DIR}/rank_resources.cc ${CMAKE_CURRENT_LIST_DIR}/watchdog.cc
          ${CMAKE_CURRENT_LIST_DIR}/launch_environment.cc ${CMAKE_CURRENT_LIST_DIR}/nccl_id_exchange.cc
          ${CMAKE_CURRENT_LIST_DIR}/gpu_helpers.cu ${CMAKE_CURRENT_LIST_DIR}/ulysses_pack.cu
          ${CMAKE_CURRENT_LIST_DIR}/npy_io.cc
  DEPS ringlab_core ringlab_cuda_kernels CUDA::cudart ${RINGLAB_NCCL_LIB} Threads::Threads)
target_include_directories(ringlab_gpu_executor PUBLIC ${RINGLAB_NCCL_INCLUDE})
set_target_properties(ringlab_gpu_executor PROPERTIES CUDA_ARCHITECTURES 90 POSITION_INDEPENDENT_CODE ON)

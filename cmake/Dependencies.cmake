# Finds vpipe's dependencies (Debian 12 packages, see scripts/install-deps.sh) and exposes each
# as an imported target named vpipe::<name>, so the module CMakeLists never repeat discovery.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(WEBP REQUIRED IMPORTED_TARGET libwebp libwebpdemux)
pkg_check_modules(HEIF REQUIRED IMPORTED_TARGET libheif)
# vpipe's own AV1 plugin for libheif (src/vpipe/io/heif_av1.cpp): dav1d with a frame-size limit
pkg_check_modules(DAV1D REQUIRED IMPORTED_TARGET dav1d)
pkg_check_modules(JXL REQUIRED IMPORTED_TARGET libjxl libjxl_threads)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# the crawler's HTTP(S) client (libcurl4-openssl-dev): the multi interface, HTTP/2
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.85)
find_package(PNG REQUIRED)
find_package(TIFF REQUIRED)
find_package(GIF REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)

add_library(vpipe::turbojpeg ALIAS PkgConfig::TURBOJPEG)
add_library(vpipe::webp ALIAS PkgConfig::WEBP)
add_library(vpipe::heif ALIAS PkgConfig::HEIF)
add_library(vpipe::dav1d ALIAS PkgConfig::DAV1D)
add_library(vpipe::jxl ALIAS PkgConfig::JXL)
add_library(vpipe::xxhash ALIAS PkgConfig::XXHASH)
add_library(vpipe::curl ALIAS PkgConfig::CURL)

# Debian ships OpenCV's CMake config only in the meta package libopencv-dev, which drags in
# every module (VTK included). vpipe links core + imgproc only, so find them directly.
find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
find_library(OPENCV_CORE_LIB opencv_core REQUIRED)
find_library(OPENCV_IMGPROC_LIB opencv_imgproc REQUIRED)
add_library(vpipe_opencv INTERFACE)
target_include_directories(vpipe_opencv SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
target_link_libraries(vpipe_opencv INTERFACE ${OPENCV_IMGPROC_LIB} ${OPENCV_CORE_LIB})
add_library(vpipe::opencv ALIAS vpipe_opencv)
# Optional OpenCV modules: vpipe_optional_opencv_module(dnn DNN "why") finds libopencv_dnn and
# opencv2/dnn.hpp, makes vpipe::opencv_dnn and sets VPIPE_HAVE_OPENCV_DNN; without the module
# the features that need it report themselves missing instead of the build failing.
macro(vpipe_optional_opencv_module module upper what)
  find_library(OPENCV_${upper}_LIB opencv_${module})
  find_path(OPENCV_${upper}_INCLUDE opencv2/${module}.hpp PATH_SUFFIXES opencv4)
  if(OPENCV_${upper}_LIB AND OPENCV_${upper}_INCLUDE)
    add_library(vpipe_opencv_${module} INTERFACE)
    target_link_libraries(vpipe_opencv_${module} INTERFACE ${OPENCV_${upper}_LIB} vpipe::opencv)
    add_library(vpipe::opencv_${module} ALIAS vpipe_opencv_${module})
    set(VPIPE_HAVE_OPENCV_${upper} ON)
  else()
    message(STATUS "OpenCV ${module} not found: ${what} left out (install libopencv-${module}-dev)")
    set(VPIPE_HAVE_OPENCV_${upper} OFF)
  endif()
endmacro()
# dnn: ONNX models on the CPU. objdetect: Haar/LBP cascades and the HOG people detector.
vpipe_optional_opencv_module(dnn DNN "the ONNX backend is")
vpipe_optional_opencv_module(objdetect OBJDETECT "cascade and HOG models are")

# LibTorch (TorchScript models, CPU or CUDA): optional, used when found. Debian's libtorch-dev
# puts TorchConfig.cmake in /usr/lib/<arch>/cmake/Torch; an unpacked LibTorch 2.x is found with
# -DTorch_DIR=<libtorch>/share/cmake/Torch (or CMAKE_PREFIX_PATH). Torch's config sets variables
# of its own (and, for CUDA builds, CUDA flags): found inside a function so they stay there; only
# the imported target `torch` (with its include dirs and -D_GLIBCXX_USE_CXX11_ABI) is kept, and
# src/vpipe/infer links it into torch_backend.cpp alone.
option(VPIPE_WITH_LIBTORCH "Build the LibTorch (TorchScript) backend when LibTorch is found" ON)
function(vpipe_find_libtorch)
  set(VPIPE_HAVE_LIBTORCH OFF PARENT_SCOPE)
  if(NOT VPIPE_WITH_LIBTORCH)
    message(STATUS "vpipe: LibTorch: off (VPIPE_WITH_LIBTORCH=OFF)")
    return()
  endif()
  find_package(Torch CONFIG QUIET)
  if(Torch_FOUND AND TARGET torch)
    set(VPIPE_HAVE_LIBTORCH ON PARENT_SCOPE)
    set(version "")
    if(DEFINED Torch_VERSION)
      set(version " ${Torch_VERSION}")
    elseif(DEFINED CAFFE2_VERSION)
      set(version " ${CAFFE2_VERSION}")
    endif()
    message(STATUS "vpipe: LibTorch found${version} (${Torch_DIR}): the TorchScript backend is built")
  else()
    message(STATUS "vpipe: LibTorch not found: the TorchScript backend is left out (install "
                   "libtorch-dev, or pass -DTorch_DIR=<libtorch>/share/cmake/Torch)")
  endif()
endfunction()
vpipe_find_libtorch()

# CUDA is optional: kernels are built when nvcc is found (issue 7), for the architectures of
# VPIPE_CUDA_ARCHITECTURES. They link the static CUDA runtime, which loads the driver
# (libcuda.so.1) only when first used: a binary built here runs on machines without a driver or
# a GPU, and says so (src/vpipe/device/cuda/gpu.h). -DVPIPE_CUDA=OFF builds without them.
option(VPIPE_CUDA "Build the CUDA kernels when nvcc is found" ON)
set(VPIPE_CUDA_ARCHITECTURES "75;80;86;89;90" CACHE STRING
    "GPU architectures of the CUDA kernels: 75 T4, 80 A100, 86 A10/RTX 30, 89 L4/RTX 40, 90 H100/H200")
include(CheckLanguage)
set(VPIPE_HAVE_NVCC OFF)
if(VPIPE_CUDA)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES ${VPIPE_CUDA_ARCHITECTURES})
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no CUDA 20 flags for nvcc; kernels are C++17
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(VPIPE_HAVE_NVCC ON)
  endif()
endif()
message(STATUS "vpipe: CUDA kernels: ${VPIPE_HAVE_NVCC} (architectures ${VPIPE_CUDA_ARCHITECTURES})")

# vpipe_codec: format sniffing, decoders and encoders over the codec libraries (no imgcodecs).
add_library(vpipe_codec STATIC
  ${CMAKE_CURRENT_LIST_DIR}/format.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decode_formats.cpp
  ${CMAKE_CURRENT_LIST_DIR}/png_decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tiff_decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/row_reduce.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pixel_budget.cpp
  ${CMAKE_CURRENT_LIST_DIR}/bmp_decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/exif.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jpeg_quality.cpp
  ${CMAKE_CURRENT_LIST_DIR}/encode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/heif_init.cpp
  ${CMAKE_CURRENT_LIST_DIR}/heif_av1.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tiff_io.cpp)
target_link_libraries(vpipe_codec
  PUBLIC vpipe_core
  PRIVATE vpipe::turbojpeg vpipe::webp vpipe::heif vpipe::dav1d vpipe::jxl PNG::PNG TIFF::TIFF GIF::GIF)

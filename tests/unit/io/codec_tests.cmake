# codec tests: sniffing, every encoder through the decoder, JPEG scaling and EXIF, damaged files,
# transparency in every format.
vpipe_add_test(codec_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/codec_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/codec_damage_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/codec_alpha_test.cpp
  LIBS vpipe_codec vpipe::webp)
# the JPEG quality estimate from the quantization table (the dedup keeper's compression signal)
vpipe_add_test(jpeg_quality_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/jpeg_quality_test.cpp
  LIBS vpipe_codec)
# big images in bounded memory: row-by-row PNG decoding and the decoded-pixel budget
vpipe_add_test(big_image_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/big_image_test.cpp LIBS vpipe_codec)
# TIFF by strips and tiles, whole or reduced while it is read, and its orientation tag
vpipe_add_test(tiff_decode_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/tiff_decode_test.cpp
  LIBS vpipe_codec TIFF::TIFF)
# HEIF/AVIF against hostile sizes: vpipe's AV1 plugin (coded-size limit, 8- and 10-bit frames)
# and the grid canvas limit
vpipe_add_test(heif_decode_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/heif_decode_test.cpp
  LIBS vpipe_codec vpipe::heif)

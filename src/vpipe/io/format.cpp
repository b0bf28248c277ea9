#include "vpipe/io/format.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>

namespace vpipe {
namespace {

bool starts_with(std::span<const uint8_t> head, std::span<const uint8_t> magic) {
  return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin());
}

bool starts_with(std::span<const uint8_t> head, std::string_view magic) {
  return head.size() >= magic.size() && std::memcmp(head.data(), magic.data(), magic.size()) == 0;
}

bool is_avif_brand(std::string_view brand) { return brand == "avif" || brand == "avis"; }

bool is_heif_brand(std::string_view brand) {
  static constexpr std::array<std::string_view, 10> kBrands = {
      "heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"};
  return std::find(kBrands.begin(), kBrands.end(), brand) != kBrands.end();
}

/// ISO-BMFF: [size:4]["ftyp"][major:4][minor:4][compatible:4]*. AVIF when the major brand or a
/// compatible brand says AV1 image, HEIF for the HEVC/generic image brands.
ImageFormat sniff_iso_bmff(std::span<const uint8_t> head) {
  if (head.size() < 12 || std::memcmp(head.data() + 4, "ftyp", 4) != 0) {
    return ImageFormat::kUnknown;
  }
  const uint32_t box_size = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) |
                            (uint32_t{head[2]} << 8) | uint32_t{head[3]};
  auto brand_at = [&](size_t offset) {
    return std::string_view(reinterpret_cast<const char*>(head.data()) + offset, 4);
  };
  const std::string_view major = brand_at(8);
  if (is_avif_brand(major)) return ImageFormat::kAvif;
  bool heif = is_heif_brand(major);
  const size_t end = std::min<size_t>(head.size(), box_size < 16 ? 16 : box_size);
  for (size_t offset = 16; offset + 4 <= end; offset += 4) {
    const std::string_view brand = brand_at(offset);
    if (is_avif_brand(brand)) return ImageFormat::kAvif;
    heif = heif || is_heif_brand(brand);
  }
  return heif ? ImageFormat::kHeif : ImageFormat::kUnknown;
}

}  // namespace

std::string_view format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kUnknown:
      return "";
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kGif:
      return "gif";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kHeif:
      return "heif";
    case ImageFormat::kAvif:
      return "avif";
    case ImageFormat::kJxl:
      return "jxl";
  }
  return "";
}

ImageFormat sniff_format(std::span<const uint8_t> head) {
  static constexpr std::array<uint8_t, 3> kJpeg = {0xFF, 0xD8, 0xFF};
  static constexpr std::array<uint8_t, 8> kPng = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  static constexpr std::array<uint8_t, 2> kJxlCodestream = {0xFF, 0x0A};
  static constexpr std::array<uint8_t, 12> kJxlContainer = {0x00, 0x00, 0x00, 0x0C, 'J',  'X',
                                                            'L',  ' ',  0x0D, 0x0A, 0x87, 0x0A};
  static constexpr std::array<uint8_t, 4> kTiffLittle = {'I', 'I', 0x2A, 0x00};
  static constexpr std::array<uint8_t, 4> kTiffBig = {'M', 'M', 0x00, 0x2A};
  static constexpr std::array<uint8_t, 4> kBigTiffLittle = {'I', 'I', 0x2B, 0x00};
  static constexpr std::array<uint8_t, 4> kBigTiffBig = {'M', 'M', 0x00, 0x2B};

  if (starts_with(head, kJpeg)) return ImageFormat::kJpeg;
  if (starts_with(head, kPng)) return ImageFormat::kPng;
  if (starts_with(head, "GIF87a") || starts_with(head, "GIF89a")) return ImageFormat::kGif;
  if (head.size() >= 12 && starts_with(head, "RIFF") &&
      std::memcmp(head.data() + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  if (starts_with(head, kTiffLittle) || starts_with(head, kTiffBig) ||
      starts_with(head, kBigTiffLittle) || starts_with(head, kBigTiffBig)) {
    return ImageFormat::kTiff;
  }
  if (starts_with(head, kJxlCodestream) || starts_with(head, kJxlContainer)) {
    return ImageFormat::kJxl;
  }
  // "BM" alone is too weak (text files start with it): also require a known DIB header size.
  if (head.size() >= 18 && starts_with(head, "BM")) {
    const uint32_t dib_size = uint32_t{head[14]} | (uint32_t{head[15]} << 8) |
                              (uint32_t{head[16]} << 16) | (uint32_t{head[17]} << 24);
    static constexpr std::array<uint32_t, 7> kDibSizes = {12, 40, 52, 56, 64, 108, 124};
    if (std::find(kDibSizes.begin(), kDibSizes.end(), dib_size) != kDibSizes.end()) {
      return ImageFormat::kBmp;
    }
  }
  return sniff_iso_bmff(head);
}

bool has_image_extension(std::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view ext_view = path.substr(dot + 1);
  if (ext_view.find('/') != std::string_view::npos || ext_view.size() > 4) return false;
  std::string ext(ext_view);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::array<std::string_view, 12> kExtensions = {
      "jpg", "jpeg", "png", "webp", "tif", "tiff", "gif", "bmp", "heic", "heif", "avif", "jxl"};
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

}  // namespace vpipe

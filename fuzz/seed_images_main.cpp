// Writes the part of the fuzz seed corpora that vpipe's own encoders make (scripts/fuzz/seeds.sh
// adds the rest): small images of every format in its variants (gray, RGB, alpha, 16 bits, EXIF
// orientations, lossy and lossless), and a libFuzzer dictionary of the pipeline config's keys.
//
//   vpipe_fuzz_seed_images OUT_DIR
//
// Writes OUT_DIR/<target>/<name> for the decoder and EXIF targets and OUT_DIR/config.dict.
// Deterministic: the same files every run.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "vpipe/io/encode.h"
#include "vpipe/pipeline/config.h"

namespace fs = std::filesystem;
using vpipe::Image;
using vpipe::Image16;

namespace {

/// A smooth, non-symmetric image (gray or RGB) with a little texture, so lossy codecs keep
/// some detail and every orientation differs.
Image pattern(int width, int height, int channels) {
  Image img(width, height, channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const double v = 128 + 90 * std::sin(0.3 * x + 0.17 * y * (c + 1)) + 30 * ((x ^ y) & 1);
        img.row(y)[x * channels + c] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
    }
  }
  return img;
}

/// Opacity falling from left to right, fully transparent in the last column.
Image ramp_alpha(int width, int height) {
  Image alpha(width, height, 1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      alpha.row(y)[x] = static_cast<uint8_t>(255 - x * 255 / std::max(1, width - 1));
    }
  }
  return alpha;
}

Image16 pattern16(int width, int height, int channels) {
  Image16 img(width, height, channels);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    img.pixels[i] = static_cast<uint16_t>((i * 2654435761u) >> 7);
  }
  return img;
}

/// Writes one seed; an encoder that fails (a codec built without an encoder) is reported and
/// skipped, as the corpus is still useful without that file.
class SeedWriter {
 public:
  explicit SeedWriter(fs::path root) : root_(std::move(root)) {}

  void add(const std::string& target, const std::string& name,
           const std::function<std::vector<uint8_t>()>& encode) {
    try {
      const std::vector<uint8_t> bytes = encode();
      fs::create_directories(root_ / target);
      std::ofstream out(root_ / target / name, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
      ++written_;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vpipe_fuzz_seed_images: %s/%s skipped: %s\n", target.c_str(),
                   name.c_str(), e.what());
    }
  }

  [[nodiscard]] int written() const { return written_; }

 private:
  fs::path root_;
  int written_ = 0;
};

/// Every key, section and choice of the config schema as libFuzzer dictionary entries.
void write_config_dictionary(const fs::path& path) {
  std::set<std::string> words = {"true", "false", "null", "~",  "- ", ": ",    "[",  "]", "{", "}",
                                 "\n  ", "---",   "...",  "&a", "*a", "!!str", "\"", "'", "#"};
  for (const auto& section : vpipe::pipeline_config_sections()) {
    words.insert(std::string(section.key.substr(section.key.rfind('.') + 1)) + ":");
  }
  for (const auto& field : vpipe::pipeline_config_fields()) {
    words.insert(std::string(field.key.substr(field.key.rfind('.') + 1)) + ":");
    for (const auto choice : field.choices) words.emplace(choice);
  }
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& w : words) {
    out << '"';
    for (const char c : w) {
      if (c == '"' || c == '\\') {
        out << '\\' << c;
      } else if (c == '\n') {
        out << "\\x0A";
      } else {
        out << c;
      }
    }
    out << "\"\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: vpipe_fuzz_seed_images OUT_DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  SeedWriter seeds(root);
  const std::vector<std::pair<int, int>> sizes = {{1, 1}, {8, 8}, {17, 13}, {64, 48}};
  for (const auto& [width, height] : sizes) {
    // Named copies: lambdas below capture them (clang 14 cannot capture structured bindings).
    const int w = width;
    const int h = height;
    const std::string size = std::to_string(w) + "x" + std::to_string(h);
    for (const int channels : {1, 3}) {
      const Image img = pattern(w, h, channels);
      const std::string tag = size + (channels == 1 ? "_gray" : "_rgb");
      seeds.add("jpeg", tag + "_q50.jpg", [&] { return vpipe::encode_jpeg(img, 50); });
      seeds.add("jpeg", tag + "_q95.jpg", [&] { return vpipe::encode_jpeg(img, 95); });
      seeds.add("png", tag + ".png", [&] { return vpipe::encode_png(img); });
      seeds.add("png", tag + "_alpha.png",
                [&] { return vpipe::encode_png(img, ramp_alpha(w, h)); });
      seeds.add("png", tag + "_16.png",
                [&] { return vpipe::encode_png16(pattern16(w, h, channels)); });
      seeds.add("webp", tag + "_q60.webp", [&] { return vpipe::encode_webp(img, 60); });
      seeds.add("webp", tag + "_lossless.webp", [&] { return vpipe::encode_webp(img, 0, true); });
      seeds.add("webp", tag + "_alpha.webp",
                [&] { return vpipe::encode_webp(img, ramp_alpha(w, h), 60); });
      seeds.add("tiff", tag + ".tif", [&] { return vpipe::encode_tiff(img); });
      seeds.add("tiff", tag + "_16.tif",
                [&] { return vpipe::encode_tiff16(pattern16(w, h, channels)); });
      seeds.add("tiff", tag + "_assoc.tif",
                [&] { return vpipe::encode_tiff(img, ramp_alpha(w, h), true); });
      seeds.add("tiff", tag + "_unassoc.tif",
                [&] { return vpipe::encode_tiff(img, ramp_alpha(w, h), false); });
      seeds.add("gif", tag + ".gif", [&] { return vpipe::encode_gif(img); });
      seeds.add("gif", tag + "_alpha.gif",
                [&] { return vpipe::encode_gif(img, ramp_alpha(w, h)); });
      seeds.add("bmp", tag + ".bmp", [&] { return vpipe::encode_bmp(img); });
      seeds.add("jxl", tag + "_lossless.jxl", [&] { return vpipe::encode_jxl(img, 0.0F); });
      seeds.add("jxl", tag + "_d1.jxl", [&] { return vpipe::encode_jxl(img, 1.0F); });
      seeds.add("jxl", tag + "_alpha.jxl",
                [&] { return vpipe::encode_jxl(img, ramp_alpha(w, h), 1.0F); });
      // HEVC and AV1 encoders are slow and their files large: two sizes are enough.
      if (w == 8 || w == 17) {
        seeds.add("heif", tag + ".heic", [&] { return vpipe::encode_heic(img, 50); });
        seeds.add("heif", tag + "_alpha.heic",
                  [&] { return vpipe::encode_heic(img, ramp_alpha(w, h), 50); });
        seeds.add("heif", tag + ".avif", [&] { return vpipe::encode_avif(img, 50); });
        seeds.add("heif", tag + "_alpha.avif",
                  [&] { return vpipe::encode_avif(img, ramp_alpha(w, h), 50); });
      }
    }
  }
  // EXIF: a JPEG per orientation, for the JPEG decoder (rotation after decoding) and the EXIF
  // reader alike.
  const Image oriented = pattern(17, 13, 3);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const std::string name = "orientation" + std::to_string(orientation) + ".jpg";
    auto encode = [&] { return vpipe::encode_jpeg(oriented, 80, orientation); };
    seeds.add("jpeg", name, encode);
    seeds.add("exif", name, encode);
  }
  write_config_dictionary(root / "config.dict");
  std::printf("vpipe_fuzz_seed_images: %d seed images in %s\n", seeds.written(),
              root.string().c_str());
  return 0;
}

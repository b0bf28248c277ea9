// The floor for `vpipe scan` on JPEGs: read each file and decode it with TurboJPEG at the same
// DCT scale the scan uses (the smallest whose longer side is still >= 256 px), nothing else.
// No hashing, no signals, no manifest. Same thread count as the run it is compared with.
//
//   scan_floor --threads N FILE_LIST      (one path per line)
// Prints: "floor: N images in S s = R images/s (M failed)".
#include <turbojpeg.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kMinLongSide = 256;  // vpipe's kWorkingSize

bool decode_scaled(tjhandle tj, const std::vector<unsigned char>& jpeg, std::vector<unsigned char>& out) {
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, jpeg.data(), jpeg.size(), &w, &h, &subsamp, &colorspace) != 0) return false;
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  // Pick the smallest scale whose longer side stays >= kMinLongSide (or full size).
  int best_w = w, best_h = h;
  for (int i = 0; i < count; ++i) {
    const int sw = TJSCALED(w, factors[i]);
    const int sh = TJSCALED(h, factors[i]);
    if (std::max(sw, sh) >= std::min(kMinLongSide, std::max(w, h)) && sw * sh < best_w * best_h) {
      best_w = sw;
      best_h = sh;
    }
  }
  const bool gray = colorspace == TJCS_GRAY;
  const int pf = gray ? TJPF_GRAY : TJPF_RGB;
  out.resize(static_cast<size_t>(best_w) * best_h * tjPixelSize[pf]);
  const int rc = tjDecompress2(tj, jpeg.data(), jpeg.size(), out.data(), best_w, 0, best_h, pf, 0);
  return rc == 0 || tjGetErrorCode(tj) == TJERR_WARNING;
}

// One read of the whole file into a reused buffer: the cheapest way to get the bytes.
bool read_file(const std::string& path, std::vector<unsigned char>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  bytes.resize(size > 0 ? static_cast<size_t>(size) : 0);
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return got == bytes.size();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::string list;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      list = argv[i];
    }
  }
  std::ifstream in(list);
  if (list.empty() || !in) {
    std::cerr << "usage: scan_floor --threads N FILE_LIST\n";
    return 2;
  }
  std::vector<std::string> paths;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) paths.push_back(line);
  }
  std::atomic<size_t> next{0};
  std::atomic<size_t> failed{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      tjhandle tj = tjInitDecompress();
      std::vector<unsigned char> pixels;
      std::vector<unsigned char> bytes;
      for (size_t i = next++; i < paths.size(); i = next++) {
        if (!read_file(paths[i], bytes) || !decode_scaled(tj, bytes, pixels)) ++failed;
      }
      tjDestroy(tj);
    });
  }
  for (auto& w : workers) w.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("floor: %zu images in %.2f s = %.1f images/s (%zu failed)\n", paths.size(), s,
              paths.size() / s, failed.load());
  return 0;
}

#pragma once

// Procedural test images and the edits a near-duplicate goes through, for the perceptual hash
// tests. Everything is deterministic in the seed.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "vpipe/core/image.h"

namespace vpipe::test {

/// OpenCV header over `img`'s pixels (no copy; HWC uint8).
inline cv::Mat mat_of(Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), img.pixels.data(), img.stride());
}

/// Copies a continuous CV_8UC1 / CV_8UC3 matrix into an Image.
inline Image image_of(const cv::Mat& m) {
  Image out(m.cols, m.rows, m.channels());
  cv::Mat dst = mat_of(out);
  m.copyTo(dst);
  return out;
}

/// Smooth random field of `width` x `height` with a roughly 1/f spectrum like a photo's: value
/// noise on 3x3, 5x5, 9x9 and 17x17 grids, cubic-upsampled, amplitudes halving per octave.
/// Values lie within about +-1.
inline cv::Mat smooth_field(std::mt19937& rng, int width, int height) {
  std::uniform_real_distribution<float> value(-1.0F, 1.0F);
  cv::Mat field(height, width, CV_32FC1, cv::Scalar(0));
  float amplitude = 0.5F;
  for (int grid = 3; grid <= 17; grid = 2 * grid - 1) {
    cv::Mat coarse(grid, grid, CV_32FC1);
    for (int i = 0; i < grid * grid; ++i) coarse.at<float>(i) = value(rng);
    cv::Mat up;
    cv::resize(coarse, up, field.size(), 0, 0, cv::INTER_CUBIC);
    field += amplitude * up;
    amplitude /= 2;
  }
  return field;
}

/// A photo-like RGB scene of `width` x `height`: a linear colour gradient in a random
/// direction under a smooth multi-scale light field, 3 to 6 filled shapes (discs, rectangles,
/// ellipses) and a low-amplitude sinusoidal texture. Every channel stays within [32, 223], so a
/// brightness shift of up to 32 does not clip.
inline Image make_scene(uint32_t seed, int width = 256, int height = 256) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto colour = [&] {
    return cv::Scalar(70 + 115 * unit(rng), 70 + 115 * unit(rng), 70 + 115 * unit(rng));
  };

  cv::Mat scene(height, width, CV_8UC3);
  const cv::Scalar from = colour();
  const cv::Scalar to = colour();
  const double angle = 2 * std::numbers::pi * unit(rng);
  const double dx = std::cos(angle);
  const double dy = std::sin(angle);
  const double span = std::abs(dx) * width + std::abs(dy) * height;
  const cv::Mat light = smooth_field(rng, width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      // Position along the gradient direction, 0..1.
      double t = (dx * (x - width / 2.0) + dy * (y - height / 2.0)) / span + 0.5;
      t = std::clamp(t, 0.0, 1.0);
      const double shade = 30 * light.at<float>(y, x);
      auto& px = scene.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) {
        px[c] = cv::saturate_cast<uint8_t>(
            std::clamp(from[c] + (to[c] - from[c]) * t + shade, 40.0, 215.0));
      }
    }
  }

  const int min_side = std::min(width, height);
  const int shapes = 3 + static_cast<int>(unit(rng) * 4);
  for (int s = 0; s < shapes; ++s) {
    const cv::Point centre(static_cast<int>(unit(rng) * width),
                           static_cast<int>(unit(rng) * height));
    const int size = static_cast<int>(min_side * (0.10 + 0.25 * unit(rng)));
    const int kind = static_cast<int>(unit(rng) * 3);
    const cv::Scalar fill = colour();
    if (kind == 0) {
      cv::circle(scene, centre, size / 2, fill, cv::FILLED, cv::LINE_AA);
    } else if (kind == 1) {
      const cv::Point corner(centre.x + size,
                             centre.y + static_cast<int>(size * (0.5 + unit(rng))));
      cv::rectangle(scene, centre, corner, fill, cv::FILLED, cv::LINE_AA);
    } else {
      const cv::Size axes(size / 2, static_cast<int>(size * (0.2 + 0.3 * unit(rng))));
      cv::ellipse(scene, centre, axes, 180 * unit(rng), 0, 360, fill, cv::FILLED, cv::LINE_AA);
    }
  }

  // Texture: +-8 levels of a tilted sinusoid with a period of 6 to 20 px.
  const double period = 6 + 14 * unit(rng);
  const double tilt = std::numbers::pi * unit(rng);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double phase =
          (std::cos(tilt) * x + std::sin(tilt) * y) * 2 * std::numbers::pi / period;
      const double delta = 8 * std::sin(phase);
      auto& px = scene.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) px[c] = cv::saturate_cast<uint8_t>(px[c] + delta);
    }
  }
  return image_of(scene);
}

/// Adds independent Gaussian noise of standard deviation `sigma` to every sample (saturated).
inline Image with_noise(const Image& img, double sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, sigma);
  Image out = img;
  for (auto& v : out.pixels) v = cv::saturate_cast<uint8_t>(v + noise(rng));
  return out;
}

/// Adds `delta` to every sample (saturated).
inline Image with_brightness(const Image& img, int delta) {
  Image out = img;
  for (auto& v : out.pixels) v = cv::saturate_cast<uint8_t>(v + delta);
  return out;
}

/// Area-resizes by `factor` (each side rounded, at least 1 px).
inline Image scaled(const Image& img, double factor) {
  Image src = img;
  cv::Mat out;
  const cv::Size size(std::max(1, static_cast<int>(std::lround(img.width * factor))),
                      std::max(1, static_cast<int>(std::lround(img.height * factor))));
  cv::resize(mat_of(src), out, size, 0, 0, cv::INTER_AREA);
  return image_of(out);
}

/// Crops away `fraction` of the width and of the height, split at random between the two
/// opposite sides.
inline Image cropped(const Image& img, double fraction, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int cut_x = static_cast<int>(std::lround(img.width * fraction));
  const int cut_y = static_cast<int>(std::lround(img.height * fraction));
  const int left = static_cast<int>(cut_x * unit(rng));
  const int top = static_cast<int>(cut_y * unit(rng));
  Image src = img;
  const cv::Rect keep(left, top, img.width - cut_x, img.height - cut_y);
  return image_of(mat_of(src)(keep).clone());
}

}  // namespace vpipe::test

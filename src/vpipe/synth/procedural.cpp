#include "vpipe/synth/procedural.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "vpipe/synth/rng.h"

namespace vpipe::synth {
namespace {

// Scenes are composed at no more than this many pixels and scaled up: the content is
// low-frequency anyway, and it keeps 1..3 MP photos cheap. Sensor noise is added at full size.
constexpr double kComposeMaxPixels = 250'000.0;

cv::Mat view_of(Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), img.pixels.data(), img.stride());
}

cv::Mat view_of(const Image& img) {
  // OpenCV wants a non-const pointer for a header; callers only read through it.
  return cv::Mat(img.height, img.width, CV_8UC(img.channels),
                 const_cast<uint8_t*>(img.pixels.data()), img.stride());
}

Image image_from(const cv::Mat& mat) {
  assert(mat.type() == CV_8UC1 || mat.type() == CV_8UC3);  // only 8-bit gray/RGB are produced
  Image out(mat.cols, mat.rows, mat.channels());
  cv::Mat dst = view_of(out);
  mat.copyTo(dst);
  return out;
}

struct Rgb {
  float r = 0, g = 0, b = 0;
};

Rgb lerp(const Rgb& a, const Rgb& b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// HSV (h in [0, 360), s and v in [0, 1]) to RGB in [0, 255].
Rgb hsv(double h, double s, double v) {
  const double c = v * s;
  const double hp = h / 60.0;
  const double x = c * (1.0 - std::fabs(std::fmod(hp, 2.0) - 1.0));
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(hp) % 6) {
    case 0:
      r = c, g = x;
      break;
    case 1:
      r = x, g = c;
      break;
    case 2:
      g = c, b = x;
      break;
    case 3:
      g = x, b = c;
      break;
    case 4:
      r = x, b = c;
      break;
    default:
      r = c, b = x;
      break;
  }
  const double m = v - c;
  return {static_cast<float>((r + m) * 255), static_cast<float>((g + m) * 255),
          static_cast<float>((b + m) * 255)};
}

// A colour of the kind photographs are full of: mostly muted, sometimes saturated.
Rgb natural_colour(Rng& rng) {
  const double s = rng.chance(0.2) ? rng.uniform(0.5, 0.9) : rng.uniform(0.1, 0.5);
  return hsv(rng.uniform(0.0, 360.0), s, rng.uniform(0.2, 0.95));
}

float smoothstep(float t) { return t * t * (3.0f - 2.0f * t); }

// Adds `amplitude` * value noise to `field` (w * h floats, row-major): a lattice of random
// values `cells` cells across the longer side, interpolated with a smoothstep fade.
void add_value_noise(std::vector<float>& field, int w, int h, double cells, float amplitude,
                     Rng& rng) {
  const double cell_px = std::max(w, h) / cells;
  const int gx = static_cast<int>(w / cell_px) + 3;
  const int gy = static_cast<int>(h / cell_px) + 3;
  std::vector<float> lattice(static_cast<size_t>(gx) * gy);
  for (float& v : lattice) v = static_cast<float>(rng.uniform());
  // A random phase, so lattices of different images (and octaves) do not line up.
  const double ox = rng.uniform();
  const double oy = rng.uniform();

  std::vector<int> ix(w);
  std::vector<float> tx(w);
  for (int x = 0; x < w; ++x) {
    const double fx = x / cell_px + ox;
    ix[x] = static_cast<int>(fx);
    tx[x] = smoothstep(static_cast<float>(fx - ix[x]));
  }
  for (int y = 0; y < h; ++y) {
    const double fy = y / cell_px + oy;
    const int iy = static_cast<int>(fy);
    const float ty = smoothstep(static_cast<float>(fy - iy));
    const float* row0 = lattice.data() + static_cast<size_t>(iy) * gx;
    const float* row1 = row0 + gx;
    float* out = field.data() + static_cast<size_t>(y) * w;
    for (int x = 0; x < w; ++x) {
      const int i = ix[x];
      const float top = row0[i] + (row0[i + 1] - row0[i]) * tx[x];
      const float bottom = row1[i] + (row1[i + 1] - row1[i]) * tx[x];
      out[x] += amplitude * (top + (bottom - top) * ty);
    }
  }
}

// Fractal (fBm) value noise normalised to [0, 1]: `octaves` layers, each with twice the cells
// and `persistence` times the amplitude of the one before.
std::vector<float> fractal_noise(int w, int h, double cells, int octaves, float persistence,
                                 Rng& rng) {
  std::vector<float> field(static_cast<size_t>(w) * h, 0.0f);
  float amplitude = 1.0f;
  for (int o = 0; o < octaves; ++o) {
    add_value_noise(field, w, h, cells, amplitude, rng);
    cells *= 2.0;
    amplitude *= persistence;
  }
  const auto [lo, hi] = std::minmax_element(field.begin(), field.end());
  const float min = *lo;
  const float span = std::max(*hi - min, 1e-6f);
  for (float& v : field) v = (v - min) / span;
  return field;
}

// The background: a gradient between two colours along a random direction, blended with
// low-frequency noise, patches of a third colour, a fine multiplicative texture and a vignette.
cv::Mat compose_background(int w, int h, Rng& rng) {
  const Rgb c0 = natural_colour(rng);
  const Rgb c1 = natural_colour(rng);
  const Rgb c2 = natural_colour(rng);
  const std::vector<float> large = fractal_noise(w, h, rng.uniform(1.5, 4.0), 4, 0.5f, rng);
  const std::vector<float> patches = fractal_noise(w, h, rng.uniform(3.0, 8.0), 3, 0.5f, rng);
  const std::vector<float> fine = fractal_noise(w, h, rng.uniform(20.0, 60.0), 2, 0.5f, rng);

  const double angle = rng.uniform(0.0, 2.0 * std::numbers::pi);
  const float gdx = static_cast<float>(std::cos(angle) / w);
  const float gdy = static_cast<float>(std::sin(angle) / h);
  const float gradient_weight = static_cast<float>(rng.uniform(0.2, 0.7));
  const float patch_threshold = static_cast<float>(rng.uniform(0.45, 0.7));
  const float patch_strength = static_cast<float>(rng.uniform(0.3, 1.0));
  const float texture = static_cast<float>(rng.uniform(0.04, 0.25));
  const float vignette = static_cast<float>(rng.uniform(0.0, 0.5));
  const float cx = static_cast<float>(rng.uniform(0.3, 0.7));
  const float cy = static_cast<float>(rng.uniform(0.3, 0.7));

  const auto fw = static_cast<float>(w);
  const auto fh = static_cast<float>(h);
  cv::Mat out(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    uint8_t* dst = out.ptr<uint8_t>(y);
    const size_t row = static_cast<size_t>(y) * w;
    const auto fy = static_cast<float>(y);
    const float ny = fy / fh - cy;
    for (int x = 0; x < w; ++x) {
      const auto fx = static_cast<float>(x);
      // Gradient coordinate roughly in [-1, 1] across the image, mapped to [0, 1].
      const float g = 0.5f + 0.5f * (gdx * (2 * fx - fw) + gdy * (2 * fy - fh));
      const float t =
          std::clamp(gradient_weight * g + (1 - gradient_weight) * large[row + x], 0.f, 1.f);
      Rgb c = lerp(c0, c1, t);
      const float p = std::clamp((patches[row + x] - patch_threshold) * 6.0f, 0.f, 1.f);
      c = lerp(c, c2, smoothstep(p) * patch_strength);
      const float nx = fx / fw - cx;
      const float m = (1.0f + texture * (2.0f * fine[row + x] - 1.0f)) *
                      (1.0f - vignette * (nx * nx + ny * ny));
      dst[3 * x + 0] = cv::saturate_cast<uint8_t>(c.r * m);
      dst[3 * x + 1] = cv::saturate_cast<uint8_t>(c.g * m);
      dst[3 * x + 2] = cv::saturate_cast<uint8_t>(c.b * m);
    }
  }
  return out;
}

constexpr int kShift = 4;  // sub-pixel bits for OpenCV drawing
constexpr double kOne = 1 << kShift;

cv::Point fixed(double x, double y) {
  return {static_cast<int>(std::lround(x * kOne)), static_cast<int>(std::lround(y * kOne))};
}

// Draws one random shape into `img`; translucent shapes are drawn on a copy of their bounding
// box and blended back, so the cost follows the shape's size and not the image's.
void draw_shape(cv::Mat& img, Rng& rng) {
  const int w = img.cols;
  const int h = img.rows;
  const double side = std::min(w, h);
  const double cx = rng.uniform(-0.1, 1.1) * w;
  const double cy = rng.uniform(-0.1, 1.1) * h;
  const double radius = side * rng.uniform(0.04, 0.35);
  const Rgb c = natural_colour(rng);
  const cv::Scalar colour(c.r, c.g, c.b);
  const double alpha = rng.chance(0.5) ? 1.0 : rng.uniform(0.35, 0.9);
  const int type = rng.range(0, 3);

  std::vector<cv::Point> poly;
  double extent = radius;
  int thickness = cv::FILLED;
  double axis_b = 0, angle = 0;
  switch (type) {
    case 0:  // ellipse
      axis_b = radius * rng.uniform(0.3, 1.0);
      angle = rng.uniform(0.0, 180.0);
      break;
    case 1: {  // rotated rectangle
      const double a = rng.uniform(0.0, std::numbers::pi);
      const double hw = radius;
      const double hh = radius * rng.uniform(0.2, 1.0);
      for (const auto& [sx, sy] :
           std::array<std::pair<int, int>, 4>{{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}}}) {
        const double px = sx * hw, py = sy * hh;
        poly.push_back(fixed(cx + px * std::cos(a) - py * std::sin(a),
                             cy + px * std::sin(a) + py * std::cos(a)));
      }
      break;
    }
    case 2: {  // star-ish polygon: random radii around the centre
      const int n = rng.range(3, 9);
      const double a0 = rng.uniform(0.0, 2 * std::numbers::pi);
      for (int i = 0; i < n; ++i) {
        const double a = a0 + 2 * std::numbers::pi * i / n;
        const double r = radius * rng.uniform(0.4, 1.0);
        poly.push_back(fixed(cx + r * std::cos(a), cy + r * std::sin(a)));
      }
      break;
    }
    default: {  // a stroke: a thick polyline wandering from the centre
      thickness = std::max(1, static_cast<int>(side * rng.uniform(0.005, 0.03)));
      double x = cx, y = cy, a = rng.uniform(0.0, 2 * std::numbers::pi);
      const int n = rng.range(2, 6);
      for (int i = 0; i < n; ++i) {
        poly.push_back(fixed(x, y));
        a += rng.uniform(-1.0, 1.0);
        x += radius * 0.6 * std::cos(a);
        y += radius * 0.6 * std::sin(a);
      }
      extent = radius * 0.6 * n + thickness;
      break;
    }
  }

  const cv::Rect box =
      cv::Rect(static_cast<int>(cx - extent) - 2, static_cast<int>(cy - extent) - 2,
               static_cast<int>(2 * extent) + 5, static_cast<int>(2 * extent) + 5) &
      cv::Rect(0, 0, w, h);
  if (box.empty()) return;
  const bool blend = alpha < 1.0;
  cv::Mat target = blend ? img(box).clone() : img;
  const cv::Point offset = blend ? fixed(-box.x, -box.y) : cv::Point(0, 0);
  for (cv::Point& p : poly) p += offset;
  const cv::Point centre = fixed(cx, cy) + offset;

  switch (type) {
    case 0:
      cv::ellipse(target, centre,
                  cv::Size(static_cast<int>(radius * kOne), static_cast<int>(axis_b * kOne)), angle,
                  0, 360, colour, cv::FILLED, cv::LINE_AA, kShift);
      break;
    case 1:
    case 2:
      cv::fillPoly(target, std::vector<std::vector<cv::Point>>{poly}, colour, cv::LINE_AA, kShift);
      break;
    default:
      cv::polylines(target, std::vector<std::vector<cv::Point>>{poly}, false, colour, thickness,
                    cv::LINE_AA, kShift);
      break;
  }
  if (blend) {
    cv::Mat roi = img(box);
    cv::addWeighted(target, alpha, roi, 1.0 - alpha, 0.0, roi);
  }
}

// Adds sensor-like noise: triangular, zero-mean, standard deviation about `sigma` levels.
void add_sensor_noise(Image& img, double sigma, Rng& rng) {
  // Two bytes summed give a triangular value in [-255, 255] with standard deviation ~104;
  // `scale` (8.8 fixed point) brings that to `sigma`.
  const int scale = static_cast<int>(std::lround(sigma * 256.0 / 104.0));
  if (scale == 0) return;
  uint8_t* p = img.pixels.data();
  const size_t n = img.pixels.size();
  size_t i = 0;
  while (i < n) {
    uint64_t r = rng.next();
    for (int k = 0; k < 4 && i < n; ++k, ++i, r >>= 16) {
      const int tri = static_cast<int>(r & 0xFF) + static_cast<int>((r >> 8) & 0xFF) - 255;
      // Arithmetic shift of a negative value is implementation-defined before C++20, exact now.
      p[i] = cv::saturate_cast<uint8_t>(p[i] + ((tri * scale) >> 8));
    }
  }
}

}  // namespace

Image render_scene(uint64_t seed, int width, int height, int channels) {
  assert(width >= 1 && height >= 1 && (channels == 1 || channels == 3));  // caller's contract
  Rng rng(seed);
  const double area = static_cast<double>(width) * height;
  const double scale = area > kComposeMaxPixels ? std::sqrt(kComposeMaxPixels / area) : 1.0;
  const int cw = std::max(1, static_cast<int>(width * scale));
  const int ch = std::max(1, static_cast<int>(height * scale));

  cv::Mat scene = compose_background(cw, ch, rng);
  const int shapes = rng.range(2, 9);
  for (int i = 0; i < shapes; ++i) draw_shape(scene, rng);
  // Lenses and demosaicing soften edges; a hard-edged scene looks drawn, not photographed.
  const double soften = rng.uniform(0.5, 1.2);
  cv::GaussianBlur(scene, scene, cv::Size(0, 0), soften);
  if (cw != width || ch != height) {
    cv::Mat full;
    cv::resize(scene, full, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    scene = full;
  }
  if (channels == 1) cv::cvtColor(scene, scene, cv::COLOR_RGB2GRAY);
  Image out = image_from(scene);
  add_sensor_noise(out, rng.uniform(0.8, 3.0), rng);
  return out;
}

Image resize_exact(const Image& src, int width, int height) {
  assert(width >= 1 && height >= 1);
  Image out(width, height, src.channels);
  cv::Mat dst = view_of(out);
  const bool shrinking = width <= src.width && height <= src.height;
  cv::resize(view_of(src), dst, cv::Size(width, height), 0, 0,
             shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

Image crop(const Image& src, int x, int y, int width, int height) {
  assert(x >= 0 && y >= 0 && x + width <= src.width && y + height <= src.height);
  return image_from(view_of(src)(cv::Rect(x, y, width, height)));
}

Image apply_gain(const Image& src, double gain, double offset) {
  Image out(src.width, src.height, src.channels);
  cv::Mat dst = view_of(out);
  view_of(src).convertTo(dst, dst.type(), gain, offset);
  return out;
}

Image gaussian_blur(const Image& src, double sigma) {
  Image out(src.width, src.height, src.channels);
  cv::Mat dst = view_of(out);
  cv::GaussianBlur(view_of(src), dst, cv::Size(0, 0), sigma);
  return out;
}

Image stored_for_orientation(const Image& display, int orientation) {
  const cv::Mat in = view_of(display);
  cv::Mat out;
  // EXIF orientation n says how to turn the stored pixels for display; store the inverse.
  switch (orientation) {
    case 2:
      cv::flip(in, out, 1);
      break;  // mirror: self-inverse
    case 3:
      cv::rotate(in, out, cv::ROTATE_180);
      break;  // self-inverse
    case 4:
      cv::flip(in, out, 0);
      break;  // self-inverse
    case 5:
      cv::transpose(in, out);
      break;  // self-inverse
    case 6:
      cv::rotate(in, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;   // shown turned 90 CW
    case 7: {  // transverse: self-inverse
      cv::Mat t;
      cv::transpose(in, t);
      cv::rotate(t, out, cv::ROTATE_180);
      break;
    }
    case 8:
      cv::rotate(in, out, cv::ROTATE_90_CLOCKWISE);
      break;  // shown turned 90 CCW
    default:
      return display;
  }
  return image_from(out);
}

Image16 widen_to_16(const Image& src) {
  Image16 out(src.width, src.height, src.channels);
  for (size_t i = 0; i < src.pixels.size(); ++i)
    out.pixels[i] = static_cast<uint16_t>(src.pixels[i] * 257);
  return out;
}

}  // namespace vpipe::synth

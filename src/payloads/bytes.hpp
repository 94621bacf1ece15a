#pragma once
// Byte helpers shared by the payloads: big-endian fields, a seeded generator
// for IDs and cookies, and text safe to print from hostile bytes.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portdrift::payloads::bytes {

using Bytes = std::vector<std::uint8_t>;
using View = std::span<const std::uint8_t>;

inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v & 0xff));
}
inline void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v & 0xffff));
}
inline void put(Bytes& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }

// Callers check the size first.
inline std::uint16_t get16(View v, std::size_t at) {
  return static_cast<std::uint16_t>((v[at] << 8) | v[at + 1]);
}
inline std::uint32_t get32(View v, std::size_t at) {
  return (std::uint32_t{get16(v, at)} << 16) | get16(v, at + 2);
}

// splitmix64: a different, well-mixed value per call from one seed.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint32_t u31() { return static_cast<std::uint32_t>(next() & 0x7fffffffU) | 1U; }  // positive, never 0

 private:
  std::uint64_t state_;
};

// Printable ASCII, everything else as '.'; at most `max` characters.
inline std::string printable(View v, std::size_t max = 64) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && out.size() < max; ++i) {
    const auto c = v[i];
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
  }
  return out;
}

inline std::string hex(View v, std::size_t max = 32) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    out.push_back(kDigits[v[i] >> 4]);
    out.push_back(kDigits[v[i] & 0xf]);
  }
  if (v.size() > max) out += "...";
  return out;
}

}  // namespace portdrift::payloads::bytes

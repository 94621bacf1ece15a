#pragma once
// Port specifications as written in the catalog and topology: "443",
// "137,138", "1024-65535", or a mix "80,8080-8082". Parsing only; expanding a
// range into probes is the plan's decision, bounded there.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portdrift {

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive
  [[nodiscard]] std::uint32_t size() const noexcept { return std::uint32_t{last} - first + 1U; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct PortSpec {
  std::vector<PortRange> ranges;
  [[nodiscard]] std::uint32_t count() const noexcept;
  [[nodiscard]] bool contains(std::uint16_t port) const noexcept;
  [[nodiscard]] bool covers(const PortRange& r) const noexcept;  // every port of r is in the spec
  [[nodiscard]] std::string to_string() const;
};

// On failure returns nullopt and sets `error` to a sentence for a diagnostic.
std::optional<PortSpec> parse_port_spec(std::string_view text, std::string& error);

// A single decimal port 1-65535.
std::optional<std::uint16_t> parse_port(std::string_view text) noexcept;

}  // namespace portdrift

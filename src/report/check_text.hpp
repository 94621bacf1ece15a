#pragma once
// How every report names a check's flow and its catalog flows (report-internal).

#include <string>

#include <fmt/format.h>

#include "portdrift/plan/plan.hpp"

namespace portdrift::report {

// "tcp/443", or "icmp echo".
inline std::string what_of(const plan::Check& c) {
  return c.protocol == Protocol::icmp ? std::string("icmp echo") : fmt::format("{}/{}", to_string(c.protocol), c.port);
}

// The catalog ids behind a check, comma-separated; an explicit check's label.
inline std::string ids_of(const plan::Check& c) {
  std::string ids;
  for (const auto& id : c.catalog_ids) ids += fmt::format("{}{}", ids.empty() ? "" : ",", id);
  return ids.empty() ? std::string(c.label) : ids;
}

}  // namespace portdrift::report

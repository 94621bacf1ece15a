#include "portdrift/core/diagnostic.hpp"

#include <fmt/format.h>

namespace portdrift {

std::string format(const Diagnostic& d) {
  std::string out = d.file;
  if (d.pos.line > 0) out += fmt::format(":{}:{}", d.pos.line, d.pos.column);
  out += ": ";
  if (!d.key_path.empty()) {
    out += d.key_path;
    out += ": ";
  }
  out += d.message;
  return out;
}

}  // namespace portdrift

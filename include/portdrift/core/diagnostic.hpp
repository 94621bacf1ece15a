#pragma once
// Diagnostics: one problem in an input file, located by file:line:column and a
// key path such as `hosts[3].port_overrides.80`. Every loader collects all of
// them instead of stopping at the first.

#include <string>
#include <vector>

namespace portdrift {

// 1-based position in a text file; line 0 means "the file as a whole".
struct SourcePos {
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  std::string file;
  SourcePos pos;
  std::string key_path;  // empty when the problem is not under a key
  std::string message;
};

// "FILE:LINE:COLUMN: key path: message" (line/column omitted when unknown).
std::string format(const Diagnostic& d);

using Diagnostics = std::vector<Diagnostic>;

}  // namespace portdrift

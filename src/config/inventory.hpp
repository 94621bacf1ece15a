#pragma once
// Inventory files: the members of a group read from a CSV export (a header
// row naming the columns `name`, `address` and optionally `roles` and
// `group`; RFC 4180 quoting; other columns ignored) or from a plain list of
// names and addresses, one per line, with `#` comments. A file whose name
// ends in `.csv` (any case) is CSV; any other file is a list.
//
// Every problem is a Diagnostic carrying the inventory file's own path, line
// and column. Reading is bounded: only regular files, at most
// kMaxInventoryBytes, at most `max_rows` rows, at most kMaxFileDiagnostics
// problems reported per file; a path may point anywhere (a FIFO, /dev/zero,
// a directory) without hanging or exhausting memory.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/config/topology.hpp"
#include "portdrift/core/diagnostic.hpp"

namespace portdrift::config {

inline constexpr std::size_t kMaxInventoryBytes = 32 * 1024 * 1024;
inline constexpr std::size_t kMaxFileDiagnostics = 100;

struct InventoryEntry {
  InventoryRow row;
  std::string group;  // the `group` cell; empty when there is none
  SourcePos group_pos;
};

// Reads a whole regular file of at most kMaxInventoryBytes; false and `why` otherwise.
bool read_inventory_text(const std::string& path, std::string& text, std::string& why);

// Parses an inventory's text. `file` labels the diagnostics. Stops, with a
// diagnostic, after `max_rows` rows (what the topology's address limit `cap` leaves).
std::vector<InventoryEntry> parse_inventory(std::string_view text, const std::string& file, bool csv,
                                            std::uint64_t max_rows, std::uint64_t cap, Diagnostics& out);

bool is_csv_path(std::string_view path) noexcept;

}  // namespace portdrift::config

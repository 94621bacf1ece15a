#include "inventory.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "portdrift/config/addresses.hpp"

namespace portdrift::config {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Collects a file's diagnostics up to kMaxFileDiagnostics, then counts the rest.
class FileDiagnostics {
 public:
  FileDiagnostics(const std::string& file, Diagnostics& out) : file_(file), out_(out) {}
  ~FileDiagnostics() {
    if (dropped_ > 0) {
      out_.push_back(Diagnostic{file_, {}, "", fmt::format("and {} more problems in this file", dropped_)});
    }
  }
  FileDiagnostics(const FileDiagnostics&) = delete;
  FileDiagnostics& operator=(const FileDiagnostics&) = delete;

  void error(SourcePos pos, std::string_view key, std::string message) {
    if (count_ >= kMaxFileDiagnostics) {
      ++dropped_;
      return;
    }
    ++count_;
    out_.push_back(Diagnostic{file_, pos, std::string(key), std::move(message)});
  }

 private:
  const std::string& file_;
  Diagnostics& out_;
  std::size_t count_ = 0;
  std::size_t dropped_ = 0;
};

// An inventory row names one host: a name or a single address, not a block.
bool check_host_text(std::string_view text, SourcePos pos, std::string_view column, FileDiagnostics& d) {
  std::string why;
  const auto m = parse_member(text, why);
  if (!m) {
    d.error(pos, column, why);
    return false;
  }
  if (m->kind == MemberSpec::Kind::block || m->kind == MemberSpec::Kind::range) {
    d.error(pos, column,
            fmt::format("'{}' is a block or range; an inventory row names one host (put blocks in `members`)", text));
    return false;
  }
  return true;
}

void split_roles(std::string_view cell, SourcePos pos, std::vector<Named>& out) {
  std::size_t i = 0;
  while (i < cell.size()) {
    while (i < cell.size() && (cell[i] == ';' || cell[i] == ' ' || cell[i] == ',' || cell[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < cell.size() && cell[i] != ';' && cell[i] != ' ' && cell[i] != ',' && cell[i] != '\t') ++i;
    if (i > start) out.push_back(Named{std::string(cell.substr(start, i - start)), pos, "roles"});
  }
}

// --- CSV (RFC 4180) -------------------------------------------------------------

struct Field {
  std::string value;
  SourcePos pos;
};

class CsvReader {
 public:
  CsvReader(std::string_view text, FileDiagnostics& d) : text_(text), d_(d) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") {  // a UTF-8 byte order mark, as Windows tools write
      text_.remove_prefix(3);
    }
  }

  [[nodiscard]] bool done() const noexcept { return at_ >= text_.size(); }
  [[nodiscard]] SourcePos here() const noexcept { return {line_, column_}; }

  // The next record's fields; false if the record is malformed (reported, skipped).
  bool record(std::vector<Field>& fields) {
    fields.clear();
    bool ok = true;
    while (true) {
      Field f;
      f.pos = here();
      if (peek() == '"') {
        const SourcePos open = here();
        advance();
        bool closed = false;
        while (!done()) {
          const char c = peek();
          advance();
          if (c == '"') {
            if (peek() == '"') {
              f.value += '"';
              advance();
              continue;
            }
            closed = true;
            break;
          }
          f.value += c;
        }
        if (!closed) {
          d_.error(open, "", "unterminated quoted field (a \" with no closing \")");
          return false;
        }
        if (!done() && peek() != ',' && peek() != '\n' && peek() != '\r') {
          d_.error(here(), "", "unexpected character after a closing quote (double a quote inside a quoted field: \"\")");
          ok = false;
          skip_line();
          return ok;
        }
      } else {
        while (!done() && peek() != ',' && peek() != '\n' && peek() != '\r') {
          if (peek() == '"' && ok) {
            d_.error(here(), "", "a quote inside an unquoted field (quote the whole field and double the quote)");
            ok = false;
          }
          f.value += peek();
          advance();
        }
      }
      fields.push_back(std::move(f));
      if (done()) return ok;
      if (peek() == ',') {
        advance();
        continue;
      }
      end_of_line();
      return ok;
    }
  }

 private:
  [[nodiscard]] char peek() const noexcept { return at_ < text_.size() ? text_[at_] : '\0'; }
  void advance() noexcept {
    if (text_[at_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++at_;
  }
  void end_of_line() noexcept {
    if (peek() == '\r') advance();
    if (peek() == '\n') advance();
  }
  void skip_line() noexcept {
    while (!done() && peek() != '\n') advance();
    if (!done()) advance();
  }

  std::string_view text_;
  FileDiagnostics& d_;
  std::size_t at_ = 0;
  int line_ = 1;
  int column_ = 1;
};

// Where the address limit stops reading a file.
std::string over_limit(std::uint64_t max_rows, std::uint64_t cap) {
  return fmt::format("more hosts than the topology's address limit leaves room for ({} of {}; see "
                     "limits.max_addresses); the rest of the file is not read",
                     max_rows, cap);
}

std::vector<InventoryEntry> parse_csv(std::string_view text, std::uint64_t max_rows, std::uint64_t cap,
                                      FileDiagnostics& d) {
  std::vector<InventoryEntry> out;
  CsvReader csv(text, d);
  std::vector<Field> fields;
  // The header: the first non-blank record.
  std::optional<std::size_t> name_col, address_col, roles_col, group_col;
  std::size_t columns = 0;
  while (!csv.done()) {
    if (!csv.record(fields)) return out;
    if (fields.size() == 1 && trim(fields[0].value).empty()) continue;
    columns = fields.size();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto name = lower(trim(fields[i].value));
      std::optional<std::size_t>* col = name == "name"      ? &name_col
                                        : name == "address" ? &address_col
                                        : name == "roles"   ? &roles_col
                                        : name == "group"   ? &group_col
                                                            : nullptr;
      if (col == nullptr) continue;  // other columns are ignored
      if (*col) {
        d.error(fields[i].pos, "", fmt::format("column '{}' appears twice in the header", name));
        return out;
      }
      *col = i;
    }
    if (!name_col && !address_col) {
      d.error(fields.empty() ? SourcePos{1, 1} : fields[0].pos, "",
              "the header row needs a `name` or an `address` column (optional: `roles`, `group`)");
      return out;
    }
    break;
  }
  if (columns == 0) {
    d.error(SourcePos{}, "", "empty: expected a header row and one row per host");
    return out;
  }
  while (!csv.done()) {
    const SourcePos row_pos = csv.here();
    if (!csv.record(fields)) continue;
    if (fields.size() == 1 && trim(fields[0].value).empty()) continue;  // a blank line
    if (fields.size() != columns) {
      d.error(row_pos, "", fmt::format("{} fields, but the header has {}", fields.size(), columns));
      continue;
    }
    if (out.size() >= max_rows) {
      d.error(row_pos, "", over_limit(max_rows, cap));
      return out;
    }
    InventoryEntry e;
    e.row.pos = row_pos;
    bool ok = true;
    if (name_col) e.row.name = trim(fields[*name_col].value);
    if (address_col) e.row.address = trim(fields[*address_col].value);
    if (e.row.name.empty() && e.row.address.empty()) {
      d.error(row_pos, "", "neither a name nor an address");
      continue;
    }
    if (!e.row.address.empty()) {
      ok = check_host_text(e.row.address, fields[*address_col].pos, "address", d) && ok;
    } else {
      ok = check_host_text(e.row.name, fields[*name_col].pos, "name", d) && ok;  // the name is what gets resolved
    }
    if (roles_col) split_roles(fields[*roles_col].value, fields[*roles_col].pos, e.row.roles);
    if (group_col) {
      e.group = trim(fields[*group_col].value);
      e.group_pos = fields[*group_col].pos;
    }
    if (ok) out.push_back(std::move(e));
  }
  return out;
}

std::vector<InventoryEntry> parse_list(std::string_view text, std::uint64_t max_rows, std::uint64_t cap,
                                       FileDiagnostics& d) {
  std::vector<InventoryEntry> out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line = 0;
  while (!text.empty()) {
    ++line;
    const auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (const auto hash = raw.find('#'); hash != std::string_view::npos) raw = raw.substr(0, hash);
    const auto entry = trim(raw);
    if (entry.empty()) continue;
    const SourcePos pos{line, static_cast<int>(entry.data() - raw.data()) + 1};
    if (out.size() >= max_rows) {
      d.error(pos, "", over_limit(max_rows, cap));
      return out;
    }
    if (entry.find_first_of(" \t,;") != std::string_view::npos) {
      d.error(pos, "", fmt::format("'{}': one name or address per line (a CSV file needs a name ending in .csv)", entry));
      continue;
    }
    if (!check_host_text(entry, pos, "", d)) continue;
    InventoryEntry e;
    e.row.pos = pos;
    e.row.name = entry;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

bool is_csv_path(std::string_view path) noexcept {
  if (path.size() < 4) return false;
  const auto ext = lower(path.substr(path.size() - 4));
  return ext == ".csv";
}

bool read_inventory_text(const std::string& path, std::string& text, std::string& why) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    why = fmt::format("cannot open inventory file '{}': {}", path, std::strerror(errno));
    return false;
  }
  struct stat st {};
  bool ok = true;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = fmt::format("inventory '{}' is not a regular file", path);
    ok = false;
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxInventoryBytes) {
    why = fmt::format("inventory file '{}' is larger than {} MiB", path, kMaxInventoryBytes >> 20);
    ok = false;
  }
  if (ok) {
    // At most the size the file had when it was opened: a file that grows, or a /proc file that
    // claims size 0 and would produce data (or block) on read, is read no further than that.
    const auto size = static_cast<std::size_t>(st.st_size);
    text.assign(size, '\0');
    std::size_t got = 0;
    while (got < size) {
      const auto n = ::read(fd, text.data() + got, size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        why = fmt::format("cannot read inventory file '{}': {}", path, std::strerror(errno));
        ok = false;
        break;
      }
      if (n == 0) break;  // shrank while being read
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  if (ok && text.find('\0') != std::string::npos) {
    why = fmt::format("inventory '{}' is not a text file (contains NUL bytes)", path);
    ok = false;
  }
  return ok;
}

std::vector<InventoryEntry> parse_inventory(std::string_view text, const std::string& file, bool csv,
                                            std::uint64_t max_rows, std::uint64_t cap, Diagnostics& out) {
  FileDiagnostics d(file, out);
  return csv ? parse_csv(text, max_rows, cap, d) : parse_list(text, max_rows, cap, d);
}

}  // namespace portdrift::config

#include "portdrift/daemon/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace portdrift::daemon {
namespace {

using nlohmann::json;

std::int64_t epoch_s(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

WallTime from_epoch_s(std::int64_t s) { return WallTime(std::chrono::seconds(s)); }

// A whole number in [lo, hi], or the file is corrupt. nlohmann's get<int>()
// on 1e300 or on a number past the type's range is a cast with undefined
// behaviour, and seconds past year 2262 overflow WallTime's nanoseconds
// (both found by tests/fuzz/state_fuzz).
std::int64_t whole(const json& v, const char* what, std::int64_t lo, std::int64_t hi) {
  const bool in_range = v.is_number_unsigned()   ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                        : v.is_number_integer() ? v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi
                                                : false;
  if (!in_range) throw std::runtime_error(std::string(what) + " is not a whole number from " + std::to_string(lo) +
                                          " to " + std::to_string(hi));
  return v.get<std::int64_t>();
}

// Seconds since the epoch that WallTime holds: up to the year 2200.
constexpr std::int64_t kMaxEpochS = 7'258'118'400;

std::error_code last_error() { return {errno, std::generic_category()}; }

// Writes all of `data` to `fd`, retrying short writes and EINTR.
std::error_code write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

// Streamed, one line per check: a DOM of 100k checks would cost far more
// memory than the daemon's whole plan, and glibc keeps much of it afterwards.
std::string to_json(const SavedState& state) {
  std::string out;
  out.reserve(64 + state.checks.size() * 256);
  const auto str = [&out](std::string_view v) { out += json(v).dump(); };
  out += "{\n \"format\": " + std::to_string(kStateFormat) + ",\n \"written\": " +
         std::to_string(epoch_s(state.written)) + ",\n \"checks\": [";
  bool first = true;
  for (const auto& c : state.checks) {
    out += first ? "\n  {\"key\": " : ",\n  {\"key\": ";
    first = false;
    str(c.key);
    out += ", \"host\": ";
    str(c.host);
    out += ", \"target\": ";
    str(c.target);
    out += ", \"address\": ";
    str(c.address);
    out += ", \"protocol\": \"";
    out += to_string(c.protocol);
    out += "\", \"port\": " + std::to_string(c.port) + ", \"expected\": \"";
    out += to_string(c.expect);
    out += c.hard == Hard::drift ? "\", \"hard\": \"drift\"" : "\", \"hard\": \"ok\"";
    out += ", \"since\": " + std::to_string(epoch_s(c.since));
    out += c.flapping ? ", \"flapping\": true, \"observed\": " : ", \"flapping\": false, \"observed\": ";
    str(c.observed);
    out += ", \"reason\": ";
    str(c.reason);
    out += "}";
  }
  out += state.checks.empty() ? "]\n}\n" : "\n ]\n}\n";
  return out;
}

LoadResult from_json(std::string_view text) {
  LoadResult r;
  r.status = LoadStatus::corrupt;
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    r.error = "not valid JSON";
    return r;
  }
  try {
    const auto format = doc.is_object() ? doc.find("format") : doc.end();
    if (format == doc.end() || !format->is_number_integer() || *format != kStateFormat) {
      r.error = "not a portdrift state file of format " + std::to_string(kStateFormat);
      return r;
    }
    r.state.written = from_epoch_s(whole(doc.at("written"), "written", 0, kMaxEpochS));
    for (const auto& c : doc.at("checks")) {
      SavedCheck s;
      s.key = c.at("key").get<std::string>();
      s.host = c.value("host", "");
      s.target = c.value("target", "");
      s.address = c.value("address", "");
      s.protocol = parse_protocol(c.value("protocol", "tcp")).value_or(Protocol::tcp);
      s.port = c.contains("port") ? static_cast<std::uint16_t>(whole(c.at("port"), "port", 0, 65535)) : 0;
      s.expect = parse_expect(c.value("expected", "open")).value_or(Expect::open);
      const auto hard = c.at("hard").get<std::string>();
      if (hard != "ok" && hard != "drift") throw std::runtime_error("hard state '" + hard + "'");
      s.hard = hard == "drift" ? Hard::drift : Hard::ok;
      s.since = from_epoch_s(whole(c.at("since"), "since", 0, kMaxEpochS));
      s.flapping = c.value("flapping", false);
      s.observed = c.value("observed", "");
      s.reason = c.value("reason", "");
      r.state.checks.push_back(std::move(s));
    }
  } catch (const std::exception& e) {
    r.state = {};
    r.error = e.what();
    return r;
  }
  r.status = LoadStatus::ok;
  return r;
}

std::error_code save_state(const std::filesystem::path& file, const SavedState& state) {
  const std::string text = to_json(state);
  const auto tmp = std::filesystem::path(file.string() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return last_error();
  std::error_code ec = write_all(fd, text);
  if (!ec && ::fsync(fd) != 0) ec = last_error();
  if (::close(fd) != 0 && !ec) ec = last_error();
  if (!ec && ::rename(tmp.c_str(), file.c_str()) != 0) ec = last_error();
  if (ec) {
    ::unlink(tmp.c_str());
    return ec;
  }
  // The rename itself must reach the disk too.
  const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

LoadResult load_state(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    LoadResult r;
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
      r.status = LoadStatus::corrupt;
      r.error = "cannot be read";
    } else {
      r.status = LoadStatus::missing;
    }
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return from_json(text.str());
}

}  // namespace portdrift::daemon

#pragma once
// The state file: the hard state of every check, so that a restart does not
// announce an ongoing drift again as new. JSON, written atomically (write to
// FILE.tmp, fsync, rename over FILE, fsync the directory): after a crash at
// any point, FILE is either the previous complete state or the new one.
// Reading never fails the daemon: a missing or corrupt file is a status that
// the caller reports, and the next write replaces it.

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "portdrift/core/types.hpp"
#include "portdrift/daemon/tracker.hpp"

namespace portdrift::daemon {

inline constexpr int kStateFormat = 1;

struct SavedCheck {
  std::string key;  // see check_key()
  std::string host;
  std::string target;
  std::string address;
  Protocol protocol = Protocol::tcp;
  std::uint16_t port = 0;
  Expect expect = Expect::open;
  Hard hard = Hard::ok;
  WallTime since{};
  bool flapping = false;
  std::string observed;  // last observed state and reason, for people reading the file
  std::string reason;
};

struct SavedState {
  WallTime written{};
  std::vector<SavedCheck> checks;
};

enum class LoadStatus : std::uint8_t { ok, missing, corrupt };

struct LoadResult {
  LoadStatus status = LoadStatus::missing;
  SavedState state;
  std::string error;  // for missing (other than "does not exist") and corrupt
};

std::string to_json(const SavedState& state);
LoadResult from_json(std::string_view text);

std::error_code save_state(const std::filesystem::path& file, const SavedState& state);
LoadResult load_state(const std::filesystem::path& file);

}  // namespace portdrift::daemon

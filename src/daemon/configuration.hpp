#pragma once
// The daemon's configuration lifecycle: a Config is everything one topology
// gives the daemon (the plan, the engine settings, the thresholds and the
// scheduling units), built in one go and immutable afterwards, so that a batch
// in flight can keep the one it started with while a reload swaps in the next.
//
// A reload parses, validates and plans on a worker thread (ConfigLoader): on a
// 100k-check topology that is seconds of work that must not stall the event
// loop (the watchdog, the metrics endpoint and the probes all live there). The
// worker touches nothing of the loop; its result is posted back and applied
// on the loop. At stop the loader waits a bounded time for a worker still
// running, then abandons it: its result is dropped, never posted.
//
// One worker thread serves every reload and every disposal for the daemon's
// life. A thread per reload gave each its own malloc arena, and a 30-minute
// soak with a SIGHUP every 3 minutes saw RSS step up with them; one thread
// keeps every configuration in the same arena, where a freed one makes room
// for the next.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "portdrift/core/diagnostic.hpp"
#include "portdrift/daemon/daemon.hpp"
#include "portdrift/daemon/tracker.hpp"
#include "portdrift/runner/setup.hpp"

namespace portdrift::daemon {

// The checks of one host target, contiguous in the plan, with one interval:
// they run in the same batch, so one address's checks always do.
struct Unit {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
  std::uint32_t interval_s = 60;
  bool literal = true;  // the target is an IP address: no DNS wait in its batch
};

struct Config {
  runner::Setup setup;
  Thresholds thresholds;
  std::vector<Unit> units;
  std::vector<std::uint32_t> unit_of;  // per plan check
};

// A new Config and how it maps onto the one it replaces.
struct Loaded {
  std::shared_ptr<const Config> config;
  std::vector<std::uint32_t> previous_check;  // per check: its position in the previous plan, or kNoIndex
  std::vector<std::uint32_t> previous_unit;   // per unit: the previous unit whose due time it keeps, or kNoIndex
};

using LoadOutcome = std::variant<Loaded, Diagnostics>;

// Loads and plans the files, and diffs against `previous` (may be null) by
// check key. Pure: safe on any thread; `previous` is only read.
LoadOutcome load_config(const Options& options, const std::shared_ptr<const Config>& previous);

class ConfigLoader {
 public:
  using Done = std::function<void(LoadOutcome)>;
  explicit ConfigLoader(boost::asio::any_io_executor loop);
  ~ConfigLoader() { shutdown(std::chrono::seconds(2)); }
  ConfigLoader(const ConfigLoader&) = delete;
  ConfigLoader& operator=(const ConfigLoader&) = delete;

  [[nodiscard]] bool busy() const noexcept { return job_ != nullptr; }
  // Loads on the worker and waits for it: the first configuration, at start,
  // lives in the same arena as every later one.
  LoadOutcome load_now(const Options& options);
  // Queues a load on the worker; `done` runs on the loop with its outcome. Only when not busy.
  void start(Options options, std::shared_ptr<const Config> previous, Done done);
  // Waits up to `bound` for a load still running, then abandons it; stops the
  // worker. Idempotent.
  void shutdown(std::chrono::milliseconds bound);
  // Drops `old` (the configuration a reload replaced) off the loop, then gives
  // the freed memory back to the kernel: at 100k checks both take longer than
  // the loop should stall.
  void dispose(std::shared_ptr<const Config> old);

 private:
  struct Job {
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false;
    bool abandoned = false;
  };
  // Shared with the worker thread, which may outlive the loader when a load is abandoned.
  struct Queue {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
  };
  void push(std::function<void()> task);

  boost::asio::any_io_executor loop_;
  std::shared_ptr<Job> job_;
  std::shared_ptr<Queue> queue_;
  std::thread worker_;
};

}  // namespace portdrift::daemon

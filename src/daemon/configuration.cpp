#include "configuration.hpp"

#include <malloc.h>

#include <future>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "portdrift/daemon/tracking.hpp"

namespace portdrift::daemon {
namespace {

std::vector<Unit> units_of(const plan::Plan& plan, std::vector<std::uint32_t>& unit_of) {
  std::vector<Unit> units;
  unit_of.resize(plan.checks.size());
  for (std::uint32_t i = 0; i < plan.checks.size(); ++i) {
    const auto& c = plan.checks[i];
    if (units.empty() || plan.checks[units.back().first].host != c.host ||
        plan.checks[units.back().first].target != c.target || units.back().interval_s != c.interval_s) {
      boost::system::error_code ec;
      (void)boost::asio::ip::make_address(std::string(c.target), ec);
      units.push_back(Unit{i, 0, c.interval_s, !ec});
    }
    ++units.back().count;
    unit_of[i] = static_cast<std::uint32_t>(units.size() - 1);
  }
  return units;
}

}  // namespace

LoadOutcome load_config(const Options& options, const std::shared_ptr<const Config>& previous) {
  auto r = runner::load_setup(options.config, options.catalog_dir, options.engine, options.selection);
  if (!r.ok()) return std::move(r.diagnostics);
  // A source that is not on this machine would fail every probe: refused at start and on reload.
  if (auto bad = runner::check_sources(r.setup.topology, options.engine); !bad.empty()) return bad;
  auto c = std::make_shared<Config>();
  c->setup = std::move(r.setup);
  // A batch whose UDP ports wait on a spent ICMP limiter would hold the schedule up: unless told
  // otherwise, what a batch cannot confirm in kDaemonTimeBudget is icmp-ratelimited, not recorded,
  // and tried again on the next interval (Tracking::on_result), from other ports first.
  if (!options.engine.time_budget_s) c->setup.engine.probe.time_budget = kDaemonTimeBudget;
  if (!options.engine.timing && !c->setup.topology.defaults.probe.timing) c->setup.engine.probe.timing = kDaemonTiming;
  const auto& schedule = c->setup.topology.defaults.schedule;
  c->thresholds = Thresholds{schedule.confirm, schedule.clear};
  c->units = units_of(c->setup.plan, c->unit_of);
  // The plan owns all that the daemon probes and reports (as with --check); of the typed
  // topology only the defaults and daemon settings are read after this, so its hosts go.
  c->setup.topology.hosts = {};

  Loaded out;
  const auto& checks = c->setup.plan.checks;
  out.previous_check.assign(checks.size(), kNoIndex);
  out.previous_unit.assign(c->units.size(), kNoIndex);
  if (previous) {
    // String keys only here, at reload time.
    const auto& old = previous->setup.plan.checks;
    std::unordered_map<std::string, std::uint32_t> old_index;
    old_index.reserve(old.size());
    for (std::uint32_t j = 0; j < old.size(); ++j) old_index.emplace(check_key(old[j]), j);
    for (std::uint32_t i = 0; i < checks.size(); ++i) {
      auto it = old_index.find(check_key(checks[i]));
      if (it != old_index.end()) out.previous_check[i] = it->second;
    }
    for (std::uint32_t u = 0; u < c->units.size(); ++u) {
      const auto j = out.previous_check[c->units[u].first];
      if (j == kNoIndex) continue;
      const auto pu = previous->unit_of[j];
      if (previous->units[pu].interval_s == c->units[u].interval_s) out.previous_unit[u] = pu;
    }
  }
  out.config = std::move(c);
  return out;
}

ConfigLoader::ConfigLoader(boost::asio::any_io_executor loop)
    : loop_(std::move(loop)), queue_(std::make_shared<Queue>()) {
  worker_ = std::thread([queue = queue_] {
    for (;;) {
      std::unique_lock lock(queue->mutex);
      queue->wake.wait(lock, [&] { return queue->stopping || !queue->tasks.empty(); });
      if (queue->tasks.empty()) return;  // stopping, and nothing left to do
      auto task = std::move(queue->tasks.front());
      queue->tasks.pop_front();
      lock.unlock();
      task();
    }
  });
}

void ConfigLoader::push(std::function<void()> task) {
  {
    std::lock_guard lock(queue_->mutex);
    queue_->tasks.push_back(std::move(task));
  }
  queue_->wake.notify_one();
}

LoadOutcome ConfigLoader::load_now(const Options& options) {
  auto promise = std::make_shared<std::promise<LoadOutcome>>();
  auto outcome = promise->get_future();
  push([promise, options] {
    try {
      promise->set_value(load_config(options, nullptr));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  return outcome.get();
}

void ConfigLoader::start(Options options, std::shared_ptr<const Config> previous, Done done) {
  auto job = std::make_shared<Job>();
  job_ = job;
  // std::function needs a copyable callable: the move-only state travels in a shared_ptr.
  struct Work {
    Options options;
    std::shared_ptr<const Config> previous;
    Done done;
  };
  auto work = std::make_shared<Work>(Work{std::move(options), std::move(previous), std::move(done)});
  push([this, job, loop = loop_, work] {
    auto outcome = std::make_shared<LoadOutcome>(load_config(work->options, work->previous));
    work->previous.reset();
    std::lock_guard lock(job->mutex);
    // The loop is alive as long as the job is not abandoned (shutdown runs before it goes).
    if (!job->abandoned) {
      boost::asio::post(loop, [this, job, outcome, work] {
        if (job->abandoned) return;  // the loader (and `this`) may be gone
        job_.reset();
        work->done(std::move(*outcome));
      });
    }
    job->finished = true;
    job->finished_cv.notify_all();
  });
}

void ConfigLoader::dispose(std::shared_ptr<const Config> old) {
  auto box = std::make_shared<std::shared_ptr<const Config>>(std::move(old));
  push([box] {
    box->reset();
    ::malloc_trim(0);  // glibc keeps freed small blocks otherwise; the daemon lives for months
  });
}

void ConfigLoader::shutdown(std::chrono::milliseconds bound) {
  bool finished = true;
  if (job_) {
    std::unique_lock lock(job_->mutex);
    job_->finished_cv.wait_for(lock, bound, [&] { return job_->finished; });
    job_->abandoned = true;
    finished = job_->finished;
    lock.unlock();
    job_.reset();
  }
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(queue_->mutex);
    queue_->stopping = true;
  }
  queue_->wake.notify_one();
  if (finished)
    worker_.join();  // what is left is disposals, which are short
  else
    worker_.detach();  // it finishes the load, drops the result and exits
}

}  // namespace portdrift::daemon

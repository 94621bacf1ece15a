#include "portdrift/cli/cli.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/daemon/daemon.hpp"
#include "portdrift/daemon/log.hpp"
#include "portdrift/daemon/metrics.hpp"
#include "portdrift/daemon/systemd.hpp"
#include "portdrift/plan/fleet.hpp"
#include "portdrift/plan/plan.hpp"
#include "portdrift/report/baseline.hpp"
#include "portdrift/report/pipeline.hpp"
#include "portdrift/report/report.hpp"
#include "portdrift/runner/runner.hpp"
#include "portdrift/runner/setup.hpp"
#include "commands.hpp"

namespace portdrift::cli {
namespace {

constexpr int kUnknown = 3;

constexpr std::string_view kHelp = R"(Usage: portdrift -c FILE [daemon options] [options]
       portdrift --check -c FILE [options]
       portdrift --validate -c FILE [--catalog-dir DIR]
       portdrift --catalog [--format text|json] [--catalog-dir DIR]
       portdrift policy -c FILE --out DIR | --check-against FILE  (policy --help)
       portdrift explain -c FILE HOST [PORT]                      (explain --help)
       portdrift matrix RESULT.json... [--format html] [-o FILE]  (matrix --help)

portdrift checks that a network still lets through (and still blocks) the
ports that the vendor documents say each component uses.

Modes:
  (none, with -c)     run as a daemon in the foreground: probe every check on
                      its interval, log drift when it is confirmed and when it
                      clears (see docs/daemon.md); SIGHUP reloads, SIGTERM stops
  --check             probe once, print a Nagios-style result, exit 0/1/2/3
  --validate          check the topology and catalog, print every problem
                      as FILE:LINE:COLUMN: key: message, exit 0 or 3
  --catalog           list the built-in catalog of documented flows
  -h, --help          this text
  -V, --version       print the version

Options:
  -c, --config FILE   topology file (YAML; see docs/configuration.md)
  --format FMT        text (default; Nagios plugin output) or json; for
                      --check also junit (JUnit XML) or tap (TAP 13), one
                      test case per check, for CI servers
  --baseline FILE     with --check: compare this run with an earlier
                      `--check --format json` result, as ndiff does (new and
                      cleared drifts, changed observations, added and
                      removed checks); text, or json with --format json;
                      the exit status becomes the comparison's (see below)
  --catalog-dir DIR   catalog data files (default: the installed catalog)
  -v, --verbose       list every check in the long output, not only drift;
                      log progress to stderr; with --validate, print which
                      check won where two spoke of one port
  --timeout MS        per-attempt timeout in milliseconds (topology default)
  --retries N         extra attempts after silence (topology default)
  --concurrency N     probes in flight at once (topology default)
  --per-host N        probes in flight per target address
  --max-rate PPS      connection attempts per second, 0 for no cap
  --source SRC        probes leave from this address of this machine, or
                      this interface (needs CAP_NET_RAW); overrides every
                      `source:` of the topology
  --vantage NAME      probe from this entry of the topology's `vantages:`
                      (default: $PORTDRIFT_VANTAGE, else `vantage:`); for
                      --check, --validate and the daemon
  --shard K/N         run shard K of N of the vantage's checks, split by
                      target address (see docs/fleet.md)

Daemon options:
  --state-file FILE   where hard states survive restarts (default: the
                      topology's daemon.state_file, else
                      $STATE_DIRECTORY/state.json)
  --metrics-listen A  Prometheus endpoint, ADDRESS:PORT or off
                      (default: daemon.metrics_listen, else 127.0.0.1:9617)
  --web.config.file F TLS, client certificates and basic auth for that
                      endpoint, in the exporter-toolkit format that
                      node_exporter and blackbox_exporter read (re-read on
                      SIGHUP; a bad file keeps the one in use)
  --log-level LEVEL   debug (one line per probe), info (default), warning, error
  --log-target T      auto (the journal under systemd, else stderr), stderr, journal

Exit status: 0 OK, 1 WARNING (only warning-severity flows drifted),
2 CRITICAL, 3 UNKNOWN (bad configuration or usage, nothing probed).
With --baseline: 0 nothing changed, 1 something changed but no check became
a critical problem, 2 a check became a critical problem (new drift, or an
added check that drifts), 3 the baseline cannot be read or compared
(docs/pipelines.md).
)";

enum class Mode { none, daemon, check, validate, catalog, help, version };
enum class Format { text, json, junit, tap };

struct Args {
  Mode mode = Mode::none;
  Format format = Format::text;
  std::optional<std::string> config;
  std::optional<std::string> catalog_dir;
  bool verbose = false;
  std::optional<std::uint32_t> timeout_ms, retries, concurrency, per_host, max_rate;
  std::optional<std::string> state_file, metrics_listen, web_config;
  std::optional<std::string> source;
  std::optional<std::string> vantage;
  std::optional<plan::Shard> shard;
  std::optional<std::string> baseline;
  spdlog::level::level_enum log_level = spdlog::level::info;
  daemon::LogTarget log_target = daemon::LogTarget::automatic;
  bool daemon_flags = false;  // a daemon-only flag was given
};

struct UsageError {
  std::string message;
};

std::uint32_t number(std::string_view flag, std::string_view text, std::uint32_t min, std::uint32_t max) {
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || v < min || v > max) {
    throw UsageError{fmt::format("{} takes a whole number from {} to {}, not '{}'", flag, min, max, text)};
  }
  return v;
}

Args parse(std::span<const std::string_view> args) {
  Args a;
  auto set_mode = [&](Mode m, std::string_view flag) {
    if (a.mode != Mode::none && a.mode != m) throw UsageError{fmt::format("{} cannot be combined with another mode", flag)};
    a.mode = m;
  };
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::optional<std::string_view> inline_value;
    if (flag.starts_with("--")) {
      if (auto eq = flag.find('='); eq != std::string_view::npos) {
        inline_value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
      }
    }
    auto value = [&]() -> std::string_view {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError{fmt::format("{} needs a value", flag)};
      return args[++i];
    };
    if (flag == "--check") set_mode(Mode::check, flag);
    else if (flag == "--validate") set_mode(Mode::validate, flag);
    else if (flag == "--catalog") set_mode(Mode::catalog, flag);
    else if (flag == "-h" || flag == "--help") set_mode(Mode::help, flag);
    else if (flag == "-V" || flag == "--version") set_mode(Mode::version, flag);
    else if (flag == "-c" || flag == "--config") a.config = std::string(value());
    else if (flag == "--catalog-dir") a.catalog_dir = std::string(value());
    else if (flag == "-v" || flag == "--verbose") a.verbose = true;
    else if (flag == "--format") {
      const auto v = value();
      if (v == "text") a.format = Format::text;
      else if (v == "json") a.format = Format::json;
      else if (v == "junit") a.format = Format::junit;
      else if (v == "tap") a.format = Format::tap;
      else throw UsageError{fmt::format("--format takes text, json, junit or tap, not '{}'", v)};
    } else if (flag == "--timeout") a.timeout_ms = number(flag, value(), 1, 600'000);
    else if (flag == "--retries") a.retries = number(flag, value(), 0, 10);
    else if (flag == "--concurrency") a.concurrency = number(flag, value(), 1, 1'000'000);
    else if (flag == "--per-host") a.per_host = number(flag, value(), 1, 1'000'000);
    else if (flag == "--max-rate") a.max_rate = number(flag, value(), 0, 100'000'000);
    else if (flag == "--source") {
      a.source = std::string(value());
      if (a.source->empty()) throw UsageError{"--source needs an address or an interface name"};
    }
    else if (flag == "--vantage") {
      a.vantage = std::string(value());
      if (a.vantage->empty()) throw UsageError{"--vantage needs the name of an entry of `vantages:`"};
    } else if (flag == "--baseline") {
      a.baseline = std::string(value());
      if (a.baseline->empty()) throw UsageError{"--baseline needs a file: an earlier --check --format json result"};
    } else if (flag == "--shard") {
      std::string error;
      a.shard = plan::parse_shard(value(), error);
      if (!a.shard) throw UsageError{fmt::format("--shard: {}", error)};
    }
    else if (flag == "--state-file") {
      a.state_file = std::string(value());
      a.daemon_flags = true;
    } else if (flag == "--metrics-listen") {
      const auto v = value();
      std::string error;
      if (v != "off" && !daemon::parse_listen(v, error)) throw UsageError{fmt::format("--metrics-listen: {}", error)};
      a.metrics_listen = std::string(v);
      a.daemon_flags = true;
    } else if (flag == "--web.config.file") {
      a.web_config = std::string(value());
      if (a.web_config->empty()) throw UsageError{"--web.config.file needs a file"};
      a.daemon_flags = true;
    } else if (flag == "--log-level") {
      const auto v = value();
      if (v == "debug") a.log_level = spdlog::level::debug;
      else if (v == "info") a.log_level = spdlog::level::info;
      else if (v == "warning") a.log_level = spdlog::level::warn;
      else if (v == "error") a.log_level = spdlog::level::err;
      else throw UsageError{fmt::format("--log-level takes debug, info, warning or error, not '{}'", v)};
      a.daemon_flags = true;
    } else if (flag == "--log-target") {
      const auto v = value();
      if (v == "auto") a.log_target = daemon::LogTarget::automatic;
      else if (v == "stderr") a.log_target = daemon::LogTarget::stderr_only;
      else if (v == "journal") a.log_target = daemon::LogTarget::journal;
      else throw UsageError{fmt::format("--log-target takes auto, stderr or journal, not '{}'", v)};
      a.daemon_flags = true;
    } else throw UsageError{fmt::format("unknown option '{}'", args[i])};
  }
  if (a.mode == Mode::none) {
    if (!a.config) throw UsageError{"say what to do: -c FILE (daemon), --check, --validate or --catalog (see --help)"};
    a.mode = Mode::daemon;
  }
  if (a.daemon_flags && a.mode != Mode::daemon) {
    throw UsageError{
        "--state-file, --metrics-listen, --web.config.file, --log-level and --log-target are for the daemon (no mode "
        "flag)"};
  }
  if (a.source && a.mode != Mode::check) {
    throw UsageError{"--source is for --check (the daemon and --validate take `source:` from the topology)"};
  }
  if ((a.vantage || a.shard) && a.mode != Mode::check && a.mode != Mode::validate && a.mode != Mode::daemon) {
    throw UsageError{"--vantage and --shard are for --check, --validate and the daemon"};
  }
  if ((a.format == Format::junit || a.format == Format::tap) && a.mode != Mode::check) {
    throw UsageError{"--format junit and tap are for --check"};
  }
  if (a.baseline && a.mode != Mode::check) throw UsageError{"--baseline is for --check"};
  if (a.baseline && a.format != Format::text && a.format != Format::json) {
    throw UsageError{"--baseline writes text or json, not junit or tap"};
  }
  if ((a.mode == Mode::check || a.mode == Mode::validate) && !a.config) {
    throw UsageError{"--check and --validate need a topology: -c FILE"};
  }
  return a;
}

runner::EngineOverrides overrides(const Args& a) {
  return {a.timeout_ms, a.retries, a.concurrency, a.per_host, a.max_rate, a.source};
}

// --vantage wins over PORTDRIFT_VANTAGE, so one unit file can carry the variable everywhere and a
// shell on one machine can still try another vantage.
runner::Selection selection(const Args& a) {
  runner::Selection s;
  if (a.vantage) {
    s.vantage = *a.vantage;
  } else if (const char* v = std::getenv("PORTDRIFT_VANTAGE"); v != nullptr) {
    s.vantage = v;
  }
  s.shard = a.shard;
  s.vantage_required = a.mode != Mode::validate;
  return s;
}

runner::SetupResult load(const Args& a) {
  const auto dir = a.catalog_dir ? std::filesystem::path(*a.catalog_dir) : default_catalog_dir();
  return runner::load_setup(*a.config, dir, overrides(a), selection(a));
}

std::string problems_summary(const Diagnostics& d, const std::string& file) {
  return fmt::format("{} configuration problem{} ({})", d.size(), d.size() == 1 ? "" : "s", file);
}

int do_validate(const Args& a, std::ostream& out) {
  const auto l = load(a);
  if (!l.diagnostics.empty()) {
    for (const auto& d : l.diagnostics) out << format(d) << '\n';
    out << problems_summary(l.diagnostics, *a.config) << '\n';
    return kUnknown;
  }
  // -v: which source won where two spoke of one port, and addresses planned once where members overlap.
  if (a.verbose) {
    for (const auto& n : l.notes) out << "note: " << format(n) << '\n';
  }
  // Coverage gaps do not stop a run: the file is OK, with warnings to read.
  for (const auto& w : l.warnings) out << "warning: " << format(w) << '\n';
  const auto& sel = l.setup.selection;
  const std::string from = sel.vantage.empty() ? "this vantage point" : fmt::format("vantage {}", sel.vantage);
  const std::string shard = sel.shard ? fmt::format(" (shard {}: {} of the vantage's {})", plan::to_string(*sel.shard),
                                                    l.setup.plan.checks.size(), l.setup.vantage_checks)
                                      : std::string();
  const std::string warned = l.warnings.empty() ? std::string()
                                                : fmt::format(", {} warning{}", l.warnings.size(),
                                                              l.warnings.size() == 1 ? "" : "s");
  out << fmt::format("{}: OK: {} hosts, {} checks from {}{}, {} catalog flows not probed{}\n", *a.config,
                     l.setup.plan.host_count, l.setup.plan.checks.size(), from, shard, l.setup.plan.skipped.size(),
                     warned);
  return 0;
}

// What `portdrift matrix` compares to refuse merging results of different topologies.
report::TopologyId topology_id(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return {std::filesystem::path(path).filename().string(), fmt::format("{:016x}", plan::stable_hash(bytes))};
}

// A run that cannot start, in the format asked for: CI servers read an error, not a parse failure.
std::string unknown(Format f, std::string_view summary, const Diagnostics& d) {
  switch (f) {
    case Format::json: return report::json_unknown(summary, d);
    case Format::junit: return report::junit_unknown(summary, d);
    case Format::tap: return report::tap_unknown(summary, d);
    case Format::text: break;
  }
  return report::nagios_unknown(summary, d);
}

// --baseline: read before probing, so a bad file costs no probes.
std::optional<report::RunRecord> read_baseline(const std::string& file, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read baseline {}: {}", file, std::strerror(errno));
    return std::nullopt;
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto r = report::parse_run(text);
  if (!r.record) error = fmt::format("baseline {} is not a portdrift --check --format json result: {}", file, r.error);
  return std::move(r.record);
}

// The comparison's own exit rule (report/baseline.hpp); the run's status line follows the changes.
int compare_with_baseline(const Args& a, const report::RunRecord& before, const report::RunView& view,
                          std::ostream& out, std::ostream& err) {
  const std::string run_json = report::json(view);
  const auto now = report::parse_run(run_json);
  const auto diff = now.record ? report::compare(before, *now.record) : report::BaselineDiffResult{{}, now.error};
  if (!diff.diff) {
    const auto error = fmt::format("cannot compare with baseline {}: {}", *a.baseline, diff.error);
    err << "portdrift: " << error << '\n';
    out << "PORTDRIFT UNKNOWN - " << error << '\n';
    return kUnknown;
  }
  if (a.format == Format::json) {
    out << report::diff_json(*diff.diff, *a.baseline, run_json);
  } else {
    const auto run_text = report::nagios(view, a.verbose ? report::Detail::all : report::Detail::problems);
    out << report::diff_text(*diff.diff, *a.baseline) << "This run: " << run_text.substr(0, run_text.find('\n') + 1);
  }
  return static_cast<int>(diff.diff->status);
}

int do_check(const Args& a, std::ostream& out, std::ostream& err, spdlog::logger& log) {
  std::optional<report::RunRecord> baseline;
  if (a.baseline) {
    std::string error;
    baseline = read_baseline(*a.baseline, error);
    if (!baseline) {
      err << "portdrift: " << error << '\n';
      out << "PORTDRIFT UNKNOWN - " << error << '\n';
      return kUnknown;
    }
  }
  auto l = load(a);
  if (!l.diagnostics.empty()) {
    out << unknown(a.format, problems_summary(l.diagnostics, *a.config), l.diagnostics);
    return kUnknown;
  }
  const auto& plan = l.setup.plan;
  if (const auto bad = runner::check_sources(l.setup.topology, overrides(a)); !bad.empty()) {
    const auto summary = fmt::format("{} source{} not on this machine; nothing probed", bad.size(),
                                     bad.size() == 1 ? " is" : "s are");
    out << unknown(a.format, summary, bad);
    return kUnknown;
  }
  const auto options = l.setup.engine;
  // The plan owns all that the run and the report use (its checks' text included), so the
  // typed topology, mostly hosts and their explicit checks, is let go before the run.
  l.setup.topology = {};
  log.info("probing {} checks ({} flows not probed); timeout {} ms, retries {}, concurrency {}, per host {}, "
           "max rate {}/s",
           plan.checks.size(), plan.skipped.size(), options.probe.timeout.count(), options.probe.retries,
           options.probe.concurrency, options.probe.per_host_concurrency, options.probe.max_rate);
  boost::asio::io_context io(1);
  auto future = boost::asio::co_spawn(io, runner::run_pass(plan, options), boost::asio::use_future);
  io.run();
  const auto pass = future.get();
  log.info("done in {:.3f} s: {} connection attempts, effective concurrency {}",
           static_cast<double>(pass.duration.count()) / 1e6, pass.stats.attempts, pass.stats.concurrency);
  const report::RunView view{pass.results, plan, verdict::summarize(pass.results), pass.duration,
                             l.setup.selection.instance(), topology_id(*a.config)};
  if (baseline) return compare_with_baseline(a, *baseline, view, out, err);
  switch (a.format) {
    case Format::json: report::write_json(view, out); break;
    case Format::junit: out << report::junit(view); break;
    case Format::tap: out << report::tap(view); break;
    case Format::text: out << report::nagios(view, a.verbose ? report::Detail::all : report::Detail::problems); break;
  }
  return static_cast<int>(view.summary.status);
}

// The environment is read here and nowhere else: systemd's variables become options.
int do_daemon(const Args& a) {
  daemon::Options o;
  o.config = *a.config;
  o.catalog_dir = a.catalog_dir ? std::filesystem::path(*a.catalog_dir) : default_catalog_dir();
  o.engine = overrides(a);
  o.selection = selection(a);
  if (a.state_file) o.state_file = std::filesystem::path(*a.state_file);
  if (const char* dir = std::getenv("STATE_DIRECTORY"); dir != nullptr && *dir != '\0') {
    const std::string_view d(dir);
    o.state_directory = std::filesystem::path(std::string(d.substr(0, d.find(':'))));
  }
  o.metrics_listen = a.metrics_listen;
  if (a.web_config) o.web_config = std::filesystem::path(*a.web_config);
  if (const char* s = std::getenv("NOTIFY_SOCKET")) o.notify_socket = s;
  o.watchdog = daemon::watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
  // For tests only (tests/netns, the systemd proof): make the scheduler stall or throw.
  if (const char* f = std::getenv("PORTDRIFT_FAULT")) o.fault = daemon::parse_fault(f);
  // Children (none today) must not talk to systemd in our name.
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  auto log = daemon::make_logger(a.log_target, a.log_level, daemon::stderr_is_journal(std::getenv("JOURNAL_STREAM")));
  return daemon::run(std::move(o), std::move(log));
}

int do_catalog(const Args& a, std::ostream& out, std::ostream& err) {
  const auto dir = a.catalog_dir ? std::filesystem::path(*a.catalog_dir) : default_catalog_dir();
  const auto c = catalog::load_catalog(dir);
  for (const auto& d : c.diagnostics) err << format(d) << '\n';
  if (!c.ok()) return kUnknown;
  out << (a.format == Format::json ? report::catalog_json(c.catalog) : report::catalog_table(c.catalog));
  return 0;
}

}  // namespace

int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  try {
    // Subcommands with flags of their own (src/cli/*_cmd.cpp).
    if (args.size() > 1 && args[1] == "policy") return run_policy(args, out, err);
    if (args.size() > 1 && args[1] == "explain") return run_explain(args, out, err);
    if (args.size() > 1 && args[1] == "matrix") return run_matrix(args, out, err);
    const Args a = parse(args);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    spdlog::logger log("portdrift", sink);
    log.set_pattern("portdrift: %l: %v");
    log.set_level(a.verbose ? spdlog::level::info : spdlog::level::warn);
    switch (a.mode) {
      case Mode::help: out << kHelp; return 0;
      case Mode::version: out << "portdrift " << PORTDRIFT_VERSION << '\n'; return 0;
      case Mode::validate: return do_validate(a, out);
      case Mode::catalog: return do_catalog(a, out, err);
      case Mode::check: return do_check(a, out, err, log);
      case Mode::daemon: return do_daemon(a);
      case Mode::none: break;
    }
    return kUnknown;
  } catch (const UsageError& e) {
    err << "portdrift: " << e.message << '\n';
    out << "PORTDRIFT UNKNOWN - usage: " << e.message << '\n';
    return kUnknown;
  } catch (const CommandUsage& e) {
    err << "portdrift: " << e.message << '\n';
    return kUnknown;
  } catch (const std::exception& e) {
    err << "portdrift: internal error: " << e.what() << '\n';
    out << "PORTDRIFT UNKNOWN - internal error: " << e.what() << '\n';
    return kUnknown;
  }
}

}  // namespace portdrift::cli

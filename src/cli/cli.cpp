#include "portdrift/cli/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <vector>
#include <cerrno>
#include <cstdlib>
#include <cstring>
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
#include "flags.hpp"

namespace portdrift::cli {
namespace {

constexpr int kUnknown = 3;

constexpr std::string_view kSynopsis = R"(Usage: portdrift -c FILE [daemon options] [options]
       portdrift --check -c FILE [options]
       portdrift --validate -c FILE [--catalog-dir DIR]
       portdrift --catalog [--format text|json] [--catalog-dir DIR]
       portdrift policy -c FILE --out DIR | --check-against FILE  (policy --help)
       portdrift explain -c FILE HOST [PORT]                      (explain --help)
       portdrift matrix RESULT.json... [--format html] [-o FILE]  (matrix --help))";

constexpr std::string_view kAbout = R"(
portdrift checks that a network still lets through (and still blocks) the
ports that the vendor documents say each component uses.

With -c and no mode flag, portdrift runs as a daemon in the foreground: it
probes every check on its interval and logs drift when it is confirmed and
when it clears (see docs/daemon.md); SIGHUP reloads, SIGTERM stops.
See portdrift(1) and portdrift-topology(5).)";

constexpr std::string_view kExitStatus = R"(Exit status: 0 OK, 1 WARNING (only warning-severity flows drifted),
2 CRITICAL, 3 UNKNOWN (bad configuration or usage, nothing probed).
With --baseline: 0 nothing changed, 1 something changed but no check became
a critical problem, 2 a check became a critical problem (new drift, or an
added check that drifts), 3 the baseline cannot be read or compared
(docs/pipelines.md).)";

enum class Mode { none, daemon, check, validate, catalog, version };
enum class Format { text, json, junit, tap };

// What --format takes (with --check and --catalog): a new output format is one more entry here
// and its case where do_check and do_catalog write.
constexpr std::array<Choice<Format>, 4> kFormats{
    {{"text", Format::text}, {"json", Format::json}, {"junit", Format::junit}, {"tap", Format::tap}}};

constexpr std::array<Choice<std::optional<Timing>>, 2> kTimings{
    {{"fixed", Timing::fixed}, {"adaptive", Timing::adaptive}}};

constexpr std::array<Choice<spdlog::level::level_enum>, 4> kLogLevels{{{"debug", spdlog::level::debug},
                                                                       {"info", spdlog::level::info},
                                                                       {"warning", spdlog::level::warn},
                                                                       {"error", spdlog::level::err}}};

constexpr std::array<Choice<daemon::LogTarget>, 3> kLogTargets{{{"auto", daemon::LogTarget::automatic},
                                                                {"stderr", daemon::LogTarget::stderr_only},
                                                                {"journal", daemon::LogTarget::journal}}};

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
  std::optional<std::string> shard_text;
  std::optional<plan::Shard> shard;
  std::optional<std::string> baseline;
  spdlog::level::level_enum log_level = spdlog::level::info;
  daemon::LogTarget log_target = daemon::LogTarget::automatic;
  std::optional<Timing> timing;
  std::optional<std::uint32_t> time_budget_s;
};

// One command line's worth of parsed flags: the modes' (Args) or one subcommand's.
struct Parsed {
  Args main;
  PolicyCommand policy;
  ExplainCommand explain;
  MatrixCommand matrix;
};

// The parser and the options that decide a mode, so that parse() can check how they combine.
struct Cli {
  std::unique_ptr<CLI::App> app;
  std::vector<std::pair<const CLI::Option*, Mode>> modes;
  std::vector<const CLI::Option*> daemon_only;
  CLI::App* policy = nullptr;
  CLI::App* explain = nullptr;
  CLI::App* matrix = nullptr;
};

std::string shard_error(const std::string& text) {
  std::string error;
  return plan::parse_shard(text, error) ? std::string() : error;
}

std::string listen_error(const std::string& text) {
  std::string error;
  return text == "off" || daemon::parse_listen(text, error) ? std::string() : error;
}

std::function<std::string(const std::string&)> non_empty(std::string message) {
  return [message = std::move(message)](const std::string& v) { return v.empty() ? message : std::string(); };
}

CLI::Option* mode_flag(CLI::App& app, const std::string& name, const std::string& description) {
  return app.add_flag(name, description)->group("Modes");
}

// The one CLI11 app: the modes' flags, then the subcommands of src/cli/*_cmd.cpp, writing into `p`.
Cli make_cli(Parsed& p) {
  Cli c;
  c.app = std::make_unique<CLI::App>(std::string(kAbout), "portdrift");
  auto& app = *c.app;
  set_help_layout(app);
  set_synopsis(app, std::string(kSynopsis));
  app.footer(std::string(kExitStatus));
  // Unknown words are ours to report ("unknown option '--x'"); a flag given twice keeps the last value.
  app.allow_extras();
  app.require_subcommand(0, 1);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  auto& a = p.main;

  app.set_help_flag("-h,--help", "this text")->group("Modes");
  c.modes = {{mode_flag(app, "--check", "probe once, print a Nagios-style result, exit 0/1/2/3"), Mode::check},
             {mode_flag(app, "--validate",
                        "check the topology and catalog, print every problem\n"
                        "as FILE:LINE:COLUMN: key: message, exit 0 or 3"),
              Mode::validate},
             {mode_flag(app, "--catalog", "list the built-in catalog of documented flows"), Mode::catalog},
             {mode_flag(app, "-V,--version", "print the version"), Mode::version}};

  app.add_option("-c,--config", a.config, "topology file (YAML; see portdrift-topology(5))")->type_name("FILE");
  add_choice(app, "--format", kFormats, a.format,
             "text (default; Nagios plugin output) or json; for\n"
             "--check also junit (JUnit XML) or tap (TAP 13), one\n"
             "test case per check, for CI servers");
  add_checked(app, "--baseline", a.baseline, "FILE",
              non_empty("needs a file: an earlier --check --format json result"),
              "with --check: compare this run with an earlier\n"
              "`--check --format json` result, as ndiff does (new and\n"
              "cleared drifts, changed observations, added and\n"
              "removed checks); text, or json with --format json;\n"
              "the exit status becomes the comparison's (see below)");
  app.add_option("--catalog-dir", a.catalog_dir, "catalog data files (default: the installed catalog)")
      ->type_name("DIR");
  app.add_flag("-v,--verbose", a.verbose,
               "list every check in the long output, not only drift;\n"
               "log progress to stderr; with --validate, print which\n"
               "check won where two spoke of one port");
  add_number(app, "--timeout", a.timeout_ms, 1, 600'000, "MS", "per-attempt timeout in milliseconds (topology default)");
  add_number(app, "--retries", a.retries, 0, 10, "N", "extra attempts after silence (topology default)");
  add_number(app, "--concurrency", a.concurrency, 1, 1'000'000, "N", "probes in flight at once (topology default)");
  add_number(app, "--per-host", a.per_host, 1, 1'000'000, "N", "probes in flight per target address");
  add_number(app, "--max-rate", a.max_rate, 0, 100'000'000, "PPS", "connection attempts per second, 0 for no cap");
  add_choice(app, "--timing", kTimings, a.timing,
             "fixed: wait --timeout for every silent attempt;\n"
             "adaptive: as long as each address's round trips\n"
             "justify, at most --timeout (topology default)");
  add_number(app, "--time-budget", a.time_budget_s, 0, 86'400, "S",
             "UDP: how long, from the start of a run, silent ports\n"
             "may wait for a target's ICMP error rate limit before\n"
             "they are reported icmp-ratelimited (unconfirmed);\n"
             "0: no limit (--check's default); the daemon's is 10");
  add_checked(app, "--source", a.source, "SRC", non_empty("needs an address or an interface name"),
              "probes leave from this address of this machine, or\n"
              "this interface (needs CAP_NET_RAW); overrides every\n"
              "`source:` of the topology; for --check");
  add_checked(app, "--vantage", a.vantage, "NAME", non_empty("needs the name of an entry of `vantages:`"),
              "probe from this entry of the topology's `vantages:`\n"
              "(default: $PORTDRIFT_VANTAGE, else `vantage:`); for\n"
              "--check, --validate and the daemon");
  add_checked(app, "--shard", a.shard_text, "K/N", shard_error,
              "run shard K of N of the vantage's checks, split by\n"
              "target address (see docs/fleet.md)");

  const std::string daemon = "Daemon options";
  c.daemon_only = {
      app.add_option("--state-file", a.state_file,
                     "where hard states survive restarts (default: the\n"
                     "topology's daemon.state_file, else $STATE_DIRECTORY/state.json)")
          ->type_name("FILE")
          ->group(daemon),
      add_checked(app, "--metrics-listen", a.metrics_listen, "ADDR:PORT", listen_error,
                  "Prometheus endpoint, ADDRESS:PORT or off\n"
                  "(default: daemon.metrics_listen, else 127.0.0.1:9617)")
          ->group(daemon),
      add_checked(app, "--web.config.file", a.web_config, "FILE", non_empty("needs a file"),
                  "TLS, client certificates and basic auth for that\n"
                  "endpoint, in the exporter-toolkit format that\n"
                  "node_exporter and blackbox_exporter read (re-read on\n"
                  "SIGHUP; a bad file keeps the one in use)")
          ->group(daemon),
      add_choice(app, "--log-level", kLogLevels, a.log_level,
                 "debug (one line per probe), info (default), warning, error")
          ->group(daemon),
      add_choice(app, "--log-target", kLogTargets, a.log_target,
                 "auto (the journal under systemd, else stderr), stderr, journal")
          ->group(daemon)};

  c.policy = add_policy(app, p.policy);
  c.explain = add_explain(app, p.explain);
  c.matrix = add_matrix(app, p.matrix);
  return c;
}

// The mode the flags ask for, and the rules on which flags go with which mode.
void settle_mode(const Cli& c, Args& a) {
  for (const auto* opt : c.app->parse_order()) {
    for (const auto& [flag, mode] : c.modes) {
      if (opt != flag) continue;
      if (a.mode != Mode::none && a.mode != mode) {
        throw UsageError{fmt::format("{} cannot be combined with another mode", opt->get_name())};
      }
      a.mode = mode;
    }
  }
  if (auto extra = first_extra(*c.app)) throw UsageError{fmt::format("unknown option '{}'", *extra)};
  if (a.shard_text) {
    std::string error;
    a.shard = plan::parse_shard(*a.shard_text, error);
  }
  if (a.mode == Mode::none) {
    if (!a.config) throw UsageError{"say what to do: -c FILE (daemon), --check, --validate or --catalog (see --help)"};
    a.mode = Mode::daemon;
  }
  const bool daemon_flags =
      std::any_of(c.daemon_only.begin(), c.daemon_only.end(), [](const CLI::Option* o) { return o->count() > 0; });
  if (daemon_flags && a.mode != Mode::daemon) {
    throw UsageError{
        "--state-file, --metrics-listen, --web.config.file, --log-level and --log-target are for the daemon (no mode "
        "flag)"};
  }
  if ((a.format == Format::junit || a.format == Format::tap) && a.mode != Mode::check) {
    throw UsageError{"--format junit and tap are for --check"};
  }
  if (a.baseline && a.mode != Mode::check) throw UsageError{"--baseline is for --check"};
  if (a.baseline && a.format != Format::text && a.format != Format::json) {
    throw UsageError{"--baseline writes text or json, not junit or tap"};
  }
  if (a.source && a.mode != Mode::check) {
    throw UsageError{"--source is for --check (the daemon and --validate take `source:` from the topology)"};
  }
  if ((a.vantage || a.shard) && a.mode != Mode::check && a.mode != Mode::validate && a.mode != Mode::daemon) {
    throw UsageError{"--vantage and --shard are for --check, --validate and the daemon"};
  }
  if ((a.mode == Mode::check || a.mode == Mode::validate) && !a.config) {
    throw UsageError{"--check and --validate need a topology: -c FILE"};
  }
}

runner::EngineOverrides overrides(const Args& a) {
  return {a.timeout_ms, a.retries, a.concurrency, a.per_host, a.max_rate, a.source, a.timing, a.time_budget_s};
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
  log.info("probing {} checks ({} flows not probed); timeout {} ms ({} timing), retries {}, concurrency {}, "
           "per host {}, max rate {}/s",
           plan.checks.size(), plan.skipped.size(), options.probe.timeout.count(), to_string(options.probe.timing),
           options.probe.retries, options.probe.concurrency, options.probe.per_host_concurrency,
           options.probe.max_rate);
  boost::asio::io_context io(1);
  auto future = boost::asio::co_spawn(io, runner::run_pass(plan, options), boost::asio::use_future);
  io.run();
  const auto pass = future.get();
  log.info("done in {:.3f} s: {} connection attempts, effective concurrency {}",
           static_cast<double>(pass.duration.count()) / 1e6, pass.stats.attempts, pass.stats.concurrency);
  if (options.probe.timing == Timing::adaptive) {
    const auto ms = [](std::chrono::microseconds t) { return static_cast<double>(t.count()) / 1e3; };
    log.info("adaptive timing: {} addresses with a trusted estimate, silence given up after {:.1f}/{:.1f}/{:.1f} ms "
             "(least/median/most), {} answered retries widened an estimate",
             pass.stats.trusted_addresses, ms(pass.stats.give_up_min), ms(pass.stats.give_up_median),
             ms(pass.stats.give_up_max), pass.stats.widened);
  }
  if (pass.stats.shared_limiter_addresses > 0 || pass.stats.icmp_ratelimited > 0) {
    log.info("icmp rate limits: {} addresses share one limiter with others (found by {} test probes); {} silent "
             "ports left unconfirmed by --time-budget (icmp-ratelimited)",
             pass.stats.shared_limiter_addresses, pass.stats.limiter_canaries, pass.stats.icmp_ratelimited);
  }
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


// Parses `args` into `p`; returns an exit code when there is nothing left to do (--help).
std::optional<int> parse(const Cli& c, std::span<const std::string_view> args, std::ostream& out) {
  // CLI11 takes the words without the program name, last first.
  std::vector<std::string> words;
  for (auto it = args.rbegin(); it + 1 < args.rend(); ++it) words.emplace_back(*it);
  try {
    c.app->parse(words);
  } catch (const CLI::CallForHelp&) {
    out << c.app->help();  // the subcommand's, when --help followed one
    return 0;
  } catch (const CLI::ParseError& e) {
    // Never CLI11's exit codes: every usage error is UNKNOWN.
    if (!c.app->get_subcommands().empty()) throw CommandUsage{e.what()};
    throw UsageError{e.what()};
  }
  return std::nullopt;
}

// A subcommand: its own flags only.
int run_command(const Cli& c, const CLI::App& sub, const Parsed& p, std::ostream& out, std::ostream& err) {
  if (auto extra = first_extra(*c.app)) throw UsageError{fmt::format("unknown option '{}'", *extra)};
  if (const auto& given = c.app->parse_order(); !given.empty()) {
    throw CommandUsage{
        fmt::format("{} cannot be combined with the {} command", given.front()->get_name(), sub.get_name())};
  }
  if (auto extra = first_extra(sub)) throw CommandUsage{fmt::format("unknown option '{}' for {}", *extra, sub.get_name())};
  if (&sub == c.policy) return run_policy(p.policy, out, err);
  if (&sub == c.explain) return run_explain(p.explain, out);
  return run_matrix(p.matrix, out, err);
}

}  // namespace

int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  try {
    Parsed p;
    const Cli c = make_cli(p);
    if (const auto done = parse(c, args, out)) return *done;
    if (const auto subs = c.app->get_subcommands(); !subs.empty()) return run_command(c, *subs.front(), p, out, err);
    Args& a = p.main;
    settle_mode(c, a);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    spdlog::logger log("portdrift", sink);
    log.set_pattern("portdrift: %l: %v");
    log.set_level(a.verbose ? spdlog::level::info : spdlog::level::warn);
    switch (a.mode) {
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

std::vector<std::string> option_names() {
  Parsed p;
  const Cli c = make_cli(p);
  std::vector<std::string> names;
  list_flags(*c.app, "", names);
  for (const auto* sub : c.app->get_subcommands([](const CLI::App*) { return true; })) {
    list_flags(*sub, sub->get_name() + " ", names);
  }
  return names;
}

}  // namespace portdrift::cli

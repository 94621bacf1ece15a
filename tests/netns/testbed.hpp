#pragma once
// The real-network test bed: network namespaces joined by veth pairs (through
// a bridge namespace when there are more than two), addresses in the
// benchmarking ranges, nftables rulesets, listener processes, and a fixed
// /etc/netns/<scanner>/{hosts,resolv.conf,nsswitch.conf} so that names resolve
// the same way on every machine. Used by netns_test and portdrift-demo.
//
// It must not: add a default route, create or touch any interface of the
// initial namespace, put an address outside 198.18.0.0/15 or 2001:2::/48 on
// anything, or leave a namespace, an /etc/netns directory or a process behind.
// Everything is released by the destructor; on SIGINT/SIGTERM/SIGHUP (see
// install_signal_cleanup) and at exit() the live test beds are torn down too.
//
// Addressing: one layer-2 segment. The scanner is 198.18.0.1/16 and
// 2001:2::1/64; hosts take addresses from 198.18.0.0/16 and 2001:2::/64. The
// only routes are those connected prefixes, so 198.19.0.0/16 is unreachable
// from the scanner: the kernel refuses a connect there before any packet leaves.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portdrift::testbed {

inline constexpr std::string_view kScannerV4 = "198.18.0.1";
inline constexpr std::string_view kScannerV6 = "2001:2::1";
inline constexpr int kSegmentV4Prefix = 16;  // 198.18.0.0/16
inline constexpr int kSegmentV6Prefix = 64;  // 2001:2::/64
// Inside 198.18.0.0/15 but routed nowhere: connects fail locally with ENETUNREACH.
inline constexpr std::string_view kUnroutedV4 = "198.19.0.1";
// The scanner's only DNS server: unroutable, so a lookup that misses the hosts file fails at once.
inline constexpr std::string_view kDeadNameserver = "198.19.255.53";

// ---- commands ---------------------------------------------------------------

// A command that could not be run, timed out, or (with OnFailure::raise) exited non-zero.
// The message holds the command line and its stderr.
class CommandError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class OnFailure { raise, keep };   // keep: return the result whatever the exit status
enum class Output { capture, inherit };  // inherit: the child writes to our stdout/stderr

struct RunOptions {
  std::string input;  // written to the child's stdin
  std::chrono::milliseconds timeout{15000};
  OnFailure on_failure = OnFailure::raise;
  Output output = Output::capture;

  // RunOptions{}.within(5s).keep_status(): GCC 12 warns on partial designated initializers.
  RunOptions& with_input(std::string text) { input = std::move(text); return *this; }
  RunOptions& within(std::chrono::milliseconds t) { timeout = t; return *this; }
  RunOptions& keep_status() { on_failure = OnFailure::keep; return *this; }
  RunOptions& inherit_output() { output = Output::inherit; return *this; }
};

struct CommandResult {
  std::string command;  // for messages
  int exit_code = -1;   // 128+N when killed by signal N
  std::string out;
  std::string err;
  std::chrono::microseconds wall{0};
};

// Runs argv (no shell; argv[0] searched in PATH and the sbin directories).
CommandResult run(const std::vector<std::string>& argv, const RunOptions& options = {});
std::string command_line(const std::vector<std::string>& argv);
// Absolute path of a tool, or nullopt.
std::optional<std::string> find_tool(std::string_view name);

// ---- prerequisites ------------------------------------------------------------

struct Prerequisites {
  bool ok = false;
  std::string reason;  // why not, in words
};

// Root, the `ip` and `nft` tools, and a namespace that can really be created
// (checked once per process).
const Prerequisites& prerequisites();
// True when the environment says we run in CI (CI=true): missing prerequisites are then a failure.
bool in_ci();

// ---- child processes ----------------------------------------------------------

// A background child with its stdout and stderr on pipes; stopped (SIGTERM,
// then SIGKILL) and reaped by its destructor. Never found by name: only by the
// pid we spawned.
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& command() const noexcept { return command_; }
  // Waits until the child prints a line starting with `prefix` on stdout and returns that line;
  // throws (with its stderr) if it exits or times out first.
  std::string wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout);
  // Everything read from its stdout so far.
  [[nodiscard]] const std::string& output() const noexcept { return seen_; }
  // What it wrote on stderr so far (reads what is there, waiting at most 200 ms).
  std::string error_output() noexcept { return drain_stderr(); }
  // Idempotent; returns the exit code (128+N for signal N).
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000)) noexcept;

 private:
  std::string drain_stderr() noexcept;
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string command_;
  std::string seen_;
  std::optional<int> status_;
};

// ---- the test bed -------------------------------------------------------------

enum class RouteType {
  via,          // forward to a gateway
  prohibit,     // the kernel answers ICMP "administratively prohibited"
  unreachable,  // the kernel answers ICMP "host unreachable"
  blackhole,    // silently discarded
};

class Testbed {
 public:
  // `label` goes into the namespace names (a-z, 0-9, '-'; shortened).
  explicit Testbed(std::string_view label);
  ~Testbed();
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  // Declares a host namespace whose addresses sit on the shared segment. Before build().
  void add_host(std::string name, std::vector<std::string> addresses);
  // Creates the namespaces, links and addresses, and waits until IPv4 and IPv6 are usable.
  void build();

  [[nodiscard]] const std::string& scanner() const noexcept { return scanner_; }
  [[nodiscard]] const std::string& ns(std::string_view host) const;
  [[nodiscard]] const std::string& tag() const noexcept { return tag_; }
  [[nodiscard]] std::size_t host_count() const noexcept { return hosts_.size(); }
  [[nodiscard]] bool bridged() const noexcept { return !bridge_.empty(); }
  // Every namespace this bed created (scanner, hosts, bridge).
  [[nodiscard]] std::vector<std::string> namespaces() const;

  // `ip netns exec NS argv...`
  CommandResult exec(const std::string& ns_name, const std::vector<std::string>& argv, const RunOptions& options = {});
  // Loads an nftables ruleset (nft -f -) into the host's namespace.
  void load_nft(std::string_view host, std::string_view ruleset);
  // Starts `pd_listen ENDPOINT...` in the host's namespace and returns once it is ready.
  // Endpoints: ADDR:PORT, or [ADDR]:PORT for IPv6.
  void listen(std::string_view host, const std::filesystem::path& pd_listen, const std::vector<std::string>& endpoints);
  void stop_listeners() noexcept;
  [[nodiscard]] std::vector<pid_t> listener_pids() const;
  // A static route in a namespace ("scanner" or a host), for prefixes inside the test ranges only:
  // `via` a gateway on the segment, or a route of a type that makes the kernel answer itself.
  void add_route(std::string_view node, std::string_view prefix, RouteType type, std::string_view via = {});
  // Lets a host forward between the scanner and the routes above (a router in the path).
  void enable_forwarding(std::string_view host);
  // Replaces the scanner's resolv.conf; every nameserver must be in the test ranges.
  void set_scanner_resolv_conf(std::string_view text);
  // Replaces the scanner's /etc/hosts (seen through `ip netns exec`) with localhost plus `entries`
  // ("ADDRESS NAME..." lines).
  void set_scanner_hosts(std::string_view entries);

  // Kills our processes in the namespaces, deletes the namespaces and /etc/netns files.
  // Safe to call twice and from the signal thread.
  void teardown() noexcept;

 private:
  struct Node {
    std::string name;  // host name, or "scanner"
    std::string ns;
    std::vector<std::string> addresses;
    std::string ifname;
    int ifindex = 0;
  };
  std::string new_namespace(std::string_view role);
  void create_link(Node& node, int index, int bridge_index);
  void configure_node(const Node& node);
  void wait_ready(std::chrono::milliseconds timeout);
  void write_etc_netns(const std::string& file, std::string_view text);
  [[nodiscard]] const Node& host_node(std::string_view host) const;
  [[nodiscard]] const std::string& node_ns(std::string_view node) const;

  mutable std::recursive_mutex mu_;  // teardown may come from the signal thread
  std::string tag_;
  std::string label_;
  std::string scanner_;
  std::string bridge_;
  Node scanner_node_;
  std::vector<Node> hosts_;
  std::vector<std::string> created_;  // namespaces still to delete, in creation order
  std::vector<std::unique_ptr<Process>> listeners_;
  bool built_ = false;
};

// Validates an address for the segment: an IP literal in 198.18.0.0/16 or 2001:2::/64, not the scanner's.
bool on_segment(std::string_view address) noexcept;
// Is `address` an IP literal inside the benchmarking ranges 198.18.0.0/15 or 2001:2::/48?
bool in_test_ranges(std::string_view address) noexcept;
// Is ADDRESS/LEN a prefix that lies wholly inside those ranges?
bool prefix_in_test_ranges(std::string_view prefix) noexcept;
bool is_ipv6(std::string_view address) noexcept;
// ADDR:PORT or [ADDR]:PORT.
std::string endpoint(std::string_view address, std::uint16_t port);

// Blocks SIGINT/SIGTERM/SIGHUP in the calling thread (call it first thing in
// main, before any other thread exists) and starts a thread that, on one of
// them, kills every child we spawned, tears down every live test bed and
// exits 128+signal. Also tears live beds down from an atexit handler.
void install_signal_cleanup();

// Removes what an earlier run that was killed outright (SIGKILL, a ctest
// timeout) left behind: namespaces and /etc/netns directories named
// pdtb-<pid>-... whose <pid> no longer exists, after killing the processes
// still inside those namespaces. Returns one line per thing removed.
std::vector<std::string> sweep_stale();

}  // namespace portdrift::testbed

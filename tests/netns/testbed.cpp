// The test bed's moving parts.
//
// Children: every process we spawn is recorded in one registry (pid -> live or
// exit code) and only ever reaped through it, under its lock, so that the
// signal thread can kill by pid without hitting a pid that was already reaped
// and reused. Commands run with posix_spawn, their stop signals unblocked and
// set to default, stdout/stderr on pipes read in a poll loop under a deadline.
//
// Namespaces: created with `ip netns add`, deleted the way `ip netns del`
// does it (lazy unmount of /run/netns/NAME, then unlink) so that teardown
// spawns nothing and still works while the terminal's Ctrl-C is killing our
// children. Deleting the last reference destroys the veths and the bridge.
//
// Why veth ends get explicit ifindexes: in fresh namespaces both ends of a
// pair would otherwise get ifindex 2, and the kernel's linkwatch then treats
// the carrier change as non-urgent and delivers it up to a second later.
// Until then IPv6 has not joined the solicited-node groups, so the first
// neighbour solicitation is lost and every IPv6 probe of the first second
// times out. Distinct indexes make the event urgent; wait_ready() checks the
// groups anyway.

#include "testbed.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace portdrift::testbed {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kPrefix = "pdtb";  // namespaces and /etc/netns dirs we own: pdtb-<pid>-<rand>-...
const fs::path kRunNetns = "/run/netns";
const fs::path kEtcNetns = "/etc/netns";

int decode_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// ---- the child registry -------------------------------------------------------

class Children {
 public:
  // Never destroyed: the signal thread may still use it while exit() runs static destructors.
  static Children& instance() {
    static auto* c = new Children;
    return *c;
  }

  // Spawns under the lock so that a signal cannot come between the spawn and the record.
  pid_t spawn(const std::string& path, const std::vector<std::string>& argv, posix_spawn_file_actions_t* fa) {
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    pid_t pid = -1;
    std::lock_guard lock(mu_);
    const int rc = ::posix_spawn(&pid, path.c_str(), fa, &attr, cargv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw CommandError("cannot start " + command_line(argv) + ": " + std::strerror(rc));
    live_.insert(pid);
    return pid;
  }

  // The exit code if the child has exited (now or before), nullopt while it runs.
  std::optional<int> try_reap(pid_t pid) noexcept {
    std::lock_guard lock(mu_);
    return try_reap_locked(pid);
  }

  int terminate(pid_t pid, std::chrono::milliseconds grace) noexcept {
    if (auto s = try_reap(pid)) return *s;
    signal_if_live(pid, SIGTERM);
    const auto until = Clock::now() + grace;
    while (Clock::now() < until) {
      if (auto s = try_reap(pid)) return *s;
      std::this_thread::sleep_for(2ms);
    }
    signal_if_live(pid, SIGKILL);
    for (int i = 0; i < 5000; ++i) {
      if (auto s = try_reap(pid)) return *s;
      std::this_thread::sleep_for(1ms);
    }
    return -1;
  }

  void terminate_all(std::chrono::milliseconds grace) noexcept {
    std::vector<pid_t> pids;
    {
      std::lock_guard lock(mu_);
      pids.assign(live_.begin(), live_.end());
    }
    for (pid_t p : pids) signal_if_live(p, SIGTERM);
    const auto until = Clock::now() + grace;
    while (Clock::now() < until) {
      bool any = false;
      for (pid_t p : pids) any = !try_reap(p).has_value() || any;
      if (!any) return;
      std::this_thread::sleep_for(5ms);
    }
    for (pid_t p : pids) terminate(p, 0ms);
  }

 private:
  std::optional<int> try_reap_locked(pid_t pid) noexcept {
    if (auto it = done_.find(pid); it != done_.end()) return it->second;
    if (!live_.contains(pid)) return -1;
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == 0) return std::nullopt;
    const int code = r == pid ? decode_status(status) : -1;
    live_.erase(pid);
    done_[pid] = code;
    return code;
  }

  void signal_if_live(pid_t pid, int sig) noexcept {
    std::lock_guard lock(mu_);
    if (live_.contains(pid) && !try_reap_locked(pid)) ::kill(pid, sig);
  }

  std::mutex mu_;
  std::set<pid_t> live_;
  std::map<pid_t, int> done_;
};

// ---- the live test beds, for the signal thread and atexit -----------------------

struct Registry {
  std::mutex mu;
  std::set<Testbed*> beds;
  std::atomic<bool> signalled{false};  // the signal thread is cleaning up and will _Exit
  // Never destroyed, like Children.
  static Registry& instance() {
    static auto* r = new Registry;
    return *r;
  }
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct Pipe {
  int r = -1;
  int w = -1;
  Pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw CommandError(std::string("pipe: ") + std::strerror(errno));
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    close_r();
    close_w();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_r() noexcept {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_w() noexcept {
    if (w >= 0) ::close(w);
    w = -1;
  }
};

// Appends what is readable now; false at EOF.
bool read_some(int fd, std::string& into) {
  std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      into.append(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  if (auto p = find_tool(name)) return *p;
  throw CommandError("cannot find '" + name + "' in PATH or the sbin directories");
}

std::string random_hex4() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> d(0, 0xffff);
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "%04x", d(rd));
  return buf.data();
}

std::string sanitize(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out += c;
    else if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 'a');
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "x" : out;
}

// What `ip netns del` does, without spawning it.
bool delete_namespace(const std::string& name) noexcept {
  const auto path = kRunNetns / name;
  ::umount2(path.c_str(), MNT_DETACH);
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return true;
  std::fprintf(stderr, "testbed: cannot remove %s: %s\n", path.c_str(), std::strerror(errno));
  return false;
}

bool pid_alive(pid_t pid) noexcept { return ::kill(pid, 0) == 0 || errno == EPERM; }

// pdtb-<pid>-<4 hex>-... -> pid. (No std::regex: GCC 12 warns inside it under the sanitizers.)
std::optional<pid_t> owner_pid(const std::string& name) {
  const std::string head = std::string(kPrefix) + "-";
  if (!name.starts_with(head)) return std::nullopt;
  const auto dash = name.find('-', head.size());
  if (dash == std::string::npos || dash == head.size() || dash - head.size() > 9) return std::nullopt;
  const std::string digits = name.substr(head.size(), dash - head.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::string rnd = name.substr(dash + 1, 4);
  if (rnd.size() != 4 || rnd.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  if (name.size() < dash + 6 || name[dash + 5] != '-') return std::nullopt;
  return static_cast<pid_t>(std::stol(digits));
}

bool parse_ip(std::string_view text, int& family, std::array<unsigned char, 16>& bytes) noexcept {
  const std::string s(text);
  bytes.fill(0);
  if (::inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) {
    family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}

// ff02::1:ffXX:XXXX, as `ip -6 maddr` prints it.
std::string solicited_node(std::string_view v6) {
  int family = 0;
  std::array<unsigned char, 16> b{};
  parse_ip(v6, family, b);
  std::array<unsigned char, 16> g{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, b[13], b[14], b[15]};
  std::array<char, INET6_ADDRSTRLEN> out{};
  ::inet_ntop(AF_INET6, g.data(), out.data(), out.size());
  return out.data();
}

void cleanup_all_beds() noexcept {
  auto& reg = Registry::instance();
  std::lock_guard lock(reg.mu);
  for (auto* bed : reg.beds) bed->teardown();
}

}  // namespace

// ---- commands -------------------------------------------------------------------

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$*?[]{}()<>|&;") == std::string::npos;
    out += plain ? a : "'" + a + "'";
  }
  return out;
}

std::optional<std::string> find_tool(std::string_view name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) {
      if (!d.empty()) dirs.push_back(d);
    }
  }
  for (const char* d : {"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.emplace_back(d);
  for (const auto& d : dirs) {
    const auto p = fs::path(d) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

CommandResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  static const bool sigpipe_ignored = [] {
    ::signal(SIGPIPE, SIG_IGN);  // a child that stops reading stdin must not kill us
    return true;
  }();
  (void)sigpipe_ignored;
  if (argv.empty()) throw CommandError("empty command");
  CommandResult result;
  result.command = command_line(argv);
  const std::string program = resolve_program(argv[0]);
  const bool capture = options.output == Output::capture;

  Pipe in;
  Pipe out;
  Pipe err;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.r, 0);
  if (capture) {
    posix_spawn_file_actions_adddup2(&fa, out.w, 1);
    posix_spawn_file_actions_adddup2(&fa, err.w, 2);
  }
  const auto start = Clock::now();
  pid_t pid = -1;
  try {
    pid = Children::instance().spawn(program, argv, &fa);
  } catch (...) {
    posix_spawn_file_actions_destroy(&fa);
    throw;
  }
  posix_spawn_file_actions_destroy(&fa);
  in.close_r();
  out.close_w();
  err.close_w();
  if (options.input.empty()) in.close_w();
  if (in.w >= 0) set_nonblocking(in.w);
  if (!capture) {
    out.close_r();
    err.close_r();
  } else {
    set_nonblocking(out.r);
    set_nonblocking(err.r);
  }

  const auto deadline = start + options.timeout;
  std::size_t written = 0;
  auto timed_out = [&] {
    Children::instance().terminate(pid, 0ms);
    throw CommandError(result.command + ": no result within " + std::to_string(options.timeout.count()) +
                       " ms (killed)" + (result.err.empty() ? "" : "; stderr: " + result.err));
  };
  while (out.r >= 0 || err.r >= 0 || in.w >= 0) {
    std::vector<pollfd> fds;
    if (out.r >= 0) fds.push_back({out.r, POLLIN, 0});
    if (err.r >= 0) fds.push_back({err.r, POLLIN, 0});
    if (in.w >= 0) fds.push_back({in.w, POLLOUT, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) timed_out();
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 100)));
    if (n < 0 && errno != EINTR) throw CommandError(result.command + ": poll: " + std::strerror(errno));
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == out.r && !read_some(out.r, result.out)) out.close_r();
      else if (p.fd == err.r && !read_some(err.r, result.err)) err.close_r();
      else if (p.fd == in.w) {
        const ssize_t w = ::write(in.w, options.input.data() + written, options.input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == options.input.size()) in.close_w();
      }
    }
    // Without captured output there is nothing to wait for but the exit.
    if (!capture && in.w < 0) break;
  }
  for (;;) {
    if (auto code = Children::instance().try_reap(pid)) {
      result.exit_code = *code;
      break;
    }
    if (Clock::now() >= deadline) timed_out();
    std::this_thread::sleep_for(capture ? 1ms : 5ms);
  }
  result.wall = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  if (options.on_failure == OnFailure::raise && result.exit_code != 0) {
    throw CommandError(result.command + ": exit status " + std::to_string(result.exit_code) +
                       (result.err.empty() ? "" : "; stderr: " + result.err));
  }
  return result;
}

// ---- prerequisites ----------------------------------------------------------------

bool in_ci() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  std::string v(ci);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "true" || v == "1" || v == "yes";
}

const Prerequisites& prerequisites() {
  static const Prerequisites p = [] {
    Prerequisites r;
    if (::geteuid() != 0) {
      r.reason = "needs root: the real-network tests create network namespaces (run ctest as root, e.g. with sudo)";
      return r;
    }
    for (const char* tool : {"ip", "nft", "sysctl"}) {
      if (!find_tool(tool)) {
        r.reason = std::string("'") + tool + "' not found (install iproute2, nftables and procps)";
        return r;
      }
    }
    // Can a namespace really be made here (a container without CAP_SYS_ADMIN cannot)?
    const std::string probe = std::string(kPrefix) + "-" + std::to_string(::getpid()) + "-" + random_hex4() + "-probe";
    const auto res = run({"ip", "netns", "add", probe}, RunOptions{}.within(10s).keep_status());
    delete_namespace(probe);
    if (res.exit_code != 0) {
      r.reason = "cannot create a network namespace: " + res.err;
      return r;
    }
    r.ok = true;
    return r;
  }();
  return p;
}

// ---- Process --------------------------------------------------------------------

Process::Process(const std::vector<std::string>& argv) : command_(command_line(argv)) {
  Pipe out;
  Pipe err;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out.w, 1);
  posix_spawn_file_actions_adddup2(&fa, err.w, 2);
  try {
    pid_ = Children::instance().spawn(resolve_program(argv.at(0)), argv, &fa);
  } catch (...) {
    posix_spawn_file_actions_destroy(&fa);
    throw;
  }
  posix_spawn_file_actions_destroy(&fa);
  out.close_w();
  err.close_w();
  set_nonblocking(out.r);
  set_nonblocking(err.r);
  std::swap(out_, out.r);
  std::swap(err_, err.r);
}

Process::~Process() {
  stop();
  if (out_ >= 0) ::close(out_);
  if (err_ >= 0) ::close(err_);
}

std::string Process::drain_stderr() noexcept {
  std::string text;
  if (err_ < 0) return text;
  const auto until = Clock::now() + 200ms;
  while (Clock::now() < until) {
    pollfd p{err_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    if (!read_some(err_, text)) break;
  }
  return text;
}

std::string Process::wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t scanned = 0;  // complete lines before this offset did not match
  for (;;) {
    for (auto nl = seen_.find('\n', scanned); nl != std::string::npos; nl = seen_.find('\n', scanned)) {
      const std::string_view line(seen_.data() + scanned, nl - scanned);
      scanned = nl + 1;
      if (line.starts_with(prefix)) return std::string(line);
    }
    if (auto code = Children::instance().try_reap(pid_)) {
      status_ = code;
      read_some(out_, seen_);
      throw CommandError(command_ + ": exited with status " + std::to_string(*code) + " before printing '" +
                         std::string(prefix) + "'; stderr: " + drain_stderr());
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      stop(0ms);
      throw CommandError(command_ + ": did not print '" + std::string(prefix) + "' within " +
                         std::to_string(timeout.count()) + " ms; stderr: " + drain_stderr());
    }
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 20))) > 0) read_some(out_, seen_);
  }
}

int Process::stop(std::chrono::milliseconds grace) noexcept {
  if (!status_ && pid_ > 0) status_ = Children::instance().terminate(pid_, grace);
  return status_.value_or(-1);
}

// ---- addresses --------------------------------------------------------------------

bool is_ipv6(std::string_view address) noexcept {
  int family = 0;
  std::array<unsigned char, 16> b{};
  return parse_ip(address, family, b) && family == AF_INET6;
}

bool in_test_ranges(std::string_view address) noexcept {
  int family = 0;
  std::array<unsigned char, 16> b{};
  if (!parse_ip(address, family, b)) return false;
  if (family == AF_INET) return b[0] == 198 && (b[1] & 0xfe) == 18;  // 198.18.0.0/15
  return b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x02 && b[4] == 0 && b[5] == 0;  // 2001:2::/48
}

bool prefix_in_test_ranges(std::string_view prefix) noexcept {
  const auto slash = prefix.find('/');
  if (slash == std::string_view::npos) return false;
  const auto address = prefix.substr(0, slash);
  const std::string len_text(prefix.substr(slash + 1));
  if (len_text.empty() || len_text.find_first_not_of("0123456789") != std::string::npos || len_text.size() > 3) {
    return false;
  }
  const int len = std::stoi(len_text);
  if (!in_test_ranges(address)) return false;
  return is_ipv6(address) ? (len >= 48 && len <= 128) : (len >= 15 && len <= 32);
}

bool on_segment(std::string_view address) noexcept {
  int family = 0;
  std::array<unsigned char, 16> b{};
  if (!parse_ip(address, family, b)) return false;
  int scanner_family = 0;
  std::array<unsigned char, 16> scanner{};
  parse_ip(family == AF_INET ? kScannerV4 : kScannerV6, scanner_family, scanner);
  if (b == scanner) return false;
  if (family == AF_INET) return b[0] == 198 && b[1] == 18;  // 198.18.0.0/16
  const std::array<unsigned char, 8> net{0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0};
  return std::equal(net.begin(), net.end(), b.begin());  // 2001:2::/64
}

std::string endpoint(std::string_view address, std::uint16_t port) {
  const std::string a(address);
  return is_ipv6(address) ? "[" + a + "]:" + std::to_string(port) : a + ":" + std::to_string(port);
}

// ---- Testbed -----------------------------------------------------------------------

Testbed::Testbed(std::string_view label)
    : tag_(std::string(kPrefix) + "-" + std::to_string(::getpid()) + "-" + random_hex4()),
      label_(sanitize(label, 16)) {
  auto& reg = Registry::instance();
  std::lock_guard lock(reg.mu);
  reg.beds.insert(this);
}

Testbed::~Testbed() {
  teardown();
  auto& reg = Registry::instance();
  std::lock_guard lock(reg.mu);
  reg.beds.erase(this);
}

void Testbed::add_host(std::string name, std::vector<std::string> addresses) {
  std::lock_guard lock(mu_);
  if (built_) throw std::logic_error("add_host after build");
  if (name == "scanner") throw std::invalid_argument("'scanner' is the scanner's own name");
  for (const auto& h : hosts_) {
    if (h.name == name) throw std::invalid_argument("host '" + name + "' declared twice");
  }
  if (addresses.empty()) throw std::invalid_argument("host '" + name + "' needs an address");
  for (const auto& a : addresses) {
    if (!on_segment(a)) {
      throw std::invalid_argument("host '" + name + "': " + a +
                                  " is not on the test segment (198.18.0.0/16 or 2001:2::/64, not the scanner's "
                                  "198.18.0.1 / 2001:2::1)");
    }
  }
  hosts_.push_back(Node{std::move(name), {}, std::move(addresses), {}, 0});
}

std::vector<std::string> Testbed::namespaces() const {
  std::lock_guard lock(mu_);
  return created_;
}

const Testbed::Node& Testbed::host_node(std::string_view host) const {
  for (const auto& h : hosts_) {
    if (h.name == host) return h;
  }
  throw std::invalid_argument("no host '" + std::string(host) + "' in this test bed");
}

const std::string& Testbed::ns(std::string_view host) const {
  std::lock_guard lock(mu_);
  if (host == "scanner") return scanner_;
  return host_node(host).ns;
}

std::string Testbed::new_namespace(std::string_view role) {
  const std::string name = tag_ + "-" + label_ + "-" + sanitize(role, 24);
  created_.push_back(name);  // recorded first: a half-made namespace is still ours to delete
  run({"ip", "netns", "add", name});
  return name;
}

void Testbed::create_link(Node& node, int index, int bridge_index) {
  const std::string rnd = tag_.substr(tag_.size() - 4);
  node.ifname = "v" + rnd + "-" + std::to_string(index);  // <= 15 characters
  node.ifindex = index;
  if (bridge_.empty()) throw std::logic_error("create_link needs the bridge");
  const std::string peer = "b" + rnd + "-" + std::to_string(bridge_index);
  run({"ip", "link", "add", node.ifname, "netns", node.ns, "index", std::to_string(index), "type", "veth", "peer",
       "name", peer, "netns", bridge_, "index", std::to_string(bridge_index)});
  run({"ip", "-n", bridge_, "link", "set", peer, "master", "br0"});
  run({"ip", "-n", bridge_, "link", "set", peer, "up"});
}

void Testbed::configure_node(const Node& node) {
  for (const auto& a : node.addresses) {
    if (is_ipv6(a)) {
      run({"ip", "-n", node.ns, "-6", "addr", "add", a + "/" + std::to_string(kSegmentV6Prefix), "dev", node.ifname,
           "nodad"});
    } else {
      run({"ip", "-n", node.ns, "addr", "add", a + "/" + std::to_string(kSegmentV4Prefix), "dev", node.ifname});
    }
  }
  run({"ip", "-n", node.ns, "link", "set", node.ifname, "up"});
}

void Testbed::build() {
  std::lock_guard lock(mu_);
  if (built_) throw std::logic_error("build() twice");
  if (hosts_.empty()) throw std::logic_error("a test bed needs at least one host");
  built_ = true;

  scanner_ = new_namespace("scanner");
  scanner_node_ = Node{"scanner", scanner_, {std::string(kScannerV4), std::string(kScannerV6)}, {}, 0};
  for (auto& h : hosts_) h.ns = new_namespace(h.name);
  if (hosts_.size() > 1) bridge_ = new_namespace("bridge");

  // No DAD (addresses are usable at once), no ICMP rate limit (a test that
  // provokes many rejects must see every one). In the bridge namespace IPv6 is
  // off: it only switches frames.
  auto node_sysctls = [this](const std::string& ns_name) {
    run({"ip", "netns", "exec", ns_name, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
         "net.ipv6.conf.default.accept_dad=0", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"});
    run({"ip", "-n", ns_name, "link", "set", "lo", "up"});
  };
  node_sysctls(scanner_);
  for (const auto& h : hosts_) node_sysctls(h.ns);

  if (bridge_.empty()) {
    // Two namespaces: one veth pair, no bridge.
    const std::string rnd = tag_.substr(tag_.size() - 4);
    scanner_node_.ifname = "v" + rnd + "-10";
    scanner_node_.ifindex = 10;
    auto& h = hosts_.front();
    h.ifname = "v" + rnd + "-11";
    h.ifindex = 11;
    run({"ip", "link", "add", scanner_node_.ifname, "netns", scanner_, "index", "10", "type", "veth", "peer", "name",
         h.ifname, "netns", h.ns, "index", "11"});
  } else {
    run({"ip", "netns", "exec", bridge_, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
         "net.ipv6.conf.default.disable_ipv6=1"});
    // No STP (ports forward at once), no multicast snooping (neighbour solicitations are flooded).
    run({"ip", "-n", bridge_, "link", "add", "br0", "index", "2", "type", "bridge", "stp_state", "0",
         "mcast_snooping", "0"});
    create_link(scanner_node_, 10, 100);
    int i = 0;
    for (auto& h : hosts_) {
      ++i;
      create_link(h, 10 + i, 100 + i);
    }
    run({"ip", "-n", bridge_, "link", "set", "br0", "up"});
  }
  configure_node(scanner_node_);
  for (const auto& h : hosts_) configure_node(h);

  // The scanner must never have a way out: fail loudly if anything gave it a default route.
  for (const char* family : {"-4", "-6"}) {
    const auto r = run({"ip", "-n", scanner_, family, "route", "show", "default"});
    if (r.out.find_first_not_of(" \n") != std::string::npos) {
      throw CommandError("the scanner namespace has a default route, refusing to go on: " + r.out);
    }
  }
  write_etc_netns("resolv.conf", "# portdrift test bed: no reachable DNS server, fail fast\nnameserver " +
                                     std::string(kDeadNameserver) + "\noptions attempts:1 timeout:1\n");
  write_etc_netns("nsswitch.conf", "hosts: files dns\n");
  set_scanner_hosts("");
  wait_ready(5s);
}

void Testbed::wait_ready(std::chrono::milliseconds timeout) {
  std::vector<const Node*> nodes{&scanner_node_};
  for (const auto& h : hosts_) nodes.push_back(&h);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string missing;
    for (const auto* n : nodes) {
      const auto link = run({"ip", "-n", n->ns, "-o", "link", "show", "dev", n->ifname});
      if (link.out.find("LOWER_UP") == std::string::npos) missing += " " + n->name + ":carrier";
      bool has_v6 = false;
      for (const auto& a : n->addresses) has_v6 = has_v6 || is_ipv6(a);
      if (!has_v6) continue;
      const auto tentative = run({"ip", "-n", n->ns, "-6", "addr", "show", "dev", n->ifname, "tentative"});
      if (tentative.out.find("inet6") != std::string::npos) missing += " " + n->name + ":tentative";
      const auto groups = run({"ip", "-n", n->ns, "-6", "maddr", "show", "dev", n->ifname});
      for (const auto& a : n->addresses) {
        if (!is_ipv6(a)) continue;
        // Built by append, not `" " + tmp + "\n"`: GCC 12 at -O2 reports a false
        // -Wrestrict on operator+(const char*, string&&) (GCC bug 105329).
        const std::string group = solicited_node(a);
        std::string as_last = " ";
        as_last.append(group).append("\n");
        std::string as_inner = " ";
        as_inner.append(group).append(" ");
        if (groups.out.find(as_last) == std::string::npos && groups.out.find(as_inner) == std::string::npos) {
          missing += " " + n->name + ":" + group;
        }
      }
    }
    if (missing.empty()) return;
    if (Clock::now() >= deadline) throw CommandError("test bed not ready after " +
                                                     std::to_string(timeout.count()) + " ms; waiting for" + missing);
    std::this_thread::sleep_for(10ms);
  }
}

void Testbed::write_etc_netns(const std::string& file, std::string_view text) {
  const auto dir = kEtcNetns / scanner_;
  fs::create_directories(dir);
  std::ofstream f(dir / file, std::ios::trunc);
  f << text;
  if (!f) throw CommandError("cannot write " + (dir / file).string());
}

const std::string& Testbed::node_ns(std::string_view node) const {
  return node == "scanner" ? scanner_ : host_node(node).ns;
}

void Testbed::add_route(std::string_view node, std::string_view prefix, RouteType type, std::string_view via) {
  std::lock_guard lock(mu_);
  if (!prefix_in_test_ranges(prefix)) {
    throw std::invalid_argument("route " + std::string(prefix) + ": only prefixes inside 198.18.0.0/15 or "
                                "2001:2::/48 (never a default route)");
  }
  std::vector<std::string> argv{"ip", "-n", node_ns(node), is_ipv6(prefix.substr(0, prefix.find('/'))) ? "-6" : "-4",
                                "route", "add"};
  switch (type) {
    case RouteType::via: {
      const std::string gw(via);
      if (!on_segment(gw) && gw != kScannerV4 && gw != kScannerV6) {
        throw std::invalid_argument("route " + std::string(prefix) + ": gateway " + gw + " is not on the segment");
      }
      argv.insert(argv.end(), {std::string(prefix), "via", gw});
      break;
    }
    case RouteType::prohibit: argv.insert(argv.end(), {"prohibit", std::string(prefix)}); break;
    case RouteType::unreachable: argv.insert(argv.end(), {"unreachable", std::string(prefix)}); break;
    case RouteType::blackhole: argv.insert(argv.end(), {"blackhole", std::string(prefix)}); break;
  }
  run(argv);
}

void Testbed::enable_forwarding(std::string_view host) {
  exec(ns(host), {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"});
}

void Testbed::set_scanner_resolv_conf(std::string_view text) {
  std::lock_guard lock(mu_);
  std::stringstream ss{std::string(text)};
  for (std::string line; std::getline(ss, line);) {
    std::stringstream ls(line);
    std::string word;
    std::string server;
    if (ls >> word >> server && word == "nameserver" && !in_test_ranges(server)) {
      throw std::invalid_argument("resolv.conf: nameserver " + server + " is outside the test ranges");
    }
  }
  write_etc_netns("resolv.conf", text);
}

void Testbed::set_scanner_hosts(std::string_view entries) {
  std::lock_guard lock(mu_);
  write_etc_netns("hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + std::string(entries));
}

CommandResult Testbed::exec(const std::string& ns_name, const std::vector<std::string>& argv,
                            const RunOptions& options) {
  std::vector<std::string> full{"ip", "netns", "exec", ns_name};
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full, options);
}

void Testbed::load_nft(std::string_view host, std::string_view ruleset) {
  exec(ns(host), {"nft", "-f", "-"}, RunOptions{}.with_input(std::string(ruleset)));
}

void Testbed::listen(std::string_view host, const fs::path& pd_listen, const std::vector<std::string>& endpoints) {
  std::lock_guard lock(mu_);
  std::vector<std::string> argv{"ip", "netns", "exec", host_node(host).ns, pd_listen.string()};
  argv.insert(argv.end(), endpoints.begin(), endpoints.end());
  listeners_.push_back(std::make_unique<Process>(argv));
  listeners_.back()->wait_for_line("ready", 5s);
}

void Testbed::stop_listeners() noexcept {
  std::lock_guard lock(mu_);
  for (auto& l : listeners_) l->stop();
  listeners_.clear();
}

std::vector<pid_t> Testbed::listener_pids() const {
  std::lock_guard lock(mu_);
  std::vector<pid_t> out;
  for (const auto& l : listeners_) out.push_back(l->pid());
  return out;
}

void Testbed::teardown() noexcept {
  std::lock_guard lock(mu_);
  stop_listeners();
  // Reverse order: hosts and scanner before the bridge their veths hang on (either order works).
  std::vector<std::string> left;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    if (!delete_namespace(*it)) left.push_back(*it);
  }
  std::reverse(left.begin(), left.end());
  created_ = std::move(left);
  if (!scanner_.empty()) {
    std::error_code ec;
    fs::remove_all(kEtcNetns / scanner_, ec);
    fs::remove(kEtcNetns, ec);  // only if empty: other users' entries stay
  }
}

// ---- signals and leftovers -----------------------------------------------------------

void install_signal_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      int sig = 0;
      while (sigwait(&set, &sig) != 0) {
      }
      Registry::instance().signalled = true;
      std::fprintf(stderr, "\ntestbed: caught signal %d: stopping our processes and deleting our namespaces\n", sig);
      Children::instance().terminate_all(1000ms);
      cleanup_all_beds();
      std::_Exit(128 + sig);
    }).detach();
    std::atexit([] {
      // The main thread got here because the signal thread killed what it waited for: let that
      // thread finish the cleanup and exit with 128+signal instead of racing it.
      while (Registry::instance().signalled) ::pause();
      cleanup_all_beds();
    });
  });
}

std::vector<std::string> sweep_stale() {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kRunNetns, ec)) {
    const std::string name = e.path().filename().string();
    const auto owner = owner_pid(name);
    if (!owner || *owner == ::getpid() || pid_alive(*owner)) continue;
    // Processes left in a namespace of ours (a listener of a killed run): by pid, as listed by ip.
    const auto pids = run({"ip", "netns", "pids", name}, RunOptions{}.within(5s).keep_status());
    std::stringstream ss(pids.out);
    for (long p = 0; ss >> p;) {
      if (p > 1) ::kill(static_cast<pid_t>(p), SIGKILL);
    }
    if (delete_namespace(name)) removed.push_back("namespace " + name);
  }
  for (const auto& e : fs::directory_iterator(kEtcNetns, ec)) {
    const std::string name = e.path().filename().string();
    const auto owner = owner_pid(name);
    if (!owner || *owner == ::getpid() || pid_alive(*owner)) continue;
    std::error_code rec;
    fs::remove_all(e.path(), rec);
    if (!rec) removed.push_back("directory " + e.path().string());
  }
  fs::remove(kEtcNetns, ec);
  return removed;
}

}  // namespace portdrift::testbed

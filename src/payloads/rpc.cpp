// ONC RPC (RFC 5531): a call to procedure 0, NULL, which every RPC program
// implements and which does nothing, with AUTH_NONE. Sent to the portmapper
// (100000 v2, RFC 1833), NFS (100003 v3, RFC 1813) or the mount daemon
// (100005 v3). Any RPC reply with our XID shows an RPC server on the port,
// even "program unavailable".

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::rpc {
namespace {

std::optional<Bytes> null_call(const Context& ctx, std::uint32_t program, std::uint32_t version) {
  bytes::Rng rng(ctx.seed);
  Bytes p;
  bytes::put32(p, rng.u31());  // XID
  bytes::put32(p, 0);          // CALL
  bytes::put32(p, 2);          // RPC version
  bytes::put32(p, program);
  bytes::put32(p, version);
  bytes::put32(p, 0);  // procedure NULL
  bytes::put32(p, 0);  // credential: AUTH_NONE, empty
  bytes::put32(p, 0);
  bytes::put32(p, 0);  // verifier: AUTH_NONE, empty
  bytes::put32(p, 0);
  return p;
}

std::string_view accept_stat(std::uint32_t s) {
  switch (s) {
    case 0: return "SUCCESS";
    case 1: return "PROG_UNAVAIL";
    case 2: return "PROG_MISMATCH";
    case 3: return "PROC_UNAVAIL";
    case 4: return "GARBAGE_ARGS";
    case 5: return "SYSTEM_ERR";
    default: return "unknown status";
  }
}

}  // namespace

std::optional<Bytes> build_portmap(const Context& ctx) { return null_call(ctx, 100000, 2); }
std::optional<Bytes> build_nfs(const Context& ctx) { return null_call(ctx, 100003, 3); }
std::optional<Bytes> build_mountd(const Context& ctx) { return null_call(ctx, 100005, 3); }

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  if (reply.size() < 12) return {false, fmt::format("not ONC RPC: {} bytes", reply.size())};
  if (request.size() < 20) return {false, "no RPC call to compare with"};
  if (bytes::get32(reply, 0) != bytes::get32(request, 0)) return {false, "RPC message with another XID"};
  if (bytes::get32(reply, 4) != 1) return {false, "RPC message with our XID that is not a reply"};
  const auto program = bytes::get32(request, 12);
  const auto version = bytes::get32(request, 16);
  const auto stat = bytes::get32(reply, 8);
  if (stat == 1) return {true, fmt::format("ONC RPC reply: call to program {} denied", program)};
  if (stat != 0) return {false, fmt::format("RPC reply with reply_stat {}", stat)};
  // Accepted: verifier (flavor, length, body padded to 4 bytes), then accept_stat.
  if (reply.size() < 20) return {false, "RPC reply cut short in its verifier"};
  const std::size_t vlen = bytes::get32(reply, 16);
  if (vlen > 400) return {false, "RPC reply with an oversized verifier"};
  const std::size_t at = 20 + ((vlen + 3) & ~std::size_t{3});
  if (at + 4 > reply.size()) return {false, "RPC reply cut short before its status"};
  return {true, fmt::format("ONC RPC reply to program {} version {}: {}", program, version,
                            accept_stat(bytes::get32(reply, at)))};
}

}  // namespace portdrift::payloads::rpc

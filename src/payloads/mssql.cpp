// SQL Server Resolution Protocol (MC-SQLR): CLNT_UCAST_EX, one byte 0x03,
// asking the SQL Server Browser for its instances. Opt-in only: this is the
// "ms-sql ping" that common IDS rule sets flag (SQL Slammer used port 1434).
// The reply is SVR_RESP: 0x05, a little-endian length, then
// "ServerName;...;InstanceName;...;;" records.

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::mssql {

std::optional<Bytes> build(const Context& /*ctx*/) { return Bytes{0x03}; }

Reply check(std::span<const std::uint8_t> /*request*/, std::span<const std::uint8_t> reply) {
  if (reply.size() < 3 || reply[0] != 0x05) return {false, "not a SQL Server Browser response"};
  const std::size_t length = reply[1] | (std::size_t{reply[2]} << 8);
  if (length > reply.size() - 3) return {false, "SQL Server Browser response longer than the datagram"};
  const std::string text(reply.begin() + 3, reply.begin() + 3 + static_cast<std::ptrdiff_t>(length));
  std::size_t instances = 0;
  for (auto at = text.find("ServerName;"); at != std::string::npos; at = text.find("ServerName;", at + 1)) ++instances;
  if (instances == 0) return {false, "SQL Server Browser response without an instance"};
  return {true, fmt::format("SQL Server Browser response, {} instances", instances)};
}

}  // namespace portdrift::payloads::mssql

#include <gtest/gtest.h>

#include "probe/icmp_codes.hpp"

namespace portdrift::probe::detail {
namespace {

std::pair<PortState, Reason> classify(bool v6, std::uint8_t type, std::uint8_t code) {
  PortState s{};
  Reason r{};
  classify_icmp({v6, type, code}, s, r);
  return {s, r};
}

TEST(IcmpCodes, V4DestinationUnreachable) {
  EXPECT_EQ(classify(false, 3, 3), std::make_pair(PortState::closed, Reason::port_unreach));
  EXPECT_EQ(classify(false, 3, 13), std::make_pair(PortState::filtered, Reason::admin_prohibited));
  EXPECT_EQ(classify(false, 3, 10), std::make_pair(PortState::filtered, Reason::host_prohibited));
  EXPECT_EQ(classify(false, 3, 9), std::make_pair(PortState::filtered, Reason::net_prohibited));
  EXPECT_EQ(classify(false, 3, 1), std::make_pair(PortState::filtered, Reason::host_unreach));
  EXPECT_EQ(classify(false, 3, 0), std::make_pair(PortState::filtered, Reason::net_unreach));
  EXPECT_EQ(classify(false, 3, 2), std::make_pair(PortState::filtered, Reason::proto_unreach));
  EXPECT_EQ(classify(false, 11, 0), std::make_pair(PortState::filtered, Reason::time_exceeded));
}

TEST(IcmpCodes, V6DestinationUnreachable) {
  EXPECT_EQ(classify(true, 1, 4), std::make_pair(PortState::closed, Reason::port_unreach));
  EXPECT_EQ(classify(true, 1, 1), std::make_pair(PortState::filtered, Reason::admin_prohibited));
  EXPECT_EQ(classify(true, 1, 6), std::make_pair(PortState::filtered, Reason::admin_prohibited));
  EXPECT_EQ(classify(true, 1, 3), std::make_pair(PortState::filtered, Reason::host_unreach));
  EXPECT_EQ(classify(true, 1, 0), std::make_pair(PortState::filtered, Reason::net_unreach));
  EXPECT_EQ(classify(true, 3, 0), std::make_pair(PortState::filtered, Reason::time_exceeded));
}

}  // namespace
}  // namespace portdrift::probe::detail

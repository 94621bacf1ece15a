#include <gtest/gtest.h>

#include "portdrift/core/ports.hpp"

namespace portdrift {
namespace {

TEST(PortSpec, ParsesSinglesListsAndRanges) {
  std::string why;
  auto spec = parse_port_spec("80, 8080-8082,443", why);
  ASSERT_TRUE(spec) << why;
  EXPECT_EQ(spec->count(), 5U);
  EXPECT_TRUE(spec->contains(8081));
  EXPECT_FALSE(spec->contains(8083));
  EXPECT_TRUE(spec->covers({8080, 8082}));
  EXPECT_FALSE(spec->covers({8080, 8083}));
  EXPECT_EQ(spec->to_string(), "80,8080-8082,443");
}

TEST(PortSpec, RejectsOutOfRangeBackwardsAndGarbage) {
  std::string why;
  EXPECT_FALSE(parse_port_spec("0", why));
  EXPECT_FALSE(parse_port_spec("65536", why));
  EXPECT_NE(why.find("65536"), std::string::npos);
  EXPECT_FALSE(parse_port_spec("1024-65536", why));
  EXPECT_FALSE(parse_port_spec("500-400", why));
  EXPECT_NE(why.find("backwards"), std::string::npos);
  EXPECT_FALSE(parse_port_spec("http", why));
  EXPECT_FALSE(parse_port_spec("", why));
  EXPECT_FALSE(parse_port_spec("80,", why));
  EXPECT_TRUE(parse_port_spec("65535", why));
}

}  // namespace
}  // namespace portdrift

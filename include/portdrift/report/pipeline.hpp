#pragma once
// Pipeline reports: a --check run as the test results that CI servers show
// natively. JUnit XML (the schema Jenkins and GitLab CI read, see
// tests/data/junit/junit.xsd) and TAP version 13 (prove, and every TAP
// consumer). One test case per check result, a failure for a drift, an error
// for a check that could not be probed, a skipped case per catalog flow not
// probed. Formatting only, like the rest of `report`: the exit code stays the
// Nagios one, decided by the verdict module.

#include <string>
#include <string_view>

#include "portdrift/report/report.hpp"

namespace portdrift::report {

std::string junit(const RunView& run);
std::string tap(const RunView& run);

// A run that could not start (bad configuration): JUnit, one test case in
// error per problem; TAP, "Bail out!" after the problems as comments.
std::string junit_unknown(std::string_view summary, const Diagnostics& diagnostics);
std::string tap_unknown(std::string_view summary, const Diagnostics& diagnostics);

}  // namespace portdrift::report

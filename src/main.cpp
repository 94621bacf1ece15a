// portdrift: thin entry point; everything lives in the library.
#include <iostream>
#include <string_view>
#include <vector>

#include "portdrift/cli/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv, argv + argc);
  return portdrift::cli::run(args, std::cout, std::cerr);
}

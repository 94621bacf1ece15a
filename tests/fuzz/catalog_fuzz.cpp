// The catalog loader on one arbitrary product file: diagnostics, never a
// crash or an exception.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "portdrift/catalog/catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  portdrift::catalog::CatalogResult into;
  portdrift::catalog::parse_catalog_file(text, "fuzz.yaml", into);
  // A second file into the same result exercises the cross-file checks (duplicate ids, products).
  portdrift::catalog::parse_catalog_file(text, "fuzz-again.yaml", into);
  return 0;
}

#include <system_error>

#include "portdrift/cli/cli.hpp"

namespace portdrift::cli {

std::filesystem::path default_catalog_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / PORTDRIFT_INSTALL_DATADIR_REL / "portdrift" / "catalog";
    if (fs::is_directory(installed, ec)) return installed;
  }
  if (fs::is_directory(PORTDRIFT_SOURCE_CATALOG_DIR, ec)) return PORTDRIFT_SOURCE_CATALOG_DIR;
  return PORTDRIFT_INSTALL_CATALOG_DIR;
}

}  // namespace portdrift::cli

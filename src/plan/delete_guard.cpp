#include "plan/delete_guard.h"

#include <cstdio>

namespace zks::plan {

DeleteGuardVerdict checkDeleteGuard(size_t deletes, size_t replicated_backup_nodes, double max_fraction,
                                    bool allow_mass_delete) {
  if (deletes == 0 || allow_mass_delete) return {};
  const double limit = max_fraction * static_cast<double>(replicated_backup_nodes);
  if (static_cast<double>(deletes) <= limit) return {};
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "delete guard: %zu of %zu replicated backup nodes (%.1f%%) would be deleted, over "
                "max_delete_fraction %.2f; nothing deleted (run `sync --allow-mass-delete` if intended)",
                deletes, replicated_backup_nodes,
                replicated_backup_nodes ? 100.0 * static_cast<double>(deletes) / static_cast<double>(replicated_backup_nodes) : 100.0,
                max_fraction);
  return {false, buf};
}

}  // namespace zks::plan

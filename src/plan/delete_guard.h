#pragma once

#include <cstddef>
#include <string>

namespace zks::plan {

// SPEC 4 "Delete guard": a reconcile that would delete more than
// `max_fraction` of the backup's replicated nodes deletes nothing and waits
// for an operator. A guard on an empty backup never trips.
struct DeleteGuardVerdict {
  bool allowed = true;
  std::string reason;  // set when not allowed
};

DeleteGuardVerdict checkDeleteGuard(size_t deletes, size_t replicated_backup_nodes, double max_fraction,
                                    bool allow_mass_delete);

}  // namespace zks::plan

// "Rank 0 decides, every process learns it": for what only rank 0 may do or look at (lock the run folder,
// measure its free space) but every process must act on, so that none waits in a collective for a run
// that will not start.
#pragma once

#include <functional>
#include <string>

#include "distributed/process_group.h"

namespace mtfn::training {

// Rank 0 runs `attempt`, which may throw InputError; then every process of `group` learns whether it
// succeeded (`what` names the collective if a rank stalls there). Rank 0 rethrows its error; the other
// processes throw InputError(`others`). On a group of one: `attempt` alone.
void root_decides(distributed::ProcessGroup& group, const std::string& what, const std::string& others,
                  const std::function<void()>& attempt);

}  // namespace mtfn::training

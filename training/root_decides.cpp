#include "training/root_decides.h"

#include "core/errors.h"

namespace mtfn::training {

void root_decides(distributed::ProcessGroup& group, const std::string& what, const std::string& others,
                  const std::function<void()>& attempt) {
  std::string error;
  if (group.is_root()) {
    try {
      attempt();
    } catch (const InputError& e) {
      error = e.what();
    }
  }
  if (group.size() > 1) {
    const std::vector<uint64_t> ok = group.allgather(error.empty() ? 1 : 0, what);
    if (ok[0] == 0 && !group.is_root()) throw InputError(others);
  }
  if (!error.empty()) throw InputError(error);
}

}  // namespace mtfn::training

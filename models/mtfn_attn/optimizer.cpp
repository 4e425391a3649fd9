// mtfn_attn's Adam parameter groups (see optimizer.h).
#include "models/mtfn_attn/optimizer.h"

#include "models/mtfn/optimizer.h"

namespace mtfn::models {

std::unique_ptr<optim::Adam> make_mtfn_attn_optimizer(MtfnAttn& model, const MtfnAttnConfig& cfg) {
  return make_mtfn_groups_optimizer(model, *model.text_subnet, *model.audio_subnet, *model.video_subnet,
                                    model.output_range, model.output_shift, cfg.mtfn);
}

}  // namespace mtfn::models

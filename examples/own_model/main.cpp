// Late fusion on CH-SIMS-shaped data: each modality through its own Linear + ReLU, the three
// concatenated, one Linear to the multimodal score M. Trained with Adam for a few full-batch steps on
// a tiny synthetic dataset; prints the loss before and after and exits 1 if it did not decrease.
// Not here: MTFN itself (models/mtfn), the library's training loop (training/).
#include <cstdio>
#include <memory>
#include <numeric>
#include <vector>

#include "core/ops.h"
#include "data/batch.h"
#include "data/synth.h"
#include "nn/linear.h"
#include "optim/adam.h"

using mtfn::Tensor;

// Dimensions: B batch, T text steps, Dt / Da / Dv feature sizes, H hidden size per modality.
class LateFusion : public mtfn::nn::Module {
 public:
  LateFusion(int64_t text_dim, int64_t audio_dim, int64_t vision_dim, int64_t hidden, mtfn::nn::Generator& gen)
      : Module("LateFusion"),
        text_(register_module("text", std::make_shared<mtfn::nn::Linear>(text_dim, hidden, gen))),
        audio_(register_module("audio", std::make_shared<mtfn::nn::Linear>(audio_dim, hidden, gen))),
        vision_(register_module("vision", std::make_shared<mtfn::nn::Linear>(vision_dim, hidden, gen))),
        head_(register_module("head", std::make_shared<mtfn::nn::Linear>(3 * hidden, 1, gen))) {}

  // text (B, T, Dt), audio (B, Da), vision (B, Dv) -> M (B)
  Tensor forward(const Tensor& text, const Tensor& audio, const Tensor& vision) const {
    const Tensor t = mtfn::relu(text_->forward(mtfn::mean(text, {1})));  // (B, H): time mean, then Linear
    const Tensor a = mtfn::relu(audio_->forward(audio));                  // (B, H)
    const Tensor v = mtfn::relu(vision_->forward(vision));                // (B, H)
    const Tensor z = mtfn::concat({t, a, v}, 1);                          // (B, 3H)
    return mtfn::reshape(head_->forward(z), {-1});                        // (B)
  }

 private:
  std::shared_ptr<mtfn::nn::Linear> text_, audio_, vision_, head_;
};

int main() {
  // Full CH-SIMS feature shapes, 2% of its samples: 27 training clips.
  const mtfn::data::SimsDataset ds = mtfn::data::make_synth_dataset(0.02, /*seed=*/1);
  std::vector<int64_t> rows(ds.train.size);
  std::iota(rows.begin(), rows.end(), 0);
  const mtfn::data::Batch batch = mtfn::data::make_batch(ds.train, rows);  // float32, no grad

  mtfn::nn::Generator gen(/*seed=*/7);
  LateFusion model(ds.text_dim, ds.audio_dim, ds.vision_dim, /*hidden=*/16, gen);
  mtfn::optim::Adam adam(model.parameters(), {.lr = 1e-3});

  auto loss_now = [&] {
    mtfn::NoGradGuard no_grad;
    return mtfn::l1_loss(model.forward(batch.text, batch.audio, batch.vision), batch.label_M).item();
  };
  const double before = loss_now();
  std::printf("late fusion: %lld parameters, %lld training clips\n", static_cast<long long>(model.num_parameters()),
              static_cast<long long>(batch.size()));
  std::printf("L1 loss before: %.4f\n", before);

  constexpr int kSteps = 40;
  for (int step = 1; step <= kSteps; ++step) {
    adam.zero_grad();
    const Tensor loss = mtfn::l1_loss(model.forward(batch.text, batch.audio, batch.vision), batch.label_M);
    loss.backward();
    adam.step();
    if (step % 10 == 0) std::printf("  step %2d  loss %.4f\n", step, loss.item());
  }

  const double after = loss_now();
  std::printf("L1 loss after %d Adam steps: %.4f\n", kSteps, after);
  if (!(after < before)) {
    std::printf("FAILED: the loss did not decrease\n");
    return 1;
  }
  std::printf("OK\n");
  return 0;
}

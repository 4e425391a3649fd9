// MMSA's pre-fusion subnetworks (models/subNets/), shared by the models that use them (MTFN, TFN):
// SubNet for a vector per sample (audio, video), TextSubNet for a sequence (text).
// Not here: any model's fusion or heads (models/<name>/).
#pragma once

#include <memory>

#include "core/tensor.h"
#include "nn/batchnorm.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "nn/module.h"

namespace mtfn::models {

// Dimensions: B batch, S text steps, D input width, H hidden width, Ht text hidden width, To text_out.

// BatchNorm1d `norm` -> Dropout `drop` -> Linear+ReLU `linear_1..3` (MMSA's SubNet).
class SubNet : public nn::Module {
 public:
  SubNet(int64_t in, int64_t hidden, double dropout, nn::Generator& gen, DType dtype);
  Tensor forward(const Tensor& x);  // (B, D) -> (B, H)
  std::shared_ptr<nn::BatchNorm1d> norm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> linear_1, linear_2, linear_3;
};

// LSTM `rnn` over all S steps, its last hidden state h_S -> Linear `linear_1` (MMSA's TextSubNet;
// the dropout between them is p = 0 for a one-layer LSTM, so it is left out).
class TextSubNet : public nn::Module {
 public:
  TextSubNet(int64_t in, int64_t hidden, int64_t out, nn::Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) const;  // (B, S, Dt) -> (B, To)
  std::shared_ptr<nn::LSTM> rnn;
  std::shared_ptr<nn::Linear> linear_1;
};

}  // namespace mtfn::models

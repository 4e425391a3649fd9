// Every module of the library in one include.
#pragma once

#include "nn/attention.h"
#include "nn/batchnorm.h"
#include "nn/dropout.h"
#include "nn/fusion.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "nn/module.h"
#include "nn/random.h"
#include "nn/safetensors.h"
#include "nn/softmax.h"

// Every op of the library in one include.
#pragma once

#include "core/autograd.h"
#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/fusion.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/shape.h"
#include "core/tensor.h"

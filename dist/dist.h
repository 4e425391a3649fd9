// Data-parallel training over MPI in one include: the process group, gradient buckets,
// synchronised BatchNorm and replica checks. How to use it: docs/distributed.md.
#pragma once

#include "dist/buckets.h"
#include "dist/process_group.h"
#include "dist/replicas.h"
#include "dist/sync_batch_norm.h"

// Data-parallel training over MPI in one include: the process group, gradient buckets,
// synchronised BatchNorm and replica checks. How to use it: docs/distributed.md.
#pragma once

#include "distributed/buckets.h"
#include "distributed/process_group.h"
#include "distributed/replicas.h"
#include "distributed/sharded_fusion.h"
#include "distributed/sync_batch_norm.h"

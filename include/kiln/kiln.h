/* kiln: a compute-graph compiler. Include this for the whole public API. */
#ifndef KILN_H
#define KILN_H

#include "status.h"
#include "dtype.h"
#include "tensor.h"
#include "ir.h"
#include "model.h"
#include "session.h"
#include "tokenizer.h"
#include "generate.h"

#endif

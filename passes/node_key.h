/* Structural identity of nodes: equal op, inputs, attributes, type and
 * constant data mean equal values (CSE). */
#ifndef KILN_PASSES_NODE_KEY_H
#define KILN_PASSES_NODE_KEY_H

#include <stdint.h>

#include "kiln/ir.h"

uint64_t node_key_hash(const kiln_node *n);
int node_key_equal(const kiln_node *a, const kiln_node *b);

#endif

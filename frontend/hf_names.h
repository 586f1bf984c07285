/* Weight-name resolution shared by the language and the loaders.
 * Checkpoints of one architecture differ by a leading module prefix
 * (GPT2LMHeadModel "transformer.h.0..." vs GPT2Model "h.0...", BertModel
 * "embeddings..." vs BertFor* "bert.embeddings..."). */
#ifndef KILN_FRONTEND_HF_NAMES_H
#define KILN_FRONTEND_HF_NAMES_H

#include "kiln/tensor.h"

/* The tensor called `name` in m; failing that, the one called `name`
 * without its first dotted component, or the only one called
 * "<component>.<name>". *found (optional) gets the name used. NULL when
 * none matches (or the added prefix would be ambiguous). */
const kiln_tensor *kiln_weights_find(const kiln_tensor_map *m, const char *name, const char **found);

#endif

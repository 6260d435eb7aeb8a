"""The cross-encoder re-ranker on a tiny ONNX model the tests build: its score is the count of one chosen token in
the (question, passage) pair, so which passage must come first is known without a trained model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import ARTICLE_ID, SettingsFactory, run_ragbot
from tokenizers import Tokenizer

from rag.errors import ConfigError
from rag.rerank import OnnxCrossEncoder
from rag.service import build_service
from rag.stores.lexical import lexical_text
from rag.types import Passage

QUERY = "What chips did DeepSeek use to train its model?"


def tiny_cross_encoder(
    folder: Path, tokenizer_json: Path, token: int, *, two_columns: bool = False, window: int | None = None
) -> Path:
    """A model folder: tokenizer.json (MiniLM's), model.onnx whose logit per pair is 5 x (count of `token`
    among the pair's unmasked tokens); with `two_columns` the logits are (n, 2): [-that, that]."""
    # Imported here: onnx loads ml_dtypes, ~1 s of CPU that every pytest worker would pay while collecting.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tokenizer_json, folder / "tokenizer.json")
    if window is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": window}))
    vocab = Tokenizer.from_file(str(tokenizer_json)).get_vocab_size()
    table = np.zeros((vocab, 1), dtype=np.float32)
    table[token] = 5.0
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["per_token"], axis=0),  # (n, length, 1)
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last"], ["mask3"]),
        helper.make_node("Mul", ["per_token", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "tokens"], ["relevance"], keepdims=0),  # (n, 1)
    ]
    if two_columns:
        nodes += [
            helper.make_node("Neg", ["relevance"], ["irrelevance"]),
            helper.make_node("Concat", ["irrelevance", "relevance"], ["logits"], axis=1),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["relevance"], ["logits"]))
    ints = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["n", "length"]) for n in ("input_ids", "attention_mask")
    ]
    if two_columns:  # declared but unused, as BERT exports declare it: it must be fed, by name
        ints.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["n", "length"]))
    graph = helper.make_graph(
        nodes,
        "tiny-cross-encoder",
        ints,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2 if two_columns else 1])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "last"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "tokens"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime the project allows
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    return folder


def _token(model_dir: Path, word: str) -> int:
    token = Tokenizer.from_file(str(model_dir / "tokenizer.json")).token_to_id(word)
    assert token is not None
    return token


def test_scores_read_the_relevance_column_and_the_window(tmp_path: Path, model_dir: Path) -> None:
    sanctions = _token(model_dir, "sanctions")
    filler = " ".join(["the export rules"] * 20)
    passages = ["Sanctions hit the chips. " + filler, filler + " and then sanctions.", filler]
    one = OnnxCrossEncoder(tiny_cross_encoder(tmp_path / "one", model_dir / "tokenizer.json", sanctions))
    assert one.score("which chips?", passages) == [5.0, 5.0, 0.0]
    two = OnnxCrossEncoder(
        tiny_cross_encoder(tmp_path / "two", model_dir / "tokenizer.json", sanctions, two_columns=True)
    )
    assert two.score("which chips?", passages) == [5.0, 5.0, 0.0]  # the second ("relevant") column, not the first
    assert two.score("sanctions?", passages[2:]) == [5.0]  # the question is read too: a pair, not the passage alone
    # A 24-token window: the long passage is cut before its final "sanctions"; the question is kept whole.
    short = tiny_cross_encoder(tmp_path / "short", model_dir / "tokenizer.json", sanctions, window=24)
    assert OnnxCrossEncoder(short).score("which chips?", passages) == [5.0, 0.0, 0.0]
    many = OnnxCrossEncoder(tmp_path / "one", batch_size=2)  # batches of two, padded to their longest pair
    assert many.score("which chips?", passages * 3) == [5.0, 5.0, 0.0] * 3


def _unique_token(passages: list[Passage], others: list[str], tokenizer: Tokenizer, query: str) -> tuple[int, Passage]:
    """A word-piece found in exactly one chunk of the index (and not in the question), from the lowest-ranked
    passage that has one: the tiny model will score that passage above every other candidate."""
    seen: dict[int, int] = {}
    for text in others:
        for token in set(tokenizer.encode(text).ids):
            seen[token] = seen.get(token, 0) + 1
    asked = set(tokenizer.encode(query).ids)
    for passage in reversed(passages[1:]):
        ids = set(tokenizer.encode(lexical_text(passage.chunk)).ids)
        unique = sorted(t for t in ids if seen.get(t) == 1 and t not in asked and t > 999)  # no specials
        if unique:
            return unique[0], passage
    raise AssertionError("no passage below rank 1 has a word-piece of its own")


async def test_reranker_puts_the_model_s_choice_first_and_off_changes_nothing(
    indexed_article: Path, make_settings: SettingsFactory, model_dir: Path, tmp_path: Path
) -> None:
    off = build_service(make_settings(corpus_dir=indexed_article))
    try:
        usual = (await off.search(QUERY, 6)).passages
        chunks = off.index.catalog.chunks_of(ARTICLE_ID)
    finally:
        await off.aclose()
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    token, chosen = _unique_token(list(usual[:5]), [lexical_text(c) for c in chunks], tokenizer, QUERY)
    folder = tiny_cross_encoder(tmp_path / "reranker", model_dir / "tokenizer.json", token)
    on = build_service(make_settings(corpus_dir=indexed_article, retrieval={"rerank_model_dir": folder}))
    try:
        reranked = (await on.search(QUERY, 5)).passages
    finally:
        await on.aclose()
    assert reranked[0].chunk.chunk_id == chosen.chunk.chunk_id != usual[0].chunk.chunk_id
    # The other passages keep their usual order behind it, and the ranks keep their scores (the same scale).
    rest = [p.chunk.chunk_id for p in usual if p.chunk.chunk_id != chosen.chunk.chunk_id][:4]
    assert [p.chunk.chunk_id for p in reranked[1:]] == rest
    assert [p.score for p in reranked] == [p.score for p in usual[:5]]


def test_broken_model_folders_are_one_line_errors(tmp_path: Path, model_dir: Path) -> None:
    missing = tmp_path / "half"
    missing.mkdir()
    shutil.copy(model_dir / "tokenizer.json", missing / "tokenizer.json")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    shutil.copy(model_dir / "tokenizer.json", corrupt / "tokenizer.json")
    (corrupt / "model.onnx").write_bytes(b"not a model")
    expected = {
        tmp_path / "nowhere": "is not a folder",
        missing: "lacks model.onnx",
        corrupt: "cannot load the model in",
        model_dir: "not the (n, 1) or (n, 2) logits of a cross-encoder",  # the embedding model: a model, not this kind
    }
    for folder, words in expected.items():
        with pytest.raises(ConfigError) as caught:
            OnnxCrossEncoder(folder)
        message = str(caught.value)
        assert message.startswith("RAGBOT_RETRIEVAL__RERANK_MODEL_DIR: ") and words in message
        assert "\n" not in message


def test_cli_search_doctor_and_start_up_errors(indexed_article: Path, model_dir: Path, tmp_path: Path) -> None:
    env = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(indexed_article),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }
    usual = json.loads(run_ragbot(["search", QUERY, "--json"], env, tmp_path).stdout)
    # "export" is in some of the article's passages, not in the question: with the setting on they come first.
    folder = tiny_cross_encoder(tmp_path / "reranker", model_dir / "tokenizer.json", _token(model_dir, "export"))
    on_env = env | {"RAGBOT_RETRIEVAL__RERANK_MODEL_DIR": str(folder), "RAGBOT_RETRIEVAL__RERANK_TOP": "20"}
    result = run_ragbot(["search", QUERY, "--json"], on_env, tmp_path)
    assert result.returncode == 0, result.stderr
    reranked = json.loads(result.stdout)
    has = ["export" in r["text"].lower() for r in reranked]
    assert has[0] and has == sorted(has, reverse=True)  # every passage saying "export" before every other
    assert [r["text"] for r in usual] != [r["text"] for r in reranked]
    doctor = run_ragbot(["doctor"], on_env, tmp_path)
    assert "OK   re-ranker: onnx:reranker, re-orders the best 20 candidates" in doctor.stdout, doctor.stdout
    broken = env | {"RAGBOT_RETRIEVAL__RERANK_MODEL_DIR": str(tmp_path)}
    failed = run_ragbot(["search", QUERY], broken, tmp_path)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.strip().splitlines() == [
        f"error: RAGBOT_RETRIEVAL__RERANK_MODEL_DIR: {tmp_path} lacks model.onnx, tokenizer.json (an ONNX "
        "cross-encoder folder)"
    ]
    doctor = run_ragbot(["doctor"], broken, tmp_path)
    assert doctor.returncode == 1 and "FAIL re-ranker: RAGBOT_RETRIEVAL__RERANK_MODEL_DIR: " in doctor.stdout

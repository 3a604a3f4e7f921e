"""Evaluation metrics against numbers worked out by hand on a small fixed example."""

import numpy as np
import pytest

from training.evaluate.metrics import classification_metrics, top_k_accuracy

CLASSES = ["a", "b", "c"]
LABELS = np.array([0, 0, 1, 1, 2, 2, 2])
PROBS = np.array(
    [
        [0.70, 0.20, 0.10],  # a -> a
        [0.30, 0.60, 0.10],  # a -> b (a second)
        [0.15, 0.80, 0.05],  # b -> b
        [0.50, 0.20, 0.30],  # b -> a (b third)
        [0.10, 0.20, 0.70],  # c -> c
        [0.20, 0.50, 0.30],  # c -> b (c second)
        [0.10, 0.60, 0.30],  # c -> b (c second)
    ]
)


def test_metrics_match_hand_computed_values():
    m = classification_metrics(PROBS, LABELS, CLASSES, top_k=(2,))

    assert m["num_samples"] == 7
    assert m["accuracy"] == pytest.approx(3 / 7)
    assert m["top_k"] == {"top2": pytest.approx(6 / 7)}
    assert m["confusion_matrix"] == [[1, 1, 0], [1, 1, 0], [0, 2, 1]]
    # precision = diagonal / column sum, recall = diagonal / row sum
    expected = {"a": (1 / 2, 1 / 2, 1 / 2, 2), "b": (1 / 4, 1 / 2, 1 / 3, 2), "c": (1.0, 1 / 3, 1 / 2, 3)}
    for name, (precision, recall, f1, support) in expected.items():
        row = m["per_class"][name]
        assert row["precision"] == pytest.approx(precision)
        assert row["recall"] == pytest.approx(recall)
        assert row["f1"] == pytest.approx(f1)
        assert row["support"] == support
    assert m["macro_precision"] == pytest.approx((1 / 2 + 1 / 4 + 1) / 3)
    assert m["macro_recall"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 3) / 3)
    assert m["macro_f1"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)
    assert m["worst_confused"] == [
        {"true": "c", "predicted": "b", "count": 2, "rate": pytest.approx(2 / 3)},
        {"true": "a", "predicted": "b", "count": 1, "rate": pytest.approx(1 / 2)},
        {"true": "b", "predicted": "a", "count": 1, "rate": pytest.approx(1 / 2)},
    ]


def test_top_k_counts_the_true_class_among_the_k_best():
    assert top_k_accuracy(PROBS, LABELS, 1) == pytest.approx(3 / 7)
    assert top_k_accuracy(PROBS, LABELS, 3) == 1.0


def test_macro_averages_skip_classes_absent_from_the_split():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    m = classification_metrics(probs, np.array([0, 1]), CLASSES)

    assert m["per_class"]["c"]["support"] == 0
    assert m["macro_f1"] == 1.0
    assert m["worst_confused"] == []

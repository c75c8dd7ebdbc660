"""Metrics of the risk model's back-test: late or not (AUC, accuracy, Brier
score, calibration) and payment date (mean absolute error)."""

import math

from .risk_stats import clip


def auc(probabilities, labels):
    """Area under the ROC curve (Mann-Whitney, ties count half); None if undefined."""
    pairs = sorted(zip(probabilities, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2.0  # ranks are 1-based
        rank_sum += average_rank * sum(label for _p, label in pairs[i:j])
        i = j
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def accuracy(probabilities, labels, threshold=0.5):
    hits = sum(
        (p >= threshold) == bool(y) for p, y in zip(probabilities, labels, strict=True)
    )
    return hits / len(labels) if labels else None


def brier(probabilities, labels):
    if not labels:
        return None
    return sum((p - y) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(
        labels
    )


def log_loss(probabilities, labels):
    eps = 1e-6
    return -sum(
        math.log(clip(p, eps, 1 - eps)) if y else math.log(clip(1 - p, eps, 1 - eps))
        for p, y in zip(probabilities, labels, strict=True)
    ) / max(len(labels), 1)


def reliability(probabilities, labels, bins=10):
    """Per equal-width bin of predicted probability: [low, high, invoices, mean
    predicted, observed late share] (bins without invoices left out)."""
    counts = [[0, 0.0, 0] for _ in range(bins)]
    for p, y in zip(probabilities, labels, strict=True):
        cell = counts[min(int(p * bins), bins - 1)]
        cell[0] += 1
        cell[1] += p
        cell[2] += y
    return [
        [i / bins, (i + 1) / bins, n, total / n, late / n]
        for i, (n, total, late) in enumerate(counts)
        if n
    ]


def ece(probabilities, labels, bins=10):
    """Expected calibration error: the invoice-weighted gap between predicted and
    observed late share over equal-width bins."""
    if not labels:
        return None
    return sum(
        n * abs(mean - observed)
        for _lo, _hi, n, mean, observed in reliability(probabilities, labels, bins)
    ) / len(labels)


def classifier_figures(probabilities, labels):
    return {
        "auc": auc(probabilities, labels),
        "accuracy": accuracy(probabilities, labels),
        "brier": brier(probabilities, labels),
        "ece": ece(probabilities, labels),
    }


def date_figures(predicted, actual):
    """Mean absolute error in days, share within 3 and within 7 days."""
    errors = [abs((p - a).days) for p, a in zip(predicted, actual, strict=True)]
    n = len(errors)
    if not n:
        return {}
    return {
        "mae": sum(errors) / n,
        "within3": sum(e <= 3 for e in errors) / n,
        "within7": sum(e <= 7 for e in errors) / n,
    }

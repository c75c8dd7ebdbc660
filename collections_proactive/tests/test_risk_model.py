import random

from odoo.tests import BaseCase, tagged

from ..tools import risk_model as rm


@tagged("post_install", "-at_install")
class TestRiskModelMath(BaseCase):
    """The pure-Python pieces: metrics and the logistic fit."""

    def test_auc(self):
        self.assertEqual(rm.auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1.0)
        self.assertEqual(rm.auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0.0)
        self.assertEqual(rm.auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5)
        self.assertAlmostEqual(rm.auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75)
        self.assertIsNone(rm.auc([0.1, 0.2], [1, 1]))

    def test_accuracy_and_brier(self):
        self.assertEqual(rm.accuracy([0.2, 0.7, 0.6], [0, 1, 0]), 2 / 3)
        self.assertAlmostEqual(rm.brier([0.0, 1.0, 0.5], [0, 1, 1]), 0.25 / 3)

    def test_logistic_fit_recovers_signal_and_calibration(self):
        rng = random.Random(3)
        rows, labels = [], []
        for _ in range(2000):
            x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
            p = rm.sigmoid(-0.5 + 2.0 * x1)
            rows.append([x1, x2])
            labels.append(1 if rng.random() < p else 0)
        model = rm.LogisticModel.fit(rows, labels)
        self.assertAlmostEqual(model.coef[0] / model.scales[0], 2.0, delta=0.3)
        self.assertAlmostEqual(model.coef[1], 0.0, delta=0.15)
        probabilities = [model.predict(row) for row in rows]
        self.assertGreater(rm.auc(probabilities, labels), 0.8)
        # Calibrated: the mean prediction matches the observed rate.
        self.assertAlmostEqual(
            sum(probabilities) / len(rows), sum(labels) / len(rows), 2
        )
        clone = rm.LogisticModel.from_dict(model.to_dict())
        self.assertEqual(clone.predict(rows[0]), model.predict(rows[0]))

    def test_constant_feature_does_not_break_fit(self):
        rows = [[i % 7 / 7, 0.0] for i in range(100)]
        labels = [int(i % 7 > 3) for i in range(100)]
        model = rm.LogisticModel.fit(rows, labels)
        self.assertEqual(model.coef[1], 0.0)
        self.assertGreater(model.predict([6 / 7, 0.0]), model.predict([0.0, 0.0]))

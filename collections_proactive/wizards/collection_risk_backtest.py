from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..tools.risk_model import MIN_AUC


class CollectionRiskBacktest(models.TransientModel):
    """The risk model of the current company: its back-test, a refit on demand."""

    _name = "collection.risk.backtest"
    _description = "Collections Risk Model Back-test"

    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
    )
    state = fields.Selection(related="company_id.collection_risk_model_state")
    fitted_on = fields.Date(related="company_id.collection_risk_model_date")
    samples = fields.Integer(related="company_id.collection_risk_model_samples")
    auc = fields.Float(related="company_id.collection_risk_model_auc")
    accuracy = fields.Float(related="company_id.collection_risk_model_accuracy")
    brier = fields.Float(related="company_id.collection_risk_model_brier")
    min_auc = fields.Float(default=MIN_AUC, readonly=True)
    full_requested = fields.Boolean(related="company_id.collection_risk_full_requested")

    def action_run_backtest(self):
        """Back-test and refit now, then rescore every customer of the company."""
        self.ensure_one()
        if self.company_id not in self.env.companies:
            raise AccessError(
                self.env._("You can only refit the risk model of your own companies.")
            )
        scoring = self.env["collection.risk.scoring"].sudo()
        scoring._risk_fit(self.company_id, scoring._risk_today(), force=True)
        self.company_id.sudo().collection_risk_full_requested = True
        self.env.ref("collections_proactive.ir_cron_compute_risk").sudo()._trigger()
        return self._reopen()

    @api.model
    def action_open(self):
        return self.create({})._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Risk Model"),
        }

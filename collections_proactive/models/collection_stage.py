from odoo import api, fields, models
from odoo.exceptions import ValidationError

# What the case sync and the engine use a stage for; a stage without a role is
# only reached by hand or by a strategy step.
STAGE_ROLES = [
    ("upcoming", "New case, nothing overdue yet"),
    ("overdue", "New case, or one that falls overdue"),
    ("promise", "Promise to pay logged"),
    ("plan", "Payment plan active"),
    ("escalated", "Escalation: schedules an activity for a manager"),
    ("resolved", "Resolved: the case closes"),
]


class CollectionStage(models.Model):
    """A column of the follow-up board. Shared by every company unless a company is
    set; a company-specific stage takes the place of the shared one of the same
    role."""

    _name = "collection.stage"
    _description = "Collection Stage"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    fold = fields.Boolean(
        string="Folded in Board", help="The column starts folded on the board."
    )
    is_closed = fields.Boolean(
        string="Closes the Case",
        help="A case moved here is closed; it can only be moved here once nothing "
        "is overdue any more.",
    )
    role = fields.Selection(
        STAGE_ROLES,
        help="How the engine uses this stage. New cases go to the first stage of "
        "role Upcoming or Overdue; Escalation schedules an activity for the "
        "collections manager; Resolved closes the case: the engine moves it there when "
        "nothing is owed, or, from the stages up to Overdue, when nothing is overdue "
        "and the customer needs no attention before the due date.",
    )
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Leave empty to share the stage between companies.",
    )
    description = fields.Text(translate=True)

    @api.constrains("role", "is_closed")
    def _check_role(self):
        for stage in self:
            if stage.role == "resolved" and not stage.is_closed:
                raise ValidationError(
                    self.env._(
                        "Stage %(stage)s resolves cases: it must close them.",
                        stage=stage.display_name,
                    )
                )
            if stage.is_closed and stage.role not in (False, "resolved"):
                raise ValidationError(
                    self.env._(
                        "Stage %(stage)s closes cases: it cannot also be where open "
                        "cases go.",
                        stage=stage.display_name,
                    )
                )

    @api.model
    def _for_role(self, role, company):
        """The stage of ``role`` for ``company``: its own first, else a shared one."""
        stages = self.sudo().search(
            [("role", "=", role), ("company_id", "in", (company.id, False))]
        )
        own = stages.filtered("company_id")
        return (own or stages)[:1]

    @api.model
    def _engine_stages(self, company):
        """The stages of ``company`` where the engine places cases: up to its
        Overdue stage in the board's order (Upcoming, Reminded and Overdue as
        shipped). Further on, a case is where a person, a promise or a plan put
        it, and it stays open while anything is owed."""
        last = self._for_role("overdue", company) or self._for_role("upcoming", company)
        if not last:
            return self.browse()
        stages = self.sudo().search(
            [
                ("company_id", "in", (company.id, False)),
                ("is_closed", "=", False),
                ("sequence", "<=", last.sequence),
            ]
        )
        return stages.filtered(
            lambda stage: stage.role not in ("promise", "plan", "escalated")
        )

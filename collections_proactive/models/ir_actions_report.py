from odoo import models

STATEMENT = "collections_proactive.report_customer_statement"


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _run_wkhtmltopdf(self, bodies, report_ref=False, **kwargs):
        # The customer statement runs no script but the layout's header and
        # footer one, called on load: it need not wait for scripts after the
        # load (``report.print_delay``, 1 s by default), half of the 2 s a
        # statement of thousands of lines may take. Other reports keep it.
        report = self
        if report_ref and self._get_report(report_ref).report_name == STATEMENT:
            report = self.with_context(collections_no_print_delay=True)
        return super(IrActionsReport, report)._run_wkhtmltopdf(
            bodies, report_ref=report_ref, **kwargs
        )

    def _get_layout(self):
        # A statement of thousands of rows is laid out with a lean style bundle:
        # wkhtmltopdf matches each cell against every rule of the report bundle.
        if len(self) == 1 and self.report_name == STATEMENT:
            layout = self.env.ref(f"{STATEMENT}_layout", raise_if_not_found=False)
            if layout:
                return layout
        return super()._get_layout()

    def _build_wkhtmltopdf_args(self, *args, **kwargs):
        command = super()._build_wkhtmltopdf_args(*args, **kwargs)
        if self.env.context.get("collections_no_print_delay"):
            command[command.index("--javascript-delay") + 1] = "0"
        return command
